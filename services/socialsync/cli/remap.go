package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
)

// mappingsStatus shows how far the renaming of a location's contact tags
// after its latest template change is, and with --follow follows it to
// its end (a progress bar on a terminal).
func mappingsStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "mappings status", "Show how far socialsync is in renaming the contact tags it gave after the location's contact-tag\n"+
		"template changed (docs/contact-tags.md, \"When a mapping changes\").")
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location id (required)")
	follow := fs.Bool("follow", false, "follow the renaming until it is done")
	timeout := fs.Duration("timeout", time.Hour, "how long --follow follows (the renaming goes on without the command)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !ids.ValidHighLevel(*loc) {
		return fmt.Errorf("%w: --location: want a HighLevel location id (letters and digits), got %q", errUsage, *loc)
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
	if !*follow {
		run, err := readRecord[relations.RemapRun](ctx, kv, relations.RemapKey(*loc))
		switch {
		case err != nil:
			return err
		case run == nil:
			fmt.Fprintf(env.Stdout, "the contact-tag template of %s never changed: nothing renamed\n", *loc)
		default:
			printRemap(env.Stdout, *loc, *run)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	run, err := followRecord(ctx, kv, relations.RemapKey(*loc), terminal(env.Stdout), env.Stdout, func(run relations.RemapRun) (string, bool, bool) {
		return progressBar(run.Done(), run.Total, 30, "contacts"), run.State == relations.RemapDone, true
	})
	if err != nil {
		return fmt.Errorf("renaming of the contact tags of %s not done yet (it goes on): %w", *loc, err)
	}
	printRemap(env.Stdout, *loc, run)
	return nil
}

// printRemap prints a renaming's progress in one line.
func printRemap(out io.Writer, loc string, run relations.RemapRun) {
	state := "running"
	if run.State == relations.RemapDone {
		state = "done at " + run.FinishedAt.Format(time.RFC3339)
	}
	fmt.Fprintf(out, "contact tags of %s to %q: %d/%d contacts done, %d renamed, %d refused by HighLevel; %s (started %s",
		loc, run.Template, run.Done(), run.Total, run.Changed, run.Failed, state, run.StartedAt.Format(time.RFC3339))
	if run.Restarts > 0 {
		fmt.Fprintf(out, ", started over %d times for a newer template", run.Restarts)
	}
	fmt.Fprintln(out, ")")
}
