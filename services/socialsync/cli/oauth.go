package cli

import (
	"context"
	"fmt"
	neturl "net/url"
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
	"github.com/socialsync/socialsync/pkg/topology"
)

// oauthConfig is what the OAuth commands read from the environment.
type oauthConfig struct {
	ClientID     string `envconfig:"GHL_CLIENT_ID" desc:"client id of your HighLevel Marketplace app"`
	ClientSecret string `envconfig:"GHL_CLIENT_SECRET" desc:"client secret of your HighLevel Marketplace app (never printed or stored)"`
	BaseURL      string `envconfig:"GHL_BASE_URL" default:"https://services.leadconnectorhq.com" desc:"HighLevel API base URL, where the token endpoint is (the simulator's for tests)"`
	AuthURL      string `envconfig:"GHL_AUTH_URL" default:"https://marketplace.gohighlevel.com/oauth/chooselocation" desc:"HighLevel's authorization page (with the simulator: <its URL>/oauth/chooselocation)"`
	PublicURL    string `envconfig:"PUBLIC_URL" desc:"the gateway's public URL (connect --hosted: HighLevel redirects to <it>/oauth/callback)"`
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

// openStore is openStore (the package function) with the app's
// credentials as the store's refresher, when they are configured: for
// the commands that call HighLevel for a location.
func (c oauthConfig) openStore(ctx context.Context, url string) (*conn, *creds.Store, error) {
	opts, err := c.refresher()
	if err != nil {
		return nil, nil, err
	}
	return openStore(ctx, url, opts...)
}

func connectCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "connect", "Connect HighLevel locations with OAuth: print the authorization URL (and open a browser), exchange the code\n"+
		"HighLevel's redirect carries and store the tokens, sealed. With --hosted the redirect goes to the gateway at\n"+
		"SOCIALSYNC_PUBLIC_URL (register <it>/oauth/callback with the app), which hands the code to the worker holding the\n"+
		"keys; without it, to a callback this command serves on --listen (register http://<--listen>/callback, with a fixed\n"+
		"port). With --user-type Company, connect the agency: its token is kept, and every location of the agency where\n"+
		"the app is installed is connected, now and as it is installed.\n\n"+
		"Environment:\n"+usageOf(&oauthConfig{}))
	url := natsFlag(fs)
	loc := fs.String("location", "", "location (sub-account) to connect; HighLevel lets the user choose when empty")
	userType := fs.String("user-type", ghl.UserTypeLocation, "Location (one location) or Company (the agency, and every location where the app is installed)")
	hosted := fs.Bool("hosted", false, "print the authorization URL for the gateway's callback at SOCIALSYNC_PUBLIC_URL, valid once for 10 minutes, and return")
	listen := fs.String("listen", "127.0.0.1:0", "loopback address of the callback server (without --hosted)")
	scopes := fs.String("scopes", "", "scopes to ask for, comma- or space-separated (default: the ones socialsync uses)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the authorization (without --hosted)")
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
		want = ghl.ConnectScopes(*userType)
	}
	var extra []oauth2.AuthCodeOption
	if *loc != "" {
		extra = append(extra, oauth2.SetAuthURLParam("location_id", *loc))
	}
	req := creds.AuthRequest{UserType: *userType, Location: *loc, Name: *name, Timezone: *tz}
	if *hosted {
		return connectHosted(ctx, env, *url, req, want, *browser, extra)
	}
	cfg, err := readOAuthConfig(true)
	if err != nil {
		return err
	}
	c, store, err := openStore(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	gc, closeGov, err := cfg.governedClient(ctx, env, c, ghl.Options{})
	if err != nil {
		return err
	}
	defer closeGov()

	cb, err := creds.ListenCallback(*listen)
	if err != nil {
		return fmt.Errorf("%w: --listen: %v", errUsage, err)
	}
	defer func() { _ = cb.Close() }()
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
	conn, err := store.Connect(ctx, gc, cfg.app(), code, cb.RedirectURI(), req)
	for _, l := range conn.Locations {
		recordAudit(ctx, env, c, audit.Entry{Action: audit.ActionConnect, Location: l.ID, Detail: "oauth " + strings.ToLower(conn.UserType)})
	}
	if conn.UserType == ghl.UserTypeCompany {
		return printAgency(env, conn, err)
	}
	if err != nil {
		return err
	}
	l := conn.Locations[0]
	st, err := store.Status(ctx, l.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "location %s connected (OAuth, sealed; access token valid until %s, refreshed automatically)\nscopes: %s\n",
		l.ID, st.ExpiresAt.Format("2006-01-02 15:04Z"), dash(strings.Join(st.Scopes, " ")))
	return nil
}

