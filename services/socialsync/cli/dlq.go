package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/bus"
)

func dlqCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "dlq", "List dead letters: messages a worker gave up on, with the reason; replay them.")
	url := natsFlag(fs)
	worker := fs.String("worker", "*", "only this worker's dead letters")
	loc := fs.String("location", "*", "only this location's dead letters")
	limit := fs.Int("limit", 50, "show at most this many, newest last")
	replay := fs.Uint64("replay", 0, "publish the dead letter with this sequence again to its original subject, and remove it")
	replayAll := fs.Bool("replay-all", false, "replay every dead letter matching --worker and --location (--location is required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *replayAll && (*loc == "*" || *loc == "") {
		return fmt.Errorf("%w: --replay-all needs --location", errUsage)
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	filter := bus.DeadLetterFilter(*worker, *loc)
	switch {
	case *replay > 0:
		r, err := bus.ReplayDeadLetter(ctx, c.js, *replay)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "replayed dead letter %d to %s seq %d for %s\n", r.Seq, r.Subject, r.Sequence, r.Consumer)
		recordAudit(ctx, env, c, audit.Entry{Action: audit.ActionReplay, Detail: fmt.Sprintf("dead letter %d to %s", r.Seq, r.Subject)})
		return nil
	case *replayAll:
		done, failed, err := bus.ReplayDeadLetters(ctx, c.js, filter)
		for _, r := range done {
			fmt.Fprintf(env.Stdout, "replayed dead letter %d to %s seq %d for %s\n", r.Seq, r.Subject, r.Sequence, r.Consumer)
		}
		for _, f := range failed {
			fmt.Fprintf(env.Stdout, "kept dead letter %d: %v\n", f.Seq, f.Err)
		}
		if err != nil {
			return err
		}
		recordAudit(ctx, env, c, audit.Entry{Action: audit.ActionReplay, Location: *loc, Detail: fmt.Sprintf("%d dead letters replayed, %d kept", len(done), len(failed))})
		fmt.Fprintf(env.Stdout, "%d replayed, %d kept\n", len(done), len(failed))
		return nil
	}
	_, total, err := bus.CountDeadLetters(ctx, c.js, filter)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "%d dead letters match %s\n", total, filter)
	if total == 0 {
		return w.Flush()
	}
	all, _, err := bus.ListDeadLetters(ctx, c.js, filter, 0, int(total))
	if err != nil {
		return err
	}
	if *limit >= 0 && len(all) > *limit {
		all = all[len(all)-*limit:]
	}
	fmt.Fprintln(w, "SEQ\tTIME\tWORKER\tLOCATION\tCLASS\tDELIVERIES\tORIGINAL SUBJECT\tREASON")
	for _, dl := range all {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", dl.Seq, dl.Time.UTC().Format(time.RFC3339), dl.Worker, dl.Location,
			dl.Class, dl.Deliveries, dl.OriginalSubject, dl.Reason)
	}
	return w.Flush()
}
