package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// reconcileCmd asks contactsync to reconcile a location's contact tags
// with HighLevel and follows the run: its cost first, a progress bar on a
// terminal, the drift and a summary at the end. The run's record in
// socialsync_relations is its cursor: interrupting the command leaves the
// run going, and the command run again follows it.
func reconcileCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "reconcile", "Compare what socialsync says a location's contacts carry with HighLevel, and repair the drift under the location's policy (docs/contacts.md).")
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location id (required)")
	dryRun := fs.Bool("dry-run", false, "report the drift, repair nothing")
	runID := fs.String("run-id", "", "the run's name, 1 to 64 letters, digits, '-' and '_' (default: derived from the time)")
	timeout := fs.Duration("timeout", time.Hour, "how long to follow the run (it goes on without the command)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !ids.ValidHighLevel(*loc) {
		return fmt.Errorf("%w: --location: want a HighLevel location id (letters and digits), got %q", errUsage, *loc)
	}
	if *runID == "" {
		*runID = "cli-" + env.Now().UTC().Format("20060102T150405")
	}
	if !relations.ValidRunID(*runID) {
		return fmt.Errorf("%w: --run-id: want 1 to 64 letters, digits, '-' and '_', got %q", errUsage, *runID)
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	kv, err := c.js.KeyValue(ctx, topology.BucketRelations)
	if err != nil {
		return fmt.Errorf("open %s: %w", topology.BucketRelations, err)
	}
	current, err := readRun(ctx, kv, *loc)
	if err != nil {
		return err
	}
	follow := *runID
	if current != nil && current.Going(env.Now()) && current.ID != *runID {
		fmt.Fprintf(env.Stdout, "reconciliation %s of %s is running; following it\n", current.ID, *loc)
		follow = current.ID
	} else {
		subject, err := topology.ReconcileTriggers.Subject(*loc)
		if err != nil {
			return err
		}
		req := &socialsyncv1.ReconcileRequested{LocationId: *loc, DryRun: *dryRun, RequestedBy: "cli", RunId: *runID,
			RequestedAt: timestamppb.New(env.Now())}
		pub := c.publisher()
		if _, err := pub.Publish(ctx, subject, req, bus.WithMsgID("reconcile:"+*loc+":"+*runID)); err != nil {
			return fmt.Errorf("request reconciliation of %s: %w", *loc, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	run, err := followRun(ctx, kv, *loc, follow, terminal(env.Stdout), env.Stdout)
	if err != nil {
		return err
	}
	printRun(env.Stdout, run)
	return nil
}

// readRun returns loc's latest reconciliation; nil when none.
func readRun(ctx context.Context, kv jetstream.KeyValue, loc string) (*relations.ReconcileRun, error) {
	return readRecord[relations.ReconcileRun](ctx, kv, relations.ReconcileKey(loc))
}

// readRecord returns the JSON record at key; nil when there is none.
func readRecord[T any](ctx context.Context, kv jetstream.KeyValue, key string) (*T, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var rec T
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &rec, nil
}

// followRun watches loc's run id until it is done: it prints the cost once
// the run has started, and on a terminal a progress bar.
func followRun(ctx context.Context, kv jetstream.KeyValue, loc, id string, bar bool, out io.Writer) (relations.ReconcileRun, error) {
	costShown := false
	run, err := followRecord(ctx, kv, relations.ReconcileKey(loc), bar, out, func(run relations.ReconcileRun) (string, bool, bool) {
		if run.ID != id {
			return "", false, false
		}
		if !costShown {
			printCost(out, loc, run)
			costShown = true
		}
		return progressBar(run.Cursor, len(run.Tags), 30, "tags"), run.State == relations.ReconcileDone, true
	})
	if err != nil {
		return run, fmt.Errorf("reconciliation %s of %s not done yet (it goes on; run the command again to follow it): %w", id, loc, err)
	}
	return run, nil
}

// followRecord watches the JSON record at key until it is done: step
// tells of each version whether it is one to follow (ok), its progress
// line, shown on a terminal (bar), and whether it is done. It returns the
// record done, or the context's error.
func followRecord[T any](ctx context.Context, kv jetstream.KeyValue, key string, bar bool, out io.Writer,
	step func(T) (line string, done, ok bool)) (T, error) {
	var zero T
	w, err := kv.Watch(ctx, key)
	if err != nil {
		return zero, fmt.Errorf("watch %s: %w", key, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			if bar {
				fmt.Fprintln(out)
			}
			return zero, ctx.Err()
		case e = <-w.Updates():
		}
		if e == nil || e.Operation() != jetstream.KeyValuePut {
			continue
		}
		var rec T
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			continue
		}
		line, done, ok := step(rec)
		if !ok {
			continue
		}
		if bar {
			fmt.Fprintf(out, "\r%s", line)
		}
		if done {
			if bar {
				fmt.Fprintln(out)
			}
			return rec, nil
		}
	}
}

// printCost says what the run costs, as estimated when it began.
func printCost(out io.Writer, loc string, run relations.ReconcileRun) {
	mode := "repairs under policy " + run.Policy
	if run.DryRun {
		mode = "dry run, policy " + run.Policy
	}
	c := run.Cost
	fmt.Fprintf(out, "reconciliation %s of %s (%s)\n", run.ID, loc, mode)
	fmt.Fprintf(out, "cost: %d contact tags over %d contacts: about %d HighLevel search calls (within %s at the location's budget, %.3f%% of its day), at most %d writes\n",
		c.Tags, c.Contacts, c.SearchCalls, time.Duration(c.AtBudgetSeconds)*time.Second, 100*c.DailyShare, c.MaxWrites)
}

// progressBar draws done of total units in width characters.
func progressBar(done, total, width int, unit string) string {
	filled := width
	if total > 0 {
		filled = done * width / total
	}
	return fmt.Sprintf("[%s%s] %d/%d %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, unit)
}

// printRun prints a finished run's drift and summary.
func printRun(out io.Writer, run relations.ReconcileRun) {
	for _, d := range run.Items {
		action := d.Action
		if action == "" {
			action = "-"
		}
		fmt.Fprintf(out, "%-8s %-24s %-40s %s\n", d.Kind, d.Contact, d.Tag, action)
	}
	if shown := len(run.Items); shown < run.Missing+run.Stale+run.Foreign {
		fmt.Fprintf(out, "(%d of %d items shown)\n", shown, run.Missing+run.Stale+run.Foreign)
	}
	fmt.Fprintf(out, "summary: %d missing, %d stale, %d foreign; %d repaired, %d recorded as removed by hand; %d contacts left out (written in the last minute); %d HighLevel calls\n",
		run.Missing, run.Stale, run.Foreign, run.Repaired, run.Recorded, run.Recent, run.Calls)
}

// terminal reports whether w is a terminal.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
