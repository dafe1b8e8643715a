package cli

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
)

// oauthConfig is what the OAuth commands read from the environment.
type oauthConfig struct {
	ClientID     string `envconfig:"GHL_CLIENT_ID" desc:"client id of your HighLevel Marketplace app"`
	ClientSecret string `envconfig:"GHL_CLIENT_SECRET" desc:"client secret of your HighLevel Marketplace app (never printed or stored)"`
	BaseURL      string `envconfig:"GHL_BASE_URL" default:"https://services.leadconnectorhq.com" desc:"HighLevel API base URL, where the token endpoint is (the simulator's for tests)"`
	AuthURL      string `envconfig:"GHL_AUTH_URL" default:"https://marketplace.gohighlevel.com/oauth/chooselocation" desc:"HighLevel's authorization page (with the simulator: <its URL>/oauth/chooselocation)"`
}

// readOAuthConfig reads the environment; needApp requires the app's
// credentials.
func readOAuthConfig(needApp bool) (oauthConfig, error) {
	var cfg oauthConfig
	if err := envconfig.Process("socialsync", &cfg); err != nil {
		return cfg, fmt.Errorf("%w: %v", errUsage, err)
	}
	if needApp && (cfg.ClientID == "" || cfg.ClientSecret == "") {
		return cfg, fmt.Errorf("%w: SOCIALSYNC_GHL_CLIENT_ID and SOCIALSYNC_GHL_CLIENT_SECRET must name your HighLevel Marketplace app", errUsage)
	}
	return cfg, nil
}

func (c oauthConfig) app() ghl.AppCredentials {
	return ghl.AppCredentials{ClientID: c.ClientID, ClientSecret: c.ClientSecret}
}

// client returns a HighLevel client with no token, for the token endpoint.
func (c oauthConfig) client(opts ghl.Options) (*ghl.Client, error) {
	opts.BaseURL = c.BaseURL
	gc, err := ghl.New(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: SOCIALSYNC_GHL_BASE_URL: %v", errUsage, err)
	}
	return gc, nil
}

// refresher returns the store option that lets it refresh OAuth tokens,
// when the app's credentials are configured.
func (c oauthConfig) refresher() ([]creds.Option, error) {
	if c.ClientID == "" || c.ClientSecret == "" {
		return nil, nil
	}
	gc, err := c.client(ghl.Options{})
	if err != nil {
		return nil, err
	}
	return []creds.Option{creds.WithRefresher(creds.NewRefresher(gc, c.app()))}, nil
}

// connectScopes returns the scopes connect asks for by default: those of
// every endpoint socialsync calls for a location (ghl's endpoint → scope
// table), and for an agency install also those that hand out location
// tokens.
func connectScopes(userType string) []string {
	if userType == ghl.UserTypeCompany {
		return append(ghl.LocationScopes(), ghl.AgencyScopes()...)
	}
	return ghl.LocationScopes()
}

func connectCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "connect", "Connect HighLevel locations with OAuth: print the authorization URL (and open a browser), receive HighLevel's\n"+
		"redirect on a local callback, exchange the code and store the tokens, sealed. With --user-type Company, connect\n"+
		"every location of the agency where the app is installed. HighLevel redirects only to the redirect URIs registered\n"+
		"with the app: register http://<--listen>/callback, with a fixed port.\n\n"+
		"Environment:\n"+usageOf(&oauthConfig{}))
	url := natsFlag(fs)
	loc := fs.String("location", "", "location (sub-account) to connect; HighLevel lets the user choose when empty")
	userType := fs.String("user-type", ghl.UserTypeLocation, "Location (one location) or Company (every location of the agency where the app is installed)")
	listen := fs.String("listen", "127.0.0.1:0", "loopback address of the callback server")
	scopes := fs.String("scopes", "", "scopes to ask for, comma- or space-separated (default: the ones socialsync uses)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the authorization")
	browser := fs.Bool("browser", true, "try to open the authorization URL in a browser")
	name := fs.String("name", "", "display name of the location (Location only)")
	tz := fs.String("timezone", "", "IANA time zone of the location, for daily statistics (Location only)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *userType != ghl.UserTypeLocation && *userType != ghl.UserTypeCompany:
		return fmt.Errorf("%w: --user-type: want Location or Company, got %q", errUsage, *userType)
	case *loc != "" && !ids.ValidHighLevel(*loc):
		return fmt.Errorf("%w: --location: want a HighLevel location id (letters and digits), got %q", errUsage, *loc)
	case *tz != "" && validTimezone(*tz) != nil:
		return fmt.Errorf("%w: --timezone: %v", errUsage, validTimezone(*tz))
	}
	want := strings.Fields(strings.ReplaceAll(*scopes, ",", " "))
	if len(want) == 0 {
		want = connectScopes(*userType)
	}
	cfg, err := readOAuthConfig(true)
	if err != nil {
		return err
	}
	gc, err := cfg.client(ghl.Options{})
	if err != nil {
		return err
	}
	c, store, err := openStore(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()

	cb, err := creds.ListenCallback(*listen)
	if err != nil {
		return fmt.Errorf("%w: --listen: %v", errUsage, err)
	}
	defer func() { _ = cb.Close() }()
	var extra []oauth2.AuthCodeOption
	if *loc != "" {
		extra = append(extra, oauth2.SetAuthURLParam("location_id", *loc))
	}
	authURL, err := cb.AuthURL(gc.OAuthConfig(cfg.app(), cfg.AuthURL, cb.RedirectURI(), want), extra...)
	if err != nil {
		return fmt.Errorf("%w: SOCIALSYNC_GHL_AUTH_URL: %v", errUsage, err)
	}
	fmt.Fprintf(env.Stdout, "Open this URL in a browser to authorize socialsync:\n\n  %s\n\nWaiting up to %s for HighLevel to redirect to %s ...\n", authURL, *timeout, cb.RedirectURI())
	if *browser {
		openBrowser(authURL)
	}
	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	code, err := cb.Wait(wctx)
	if err != nil {
		return err
	}
	issued := time.Now()
	gt, err := gc.ExchangeCode(ctx, cfg.app(), code, cb.RedirectURI(), *userType)
	if err != nil {
		return fmt.Errorf("exchange the authorization code: %w", err)
	}
	tok := creds.TokenFromGHL(gt, cfg.ClientID, issued)
	if *userType == ghl.UserTypeCompany {
		return connectAgency(ctx, env, store, gc, tok)
	}
	id := gt.LocationID
	switch {
	case !ids.ValidHighLevel(id):
		return fmt.Errorf("HighLevel answered with no usable location id (%q): was the app installed on a location?", id)
	case *loc != "" && id != *loc:
		return fmt.Errorf("the authorization was for location %s, not %s: run connect again and choose %s", id, *loc, *loc)
	}
	if tok.UserType == "" {
		tok.UserType = ghl.UserTypeLocation
	}
	if err := store.AddOAuth(ctx, creds.Location{ID: id, Name: *name, Timezone: *tz}, tok); err != nil {
		return err
	}
	recordAudit(ctx, env, c, audit.Entry{Action: audit.ActionConnect, Location: id, Detail: "oauth"})
	fmt.Fprintf(env.Stdout, "location %s connected (OAuth, sealed; access token valid until %s, refreshed automatically)\nscopes: %s\n",
		id, tok.ExpiresAt.Format("2006-01-02 15:04Z"), dash(tok.Scope))
	return nil
}

// connectAgency connects every installed location with the agency token.
func connectAgency(ctx context.Context, env *Env, store *creds.Store, gc *ghl.Client, agency creds.Token) error {
	locs, err := store.ConnectAgency(ctx, gc, agency)
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "agency %s: %d locations connected (OAuth, sealed)\n", agency.CompanyID, len(locs))
	if len(locs) > 0 {
		fmt.Fprintln(w, "LOCATION\tNAME\tSTATE")
	}
	for _, l := range locs {
		fmt.Fprintf(w, "%s\t%s\t%s\n", l.ID, dash(l.Name), l.State)
	}
	_ = w.Flush()
	if err != nil {
		return fmt.Errorf("some locations were not connected: %w", err)
	}
	if len(locs) == 0 {
		return errors.New("the app is installed on no location of the agency")
	}
	return nil
}

// openBrowser tries to show url in a browser, in the background; failure
// is fine: the URL is printed.
func openBrowser(url string) {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return
	}
	cmd := exec.Command(path, url)
	if cmd.Start() == nil {
		go func() { _ = cmd.Wait() }()
	}
}
