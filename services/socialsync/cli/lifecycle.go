package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
)

// The location lifecycle (docs/lifecycle.md): `socialsync locations
// pause|resume`, and `socialsync audit`.

// locationsPause pauses (pause) or resumes a location and records it in
// the audit log as the operator's.
func locationsPause(ctx context.Context, env *Env, args []string, pause bool) error {
	name, summary := "locations resume", "Resume a paused location: every trigger kept while it was paused is processed."
	if pause {
		name, summary = "locations pause", "Pause a location: nothing calls HighLevel for it and its statistics schedule stops; its triggers are kept\n"+
			"(not dead-lettered) within its quota for up to SOCIALSYNC_PAUSE_MAX, then refused."
	}
	fs := newFlags(env, name, summary)
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location id (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := locationArg(*loc); err != nil {
		return err
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	dir, err := creds.OpenDirectory(ctx, c.js, creds.WithClock(env.Now))
	if err != nil {
		return err
	}
	var changed bool
	action := audit.ActionResume
	if pause {
		action = audit.ActionPause
		changed, err = dir.Pause(ctx, *loc, audit.ByOperator)
	} else {
		changed, err = dir.Resume(ctx, *loc)
	}
	if err != nil {
		return err
	}
	if changed {
		recordAudit(ctx, env, c, audit.Entry{Action: action, Location: *loc})
	}
	l, err := dir.Location(ctx, *loc)
	if err != nil {
		return err
	}
	held, err := topology.HeldTriggers(ctx, c.js, *loc)
	if err != nil {
		return err
	}
	switch h, ok := l.Held(); {
	case ok && h.Reason == creds.HoldNeedsReauth:
		fmt.Fprintf(env.Stdout, "location %s resumed, but it needs re-authorisation: its %d triggers wait until it is connected again (socialsync connect)\n", *loc, held)
	case ok:
		fmt.Fprintf(env.Stdout, "location %s paused since %s: %d triggers kept\n", *loc, h.Since.UTC().Format(time.RFC3339), held)
	default:
		fmt.Fprintf(env.Stdout, "location %s running: %d triggers to process\n", *loc, held)
	}
	return nil
}

// stateOf is l's state for `locations list`: "paused" while an operator
// has paused it, its connection state otherwise.
func stateOf(l creds.Location) string {
	if l.Paused != nil {
		return "paused"
	}
	return string(l.State)
}

// auditCmd lists the audit log, newest first.
func auditCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "audit", "List the audit log, newest first: who connected, paused, resumed or removed a location, replayed dead letters\n"+
		"or used an admin API key, and when (kept 180 days).")
	url := natsFlag(fs)
	loc := fs.String("location", "", "only this location's entries")
	limit := fs.Int("limit", 50, "entries to list (1 to 500)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *loc != "" && !ids.ValidHighLevel(*loc) {
		return fmt.Errorf("%w: --location: want a HighLevel location id (letters and digits), got %q", errUsage, *loc)
	}
	if *limit < 1 || *limit > 500 {
		return fmt.Errorf("%w: --limit: want 1 to 500, got %d", errUsage, *limit)
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	entries, _, err := audit.New(c.js, env.Now).List(ctx, audit.Filter{Location: *loc, Limit: *limit})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "WHEN\tWHO\tWHAT\tLOCATION\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.Who, e.Action, dash(e.Location), dash(e.Detail))
	}
	return w.Flush()
}

// recordAudit records e in the audit log as the operator's; a failure is
// said on stderr, since what it records is done.
func recordAudit(ctx context.Context, env *Env, c *conn, e audit.Entry) {
	e.Who = audit.ByOperator
	if err := audit.New(c.js, env.Now).Record(ctx, e); err != nil {
		fmt.Fprintf(env.Stderr, "warning: %v\n", err)
	}
}

// locationArg checks the value of a --location flag.
func locationArg(loc string) error {
	if !ids.ValidHighLevel(loc) {
		return fmt.Errorf("%w: --location: want a HighLevel location id (letters and digits), got %q", errUsage, loc)
	}
	return nil
}

// openRefreshingStore opens the credential store as openStore does, able
// to refresh OAuth tokens when the app's credentials are configured, and
// returns the HighLevel configuration it read.
func openRefreshingStore(ctx context.Context, url string) (oauthConfig, *conn, *creds.Store, error) {
	cfg, err := readOAuthConfig(false)
	if err != nil {
		return cfg, nil, nil, err
	}
	c, store, err := cfg.openStore(ctx, url)
	return cfg, c, store, err
}