// connectHosted issues req's state into the bucket the gateway's callback
// reads and prints the authorization URL whose redirect is that callback.
// It needs the app's client id, not its secret: the worker behind the
// gateway exchanges the code.
func connectHosted(ctx context.Context, env *Env, url string, req creds.AuthRequest, scopes []string, browser bool, extra []oauth2.AuthCodeOption) error {
	cfg, err := readOAuthConfig(false)
	if err != nil {
		return err
	}
	if cfg.ClientID == "" {
		return fmt.Errorf("%w: SOCIALSYNC_GHL_CLIENT_ID must name your HighLevel Marketplace app", errUsage)
	}
	redirect, err := hostedRedirect(cfg.PublicURL)
	if err != nil {
		return err
	}
	req.RedirectURI = redirect
	gc, err := cfg.client(ghl.Options{})
	if err != nil {
		return err
	}
	c, err := dial(ctx, url)
	if err != nil {
		return err
	}
	defer c.close()
	reqs, err := creds.OpenAuthRequests(ctx, c.js)
	if err != nil {
		return err
	}
	state, err := reqs.Issue(ctx, req)
	if err != nil {
		return err
	}
	oc := gc.OAuthConfig(cfg.app(), cfg.AuthURL, redirect, scopes)
	if u, err := neturl.Parse(oc.Endpoint.AuthURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: SOCIALSYNC_GHL_AUTH_URL: want an http(s) URL, got %q", errUsage, cfg.AuthURL)
	}
	authURL := oc.AuthCodeURL(state, extra...)
	fmt.Fprintf(env.Stdout, "Open this URL in a browser to authorize socialsync (it works once, within %s):\n\n  %s\n\n"+
		"HighLevel redirects to %s, where the gateway connects what you authorize and shows the outcome.\n",
		topology.OAuthStateTTL, authURL, redirect)
	if browser {
		openBrowser(authURL)
	}
	return nil
}

// hostedRedirect is the gateway's callback under SOCIALSYNC_PUBLIC_URL.
func hostedRedirect(public string) (string, error) {
	if public == "" {
		return "", fmt.Errorf("%w: SOCIALSYNC_PUBLIC_URL is not set: the gateway's public URL, whose /oauth/callback is registered with the app", errUsage)
	}
	u, err := neturl.Parse(public)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("%w: SOCIALSYNC_PUBLIC_URL: want the gateway's http(s) base URL, got %q", errUsage, public)
	}
	return strings.TrimRight(u.String(), "/") + "/oauth/callback", nil
}

// printAgency prints the locations an agency's connection connected.
func printAgency(env *Env, conn creds.Connection, err error) error {
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "agency %s: token kept (sealed, refreshed); %d locations connected (OAuth, sealed)\n", conn.CompanyID, len(conn.Locations))
	if len(conn.Locations) > 0 {
		fmt.Fprintln(w, "LOCATION\tNAME\tSTATE")
	}
	for _, l := range conn.Locations {
		fmt.Fprintf(w, "%s\t%s\t%s\n", l.ID, dash(l.Name), l.State)
	}
	_ = w.Flush()
	if err != nil {
		return fmt.Errorf("some locations were not connected: %w", err)
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
