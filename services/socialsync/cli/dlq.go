package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
)

func dlqCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "dlq", "List dead letters: messages a worker gave up on, with the reason.")
	url := natsFlag(fs)
	worker := fs.String("worker", "*", "only this worker's dead letters")
	loc := fs.String("location", "*", "only this location's dead letters")
	limit := fs.Int("limit", 50, "show at most this many, newest last")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	filter := bus.DeadLetterPrefix + "." + *worker + "." + *loc
	stream, err := c.js.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return err
	}
	var total uint64
	for _, n := range info.State.Subjects {
		total += n
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "%d dead letters match %s\n", total, filter)
	if total == 0 {
		return w.Flush()
	}
	skip := uint64(0)
	if total > uint64(*limit) {
		skip = total - uint64(*limit)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "SEQ\tTIME\tWORKER\tLOCATION\tCLASS\tDELIVERIES\tORIGINAL SUBJECT\tREASON")
	for i := uint64(0); i < total; i++ {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			return err
		}
		if i < skip {
			continue
		}
		dl, err := bus.ParseDeadLetter(msg.Subject(), msg.Headers(), msg.Data())
		if err != nil {
			fmt.Fprintf(w, "?\t\t\t\t\t\t%s\t%v\n", msg.Subject(), err)
			continue
		}
		meta, _ := msg.Metadata()
		var seq uint64
		if meta != nil {
			seq = meta.Sequence.Stream
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", seq, dl.Time.UTC().Format(time.RFC3339), dl.Worker, dl.Location,
			dl.Class, dl.Deliveries, dl.OriginalSubject, dl.Reason)
	}
	return w.Flush()
}
