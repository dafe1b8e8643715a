package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/topology"
)

// What `socialsync run` shows while it runs: on a terminal one status line
// kept current every second, otherwise a plain line every
// SOCIALSYNC_STATUS_EVERY. The figures are the process's own metrics (the
// registry /metrics serves) and, for the contacts tagged, the contact
// events JetStream holds.

// ttyStatusEvery is how often the status line is redrawn on a terminal.
const ttyStatusEvery = time.Second

// statusFigures are counters since the process started, and the rate
// headroom now.
type statusFigures struct {
	// Events are the deliveries the workers handled and acknowledged.
	Events float64
	// Contacts are the contact tag changes published (ContactTagsChanged).
	Contacts float64
	// Calls are the requests sent to HighLevel, retries included.
	Calls       float64
	DeadLetters float64
	// Headroom is the lowest X-RateLimit-Remaining of the locations
	// called within the last two minutes; -1 when none was.
	Headroom float64
}

// minus returns the counters of f less those of o; the headroom is f's.
func (f statusFigures) minus(o statusFigures) statusFigures {
	d := func(a, b float64) float64 { return max(a-b, 0) }
	return statusFigures{Events: d(f.Events, o.Events), Contacts: d(f.Contacts, o.Contacts), Calls: d(f.Calls, o.Calls),
		DeadLetters: d(f.DeadLetters, o.DeadLetters), Headroom: f.Headroom}
}

// statusSource reads the figures now.
type statusSource func(ctx context.Context) (statusFigures, error)

// fleetStatus reads the figures of the process deps serves: its metrics
// (socialsync_messages_handled_total{outcome="ack"},
// socialsync_ghl_calls_total, socialsync_dead_letters_total,
// socialsync_rate_headroom) and the contact events of the events stream,
// counted per subject by the server.
func fleetStatus(deps *fleet.Deps) statusSource {
	return func(ctx context.Context) (statusFigures, error) {
		f := statusFigures{Headroom: -1}
		sum := func(name string, keep func(map[string]string) bool) (float64, error) {
			samples, err := deps.Telemetry.Samples(name)
			total := 0.0
			for _, s := range samples {
				if keep == nil || keep(s.Labels) {
					total += s.Value
				}
			}
			return total, err
		}
		var err error
		if f.Events, err = sum("socialsync_messages_handled_total", func(l map[string]string) bool { return l["outcome"] == bus.OutcomeAck }); err != nil {
			return f, err
		}
		if f.Calls, err = sum("socialsync_ghl_calls_total", nil); err != nil {
			return f, err
		}
		if f.DeadLetters, err = sum("socialsync_dead_letters_total", nil); err != nil {
			return f, err
		}
		headroom, err := deps.Telemetry.Samples("socialsync_rate_headroom")
		if err != nil {
			return f, err
		}
		for _, s := range headroom {
			if f.Headroom < 0 || s.Value < f.Headroom {
				f.Headroom = s.Value
			}
		}
		stream, err := deps.JS.Stream(ctx, topology.StreamEvents)
		if err != nil {
			return f, fmt.Errorf("open stream %s: %w", topology.StreamEvents, err)
		}
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(topology.ContactEvents.Filter()))
		if err != nil {
			return f, fmt.Errorf("count contact events: %w", err)
		}
		for _, n := range info.State.Subjects {
			f.Contacts += float64(n)
		}
		return f, nil
	}
}

// statusReporter prints the status: on a terminal (tty) one line redrawn
// in place, otherwise a line each interval.
type statusReporter struct {
	out   io.Writer
	tty   bool
	every time.Duration
	read  statusSource
	now   func() time.Time
}

// newStatusReporter returns the reporter of `socialsync run` on out: a
// line redrawn every second on a terminal, a line every every otherwise.
func newStatusReporter(out io.Writer, every time.Duration, read statusSource) *statusReporter {
	r := &statusReporter{out: out, tty: isTerminal(out), every: every, read: read, now: time.Now}
	if r.tty {
		r.every = ttyStatusEvery
	}
	return r
}

// run prints until ctx ends. The totals count from its first reading; a
// reading that fails is shown as such and the next one tried.
func (r *statusReporter) run(ctx context.Context) error {
	base, err := r.read(ctx)
	for err != nil {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.every):
		}
		base, err = r.read(ctx)
	}
	prev, prevAt := base, r.now()
	tick := time.NewTicker(r.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if r.tty {
				fmt.Fprintln(r.out)
			}
			return nil
		case <-tick.C:
		}
		cur, err := r.read(ctx)
		at := r.now()
		var line string
		if err != nil {
			line = "status unavailable: " + oneLine(err)
		} else {
			line = formatStatus(cur.minus(base), cur.minus(prev), at.Sub(prevAt))
			prev, prevAt = cur, at
		}
		if r.tty {
			// Carriage return and erase the line: the one line stays current.
			fmt.Fprint(r.out, "\r\x1b[K"+line)
		} else {
			fmt.Fprintln(r.out, at.UTC().Format(time.DateTime)+"  "+line)
		}
	}
}

// formatStatus is the status line: each figure's total, then its rate per
// second over dt from delta.
func formatStatus(total, delta statusFigures, dt time.Duration) string {
	rate := func(v float64) string {
		if dt <= 0 {
			return "–"
		}
		return strconv.FormatFloat(v/dt.Seconds(), 'f', 1, 64) + "/s"
	}
	figure := func(name string, total, delta float64) string {
		return name + " " + thousands(total) + " (" + rate(delta) + ")"
	}
	headroom := "headroom –"
	if total.Headroom >= 0 {
		headroom = "headroom " + thousands(total.Headroom)
	}
	return strings.Join([]string{
		figure("events", total.Events, delta.Events),
		figure("contacts tagged", total.Contacts, delta.Contacts),
		figure("HighLevel calls", total.Calls, delta.Calls) + ", " + headroom,
		figure("dead letters", total.DeadLetters, delta.DeadLetters),
	}, " · ")
}

// thousands writes v rounded, with thousands separated by commas.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// oneLine keeps the first line of err's message.
func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
