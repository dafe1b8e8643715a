package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/doctor"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
)

func locationsCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: add, list, reseal, schedule, pause, resume, remove or sync-agency", errUsage)
	}
	switch args[0] {
	case "add":
		return locationsAdd(ctx, env, args[1:])
	case "list":
		return locationsList(ctx, env, args[1:])
	case "reseal":
		return locationsReseal(ctx, env, args[1:])
	case "schedule":
		return locationsSchedule(ctx, env, args[1:])
	case "pause":
		return locationsPause(ctx, env, args[1:], true)
	case "resume":
		return locationsPause(ctx, env, args[1:], false)
	case "remove":
		return locationsRemove(ctx, env, args[1:])
	case "sync-agency":
		return locationsSyncAgency(ctx, env, args[1:])
	default:
		return fmt.Errorf("%w: unknown subcommand %q: want add, list, reseal, schedule, pause, resume, remove or sync-agency", errUsage, args[0])
	}
}

func locationsAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "locations add", "Register a HighLevel location with its Private Integration Token, or with an OAuth refresh token obtained\n"+
		"elsewhere (exchanged at once for a fresh pair, which needs the app's credentials). Tokens are sealed with\n"+
		"SOCIALSYNC_TOKEN_KEY before they are stored. Give a token with --pit-file or --refresh-token-file (a path,\n"+
		"or - for standard input) rather than as a flag value, which the process list and the shell history show.\n\n"+
		"Environment for --refresh-token:\n"+usageOf(&oauthConfig{}))
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location (sub-account) id (required)")
	pitFlag := newSecretFlag(fs, "pit", "the location's Private Integration Token")
	refreshFlag := newSecretFlag(fs, "refresh-token", "the location's OAuth refresh token (instead of a PIT)")
	name := fs.String("name", "", "display name")
	tz := fs.String("timezone", "", "IANA time zone of the location, for daily statistics (default UTC)")
	company := fs.String("company", "", "HighLevel company (agency) id of the location, for webhook sources bound to the company\n(an OAuth token names its company itself)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case !ids.ValidHighLevel(*loc):
		return fmt.Errorf("%w: --location: want a HighLevel location id (letters and digits), got %q", errUsage, *loc)
	case !pitFlag.given() && !refreshFlag.given():
		return fmt.Errorf("%w: --pit-file (or --pit) or --refresh-token-file (or --refresh-token) is required", errUsage)
	case pitFlag.given() && refreshFlag.given():
		return fmt.Errorf("%w: give a private integration token or a refresh token, not both", errUsage)
	case *company != "" && !ids.ValidHighLevel(*company):
		return fmt.Errorf("%w: --company: want a HighLevel company id (letters and digits), got %q", errUsage, *company)
	}
	if *tz != "" {
		if err := validTimezone(*tz); err != nil {
			return fmt.Errorf("%w: --timezone: %v", errUsage, err)
		}
	}
	pit, err := pitFlag.read(env)
	if err != nil {
		return err
	}
	refresh, err := refreshFlag.read(env)
	if err != nil {
		return err
	}
	l := creds.Location{ID: *loc, Name: *name, Timezone: *tz, CompanyID: *company}
	if refresh != "" {
		return addRefreshToken(ctx, env, *url, l, refresh)
	}
	c, store, err := openStore(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	if err := store.AddPIT(ctx, l, pit); err != nil {
		return err
	}
	recordAudit(ctx, env, c, audit.Entry{Action: audit.ActionConnect, Location: *loc, Detail: "private integration token"})
	fmt.Fprintf(env.Stdout, "location %s registered (private integration token, sealed)\n", *loc)
	return nil
}

