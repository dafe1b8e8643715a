package ghl

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/oauth2"
)

// User types of POST /oauth/token's user_type.
const (
	UserTypeLocation = "Location"
	UserTypeCompany  = "Company"
)

// InstalledLocationsPage is the page size InstalledLocations asks for.
const InstalledLocationsPage = 100

// AppCredentials identify a Marketplace app. String and LogValue hide the
// secret.
type AppCredentials struct {
	ClientID     string
	ClientSecret string
}

// String returns the client id only.
func (a AppCredentials) String() string { return "AppCredentials{ClientID:" + a.ClientID + "}" }

// GoString is String, so %#v does not print the secret either.
func (a AppCredentials) GoString() string { return a.String() }

// LogValue logs the client id only.
func (a AppCredentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", a.ClientID))
}

// String describes t without its access and refresh tokens.
func (t Token) String() string {
	return fmt.Sprintf("Token{UserType:%s LocationID:%s CompanyID:%s ExpiresIn:%d Scope:%q}",
		t.UserType, t.LocationID, t.CompanyID, t.ExpiresIn, t.Scope)
}

// GoString is String.
func (t Token) GoString() string { return t.String() }

// LogValue logs t without its tokens.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user_type", t.UserType),
		slog.String("location", t.LocationID),
		slog.String("company", t.CompanyID),
		slog.Int("expires_in", t.ExpiresIn),
	)
}

// OAuth2 converts t to an *oauth2.Token expiring ExpiresIn seconds after
// issued (no expiry when ExpiresIn is 0).
func (t Token) OAuth2(issued time.Time) *oauth2.Token {
	ot := &oauth2.Token{AccessToken: t.AccessToken, TokenType: "Bearer", RefreshToken: t.RefreshToken}
	if t.ExpiresIn > 0 {
		ot.Expiry = issued.Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	return ot
}

// OAuthConfig returns the oauth2.Config of app's authorization-code flow:
// authURL is HighLevel's chooselocation page, the token endpoint c's POST
// /oauth/token, and redirectURI and scopes those of the authorization.
// The client credentials go in the form, as HighLevel documents, and are
// never auto-detected (AuthStyleAutoDetect): after a refusal, oauth2 would
// try the exchange again in the other style, and find its single-use code
// spent by the first try.
func (c *Client) OAuthConfig(app AppCredentials, authURL, redirectURI string, scopes []string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     app.ClientID,
		ClientSecret: app.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   authURL,
			TokenURL:  c.base + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: redirectURI,
		Scopes:      scopes,
	}
}

// ExchangeCode trades an authorization code for tokens (POST /oauth/token,
// grant_type authorization_code, form-encoded, no bearer, no Version
// header) with the Exchange of c.OAuthConfig, sent through c's own
// http.Client, spans and metrics. userType is UserTypeLocation or
// UserTypeCompany; redirectURI and userType are omitted when empty. A code
// is single-use, so the call is retried only on 429 or when no connection
// was made.
func (c *Client) ExchangeCode(ctx context.Context, app AppCredentials, code, redirectURI, userType string) (Token, error) {
	if code == "" {
		return Token{}, fmt.Errorf("%w: exchange code: empty code", ErrInvalidArgument)
	}
	cfg := c.OAuthConfig(app, "", redirectURI, nil)
	var opts []oauth2.AuthCodeOption
	if userType != "" {
		opts = append(opts, oauth2.SetAuthURLParam("user_type", userType))
	}
	return c.oauthToken(ctx, request{
		secrets: []string{app.ClientSecret, code},
		exchange: func(ctx context.Context) (*oauth2.Token, error) {
			return cfg.Exchange(ctx, code, opts...)
		},
	})
}

