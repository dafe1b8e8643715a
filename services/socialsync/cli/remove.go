package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/creds"
)

// locationsRemove removes a location: it pauses it, with --purge removes
// the contact tags socialsync applied from HighLevel first, then deletes
// its tokens, settings and state, and with --purge-data its statistics
// history and reports too.
func locationsRemove(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "locations remove", "Remove a location: its tokens, schedule, settings and state. Its statistics history and reports are kept\n"+
		"unless --purge-data. With --purge, the contact tags, segment tags and socialsync_* custom values socialsync applied are\n"+
		"removed from HighLevel first "+
		"(through the location's rate budget, resumable: run the command again to go on).")
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location id (required)")
	purge := fs.Bool("purge", false, "first remove from HighLevel the contact tags, segment tags and socialsync_* custom values socialsync applied")
	purgeData := fs.Bool("purge-data", false, "delete the statistics history and stored reports too")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := locationArg(*loc); err != nil {
		return err
	}
	cfg, c, store, err := openRefreshingStore(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	_, err = store.Location(ctx, *loc)
	registered := err == nil
	switch {
	case errors.Is(err, creds.ErrUnknownLocation) && *purge:
		return fmt.Errorf("location %s is not registered: its tags cannot be purged without its token", *loc)
	case err != nil && !errors.Is(err, creds.ErrUnknownLocation):
		return err
	}
	if registered {
		// Nothing of the workers touches it while it is purged and removed.
		if changed, err := store.Pause(ctx, *loc, audit.ByOperator); err != nil {
			return err
		} else if changed {
			recordAudit(ctx, env, c, audit.Entry{Action: audit.ActionPause, Location: *loc, Detail: "before its removal"})
		}
	}
	r, closeGov, err := remover(ctx, env, c, store, cfg)
	if err != nil {
		return err
	}
	defer closeGov()
	if *purge {
		run, err := purgeTags(ctx, env, r, *loc)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "purge of %s done: %d contact tags removed from %d contacts (%d no longer in HighLevel), %d custom values deleted\n",
			*loc, run.Tags, run.Done-run.Gone, run.Gone, run.Values)
	}
	removed, err := r.RemoveState(ctx, *loc, *purgeData)
	if err != nil {
		return err
	}
	detail := "state deleted"
	if *purge {
		detail += ", tags purged from HighLevel"
	}
	if *purgeData {
		detail += ", statistics and reports deleted"
	}
	recordAudit(ctx, env, c, audit.Entry{Action: audit.ActionRemove, Location: *loc, Detail: detail})
	fmt.Fprintf(env.Stdout, "location %s removed: %d records deleted\n", *loc, removed)
	if !*purgeData {
		fmt.Fprintf(env.Stdout, "its statistics history and reports are kept for SOCIALSYNC_STATS_REMOVED_GRACE (30 days by default), then the stats worker deletes them;\n"+
			"delete them now with: socialsync locations remove --location %s --purge-data\n", *loc)
	}
	return nil
}