// addRefreshToken trades refresh for a fresh pair, which both checks it
// and leaves the pair socialsync alone holds, and stores the location.
func addRefreshToken(ctx context.Context, env *Env, url string, l creds.Location, refresh string) error {
	cfg, err := readOAuthConfig(true)
	if err != nil {
		return err
	}
	c, store, err := openStore(ctx, url)
	if err != nil {
		return err
	}
	defer c.close()
	gc, closeGov, err := cfg.governedClient(ctx, env, c, ghl.Options{})
	if err != nil {
		return err
	}
	defer closeGov()
	issued := time.Now()
	gt, err := gc.RefreshToken(ctx, cfg.app(), refresh, ghl.UserTypeLocation)
	if err != nil {
		return fmt.Errorf("exchange the refresh token: %w", err)
	}
	tok := creds.TokenFromGHL(gt, cfg.ClientID, issued)
	switch tok.UserType {
	case ghl.UserTypeCompany:
		// An agency's refresh token, now spent: put the new agency token
		// to use rather than lose it.
		fmt.Fprintf(env.Stdout, "the refresh token is an agency's: connecting every location of agency %s where the app is installed\n", tok.CompanyID)
		locs, err := store.ConnectAgency(ctx, gc, tok)
		return printAgency(env, creds.Connection{UserType: ghl.UserTypeCompany, CompanyID: tok.CompanyID, Locations: locs}, err)
	case "":
		tok.UserType = ghl.UserTypeLocation
	}
	want := l.ID
	if gt.LocationID != "" && gt.LocationID != want {
		// The refresh token is spent: keep the new pair under the location
		// it belongs to rather than lose it.
		if !ids.ValidHighLevel(gt.LocationID) {
			return fmt.Errorf("the refresh token belongs to location %q, not %s", gt.LocationID, want)
		}
		l = creds.Location{ID: gt.LocationID}
	}
	if err := store.AddOAuth(ctx, l, tok); err != nil {
		return err
	}
	if l.ID != want {
		return fmt.Errorf("the refresh token belongs to location %s, not %s: it was spent by the exchange, so location %s is registered with the new tokens", l.ID, want, l.ID)
	}
	fmt.Fprintf(env.Stdout, "location %s registered (OAuth, sealed; access token valid until %s, refreshed automatically)\n",
		l.ID, tok.ExpiresAt.Format("2006-01-02 15:04Z"))
	return nil
}

func locationsList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "locations list", "List the registered locations, their state and their token's, and which key seals the token\n"+
		"(KEY: current, or old/unknown with the key's id, which reveals nothing of the key). Tokens are never shown.")
	url := natsFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	c, store, err := openStore(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	locs, err := store.Locations(ctx)
	if err != nil {
		return err
	}
	// WAITING: the location's triggers not yet finished by every worker;
	// a paused location, or one that needs re-auth, keeps its work here,
	// not in dead letters.
	waiting, err := topology.WaitingTriggers(ctx, c.js)
	if err != nil {
		return err
	}
	now := time.Now()
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "LOCATION\tNAME\tTIME ZONE\tAUTH\tSTATE\tTOKEN\tKEY\tWAITING\tADDED\tFEATURES OFF")
	for _, l := range locs {
		tok := tokenState(ctx, store, l, now)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", l.ID, nameOf(l), timezoneOf(l), l.Auth, stateOf(l), tok, keyState(ctx, store, l.ID),
			waiting[l.ID], l.AddedAt.UTC().Format("2006-01-02 15:04Z"), dash(featuresOff(l)))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	warning, err := oldKeyWarning(ctx, store)
	if err != nil {
		return err
	}
	if warning != "" {
		fmt.Fprintln(env.Stdout, "\n"+warning)
	}
	return nil
}

// nameOf is l's name and where it came from: "Bluebird Bakery
// (highlevel)", "- (default)".
func nameOf(l creds.Location) string {
	return fmt.Sprintf("%s (%s)", dash(l.Name), l.NameSource())
}

// timezoneOf is l's time zone and where it came from:
// "America/New_York (highlevel)", "UTC (default)"; when HighLevel has not
// been asked yet, or refused, it says so.
var timezoneOf = doctor.Timezone

// featuresOff names the optional features turned off for l and the scope
// each lacks: "location_tags (no locations/tags.readonly)".
func featuresOff(l creds.Location) string {
	var out []string
	for _, d := range l.Disabled {
		out = append(out, fmt.Sprintf("%s (no %s)", d.Feature, d.Scope))
	}
	return strings.Join(out, ", ")
}

// tokenState describes a location's token for people.
var tokenState = doctor.TokenState

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func validTimezone(tz string) error {
	_, err := time.LoadLocation(tz)
	return err
}
