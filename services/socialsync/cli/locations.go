package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
)

func locationsCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: add or list", errUsage)
	}
	switch args[0] {
	case "add":
		return locationsAdd(ctx, env, args[1:])
	case "list":
		return locationsList(ctx, env, args[1:])
	default:
		return fmt.Errorf("%w: unknown subcommand %q: want add or list", errUsage, args[0])
	}
}

func locationsAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "locations add", "Register a HighLevel location and its Private Integration Token. The token is sealed with SOCIALSYNC_TOKEN_KEY before it is stored.")
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location (sub-account) id (required)")
	pit := fs.String("pit", "", "Private Integration Token of the location (required)")
	name := fs.String("name", "", "display name")
	tz := fs.String("timezone", "", "IANA time zone of the location, for daily statistics (default UTC)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case !bus.ValidLocationID(*loc):
		return fmt.Errorf("%w: --location: want a HighLevel location id (letters and digits), got %q", errUsage, *loc)
	case *pit == "":
		return fmt.Errorf("%w: --pit is required", errUsage)
	}
	if *tz != "" {
		if err := validTimezone(*tz); err != nil {
			return fmt.Errorf("%w: --timezone: %v", errUsage, err)
		}
	}
	keys, err := keyring()
	if err != nil {
		return err
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	store, err := creds.Open(ctx, c.js, keys)
	if err != nil {
		return err
	}
	if err := store.AddPIT(ctx, creds.Location{ID: *loc, Name: *name, Timezone: *tz}, *pit); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "location %s registered (private integration token, sealed)\n", *loc)
	return nil
}

func locationsList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "locations list", "List the registered locations and their state. Tokens are never shown.")
	url := natsFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	keys, err := keyring()
	if err != nil {
		return err
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	store, err := creds.Open(ctx, c.js, keys)
	if err != nil {
		return err
	}
	locs, err := store.Locations(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "LOCATION\tNAME\tTIME ZONE\tAUTH\tSTATE\tTOKEN\tADDED")
	for _, l := range locs {
		tok := "ok"
		if t, err := store.Token(ctx, l.ID); err != nil {
			tok = "unreadable: " + err.Error()
		} else if !t.ExpiresAt.IsZero() {
			tok = "valid until " + t.ExpiresAt.UTC().Format("2006-01-02 15:04Z")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, dash(l.Name), dash(l.Timezone), l.Auth, l.State, tok, l.AddedAt.UTC().Format("2006-01-02 15:04Z"))
	}
	return w.Flush()
}

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
