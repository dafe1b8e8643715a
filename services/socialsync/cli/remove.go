package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/contactsync"
	"github.com/socialsync/socialsync/services/stats"
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
	if *purge {
		run, err := purgeTags(ctx, env, c, store, cfg, *loc)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "purge of %s done: %d contact tags removed from %d contacts (%d no longer in HighLevel), %d custom values deleted\n",
			*loc, run.Tags, run.Done-run.Gone, run.Gone, run.Values)
	}
	removed, err := removeState(ctx, env, c, store, *loc, *purgeData)
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

// removeState deletes loc's records from every store, each through the
// package that owns its keys, and returns how many went. The location
// record goes first, so that the workers stop taking its messages and the
// stats worker removes its schedule; the purge cursor last. The
// statistics history and reports are deleted with data, else marked for
// the stats worker to delete after their grace period.
func removeState(ctx context.Context, env *Env, c *conn, store *creds.Store, loc string, data bool) (int, error) {
	if err := store.Remove(ctx, loc); err != nil {
		return 0, err
	}
	// Its triggers held while it was paused would now be dead letters
	// (not registered): they go. They wait a recheck (a minute) between
	// deliveries, so none is dead-lettered before this.
	held, err := topology.PurgeLocation(ctx, c.js, loc)
	if err != nil {
		return 0, err
	}
	total := int(held)
	kvs := map[string]jetstream.KeyValue{}
	for _, b := range []string{topology.BucketSettings, topology.BucketTags, topology.BucketTagDetails, topology.BucketRelations,
		topology.BucketSegments, topology.BucketStatsHistory, topology.BucketContactRefs} {
		kv, err := c.js.KeyValue(ctx, b)
		if err != nil {
			return 0, fmt.Errorf("open %s: %w", b, err)
		}
		kvs[b] = kv
	}
	if err := settings.Remove(ctx, kvs[topology.BucketSettings], loc); err != nil {
		return 0, err
	}
	keys := relations.KeysOf(loc)
	for bucket, patterns := range map[string][]string{
		topology.BucketTags:       keys.Tags,
		topology.BucketTagDetails: keys.Details,
		topology.BucketRelations:  keys.Relations,
		topology.BucketSegments:   {automation.MemberPrefix(loc) + ">"},
		// Contacts named by email, phone or external id: personal data.
		topology.BucketContactRefs: contactsync.RefPatterns(loc),
	} {
		n, err := revision.PurgeMatching(ctx, kvs[bucket], patterns...)
		total += n
		if err != nil {
			return total, err
		}
	}
	history := kvs[topology.BucketStatsHistory]
	if data {
		reports, err := c.js.ObjectStore(ctx, topology.ObjectStoreReports)
		if err != nil {
			return total, fmt.Errorf("open %s: %w", topology.ObjectStoreReports, err)
		}
		n, err := stats.RemoveData(ctx, history, reports, loc)
		total += n
		if err != nil {
			return total, err
		}
	} else if err := stats.MarkRemoved(ctx, history, loc, env.Now()); err != nil {
		return total, err
	}
	if err := kvs[topology.BucketRelations].Purge(ctx, relations.PurgeKey(loc)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return total, fmt.Errorf("remove purge record of %s: %w", loc, err)
	}
	return total, nil
}
