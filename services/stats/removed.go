package stats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/report"
)

// removedSweep is how often the worker looks for removed locations whose
// statistics history and reports have outlived their grace period.
const removedSweep = time.Hour

// MarkRemoved marks loc, just removed at at, as having its statistics
// history and reports kept for the grace period
// (SOCIALSYNC_STATS_REMOVED_GRACE): the stats worker deletes them after it.
func MarkRemoved(ctx context.Context, history jetstream.KeyValue, loc string, at time.Time) error {
	b, err := json.Marshal(report.Removed{At: at.UTC()})
	if err != nil {
		return err
	}
	if _, err := history.Put(ctx, report.RemovedKey(loc), b); err != nil {
		return fmt.Errorf("mark the statistics of %s as removed: %w", loc, err)
	}
	return nil
}

// RemoveData deletes loc's statistics history, its stored reports and its
// removal mark, and returns how many records went.
func RemoveData(ctx context.Context, history jetstream.KeyValue, reports jetstream.ObjectStore, loc string) (int, error) {
	n, err := revision.PurgeMatching(ctx, history, report.HistoryPattern(loc))
	if err != nil {
		return n, err
	}
	list, err := reports.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return n, fmt.Errorf("list reports: %w", err)
	}
	for _, o := range list {
		if !strings.HasPrefix(o.Name, report.ObjectPrefix(loc)) {
			continue
		}
		if err := reports.Delete(ctx, o.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return n, fmt.Errorf("delete report %s: %w", o.Name, err)
		}
		n++
	}
	if err := history.Purge(ctx, report.RemovedKey(loc)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return n, fmt.Errorf("remove the removal mark of %s: %w", loc, err)
	}
	return n, nil
}

// sweepRemoved runs sweep at start and every removedSweep until ctx ends.
func (w *Worker) sweepRemoved(ctx context.Context) error {
	t := time.NewTicker(removedSweep)
	defer t.Stop()
	for {
		if err := w.sweep(ctx); err != nil {
			w.log.Warn("delete the statistics of removed locations", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweep deletes the statistics history and reports of the locations
// removed longer than the grace period ago. A location connected again
// meanwhile keeps them: its mark goes.
func (w *Worker) sweep(ctx context.Context) error {
	history := w.deps.Stores.History
	keys, err := revision.KeysMatching(ctx, history, report.RemovedPattern)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list removed locations: %w", err)
	}
	for _, k := range keys {
		loc := strings.TrimPrefix(k, "removed.")
		var mark report.Removed
		if _, err := revision.Load(ctx, history, k, &mark); err != nil {
			return err
		}
		_, err := w.deps.Stores.Locations.Get(ctx, loc)
		switch {
		case err == nil:
			// Connected again: its history is its own again.
			if err := history.Purge(ctx, k); err != nil {
				return err
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return err
		case w.now().Sub(mark.At) >= w.cfg.RemovedGrace:
			n, err := RemoveData(ctx, history, w.deps.Stores.Reports, loc)
			if err != nil {
				return err
			}
			w.log.Info("statistics of a removed location deleted", "location", loc, "records", n)
		}
	}
	return nil
}