// RefreshToken trades a refresh token for new tokens (POST /oauth/token,
// grant_type refresh_token). HighLevel rotates refresh tokens: store the
// returned RefreshToken, the one sent is spent. Reusing a spent one fails
// with a KindAuth *Error whose Code is "invalid_grant". Like ExchangeCode
// it is retried only on 429 or when no connection was made.
//
// It is no oauth2.Config call: the only refresh oauth2 offers is a
// TokenSource's, which decides on its own when to refresh, while the
// refresh of a location's token must happen under pkg/creds' lease, once
// in the fleet; and it cannot send HighLevel's user_type.
func (c *Client) RefreshToken(ctx context.Context, app AppCredentials, refreshToken, userType string) (Token, error) {
	if refreshToken == "" {
		return Token{}, fmt.Errorf("%w: refresh token: empty refresh token", ErrInvalidArgument)
	}
	form := app.form("refresh_token", userType)
	form.Set("refresh_token", refreshToken)
	return c.oauthToken(ctx, request{form: form, secrets: []string{app.ClientSecret, refreshToken}})
}

func (a AppCredentials) form(grant, userType string) url.Values {
	form := url.Values{
		"client_id":     {a.ClientID},
		"client_secret": {a.ClientSecret},
		"grant_type":    {grant},
	}
	if userType != "" {
		form.Set("user_type", userType)
	}
	return form
}

// oauthToken calls POST /oauth/token with r's form or exchange: no bearer,
// retried only when HighLevel cannot have processed it.
func (c *Client) oauthToken(ctx context.Context, r request) (Token, error) {
	r.method, r.template, r.oauthToken, r.policy = http.MethodPost, "/oauth/token", true, retryUnprocessed
	var out Token
	if err := c.do(ctx, r, &out); err != nil {
		return Token{}, err
	}
	return out, nil
}

// LocationToken mints a location access token from the agency token of
// the client's TokenSource (POST /oauth/locationToken, form-encoded, scope
// oauth.write). The call counts against the company's rate limit.
func (c *Client) LocationToken(ctx context.Context, companyID, locationID string) (Token, error) {
	if companyID == "" || locationID == "" {
		return Token{}, fmt.Errorf("%w: location token: empty companyId or locationId", ErrInvalidArgument)
	}
	var out Token
	err := c.do(ctx, request{
		method:   http.MethodPost,
		template: "/oauth/locationToken",
		company:  companyID,
		form:     url.Values{"companyId": {companyID}, "locationId": {locationID}},
	}, &out)
	if err != nil {
		return Token{}, err
	}
	return out, nil
}

// InstalledLocations returns every location of the company where the app
// is installed (GET /oauth/installedLocations?isInstalled=true, agency
// token, scope oauth.readonly), paging with skip/limit until a page comes
// back short or count locations have been read.
func (c *Client) InstalledLocations(ctx context.Context, companyID, appID string) ([]InstalledLocation, error) {
	if companyID == "" || appID == "" {
		return nil, fmt.Errorf("%w: installed locations: empty companyId or appId", ErrInvalidArgument)
	}
	var all []InstalledLocation
	seen := make(map[string]bool)
	for skip := 0; ; skip += InstalledLocationsPage {
		var page InstalledLocationsResponse
		err := c.do(ctx, request{
			method:   http.MethodGet,
			template: "/oauth/installedLocations",
			company:  companyID,
			query: url.Values{
				"companyId":   {companyID},
				"appId":       {appID},
				"isInstalled": {"true"},
				"skip":        {strconv.Itoa(skip)},
				"limit":       {strconv.Itoa(InstalledLocationsPage)},
			},
		}, &page)
		if err != nil {
			return nil, fmt.Errorf("installed locations of %s from %d: %w", companyID, skip, err)
		}
		fresh := 0
		for _, l := range page.Locations {
			if seen[l.ID] {
				continue
			}
			seen[l.ID] = true
			all = append(all, l)
			fresh++
		}
		switch {
		case len(page.Locations) < InstalledLocationsPage, page.Count > 0 && len(all) >= page.Count:
			return all, nil
		case fresh == 0:
			return nil, fmt.Errorf("installed locations of %s: page at %d repeats earlier locations: %w", companyID, skip, ErrUnexpectedResponse)
		}
	}
}
