package cli

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

func TestFormatStatus(t *testing.T) {
	for _, c := range []struct {
		name         string
		total, delta statusFigures
		dt           time.Duration
		want         string
	}{
		{"a busy second", statusFigures{Events: 12345, Contacts: 678, Calls: 2500, DeadLetters: 3, Headroom: 97},
			statusFigures{Events: 120, Contacts: 5, Calls: 31, DeadLetters: 0}, 10 * time.Second,
			"events 12,345 (12.0/s) · contacts tagged 678 (0.5/s) · HighLevel calls 2,500 (3.1/s), headroom 97 · dead letters 3 (0.0/s)"},
		{"nothing yet", statusFigures{Headroom: -1}, statusFigures{}, 30 * time.Second,
			"events 0 (0.0/s) · contacts tagged 0 (0.0/s) · HighLevel calls 0 (0.0/s), headroom – · dead letters 0 (0.0/s)"},
		{"no interval", statusFigures{Events: 1_000_000, Headroom: 0}, statusFigures{Events: 1}, 0,
			"events 1,000,000 (–) · contacts tagged 0 (–) · HighLevel calls 0 (–), headroom 0 · dead letters 0 (–)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := formatStatus(c.total, c.delta, c.dt); got != c.want {
				t.Errorf("formatStatus =\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// counting is a source whose counters grow by step at each reading; its
// readings listed in fail fail.
func counting(step float64, fail ...int) statusSource {
	n := 0
	return func(context.Context) (statusFigures, error) {
		n++
		for _, f := range fail {
			if n == f {
				return statusFigures{}, errors.New("nats: timeout\nmore")
			}
		}
		v := float64(n) * step
		return statusFigures{Events: v, Contacts: v / 10, Calls: v / 2, DeadLetters: 0, Headroom: 90}, nil
	}
}

// Off a terminal, a plain line each interval, totals from the first
// reading and rates over the interval; a failed reading says so and the
// next one counts on.
func TestStatusLinesOffATerminal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		r := &statusReporter{out: &out, every: 10 * time.Second, read: counting(100, 3), now: time.Now}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.run(ctx) }()
		time.Sleep(35 * time.Second)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		want := []string{
			"2000-01-01 00:00:10  events 100 (10.0/s) · contacts tagged 10 (1.0/s) · HighLevel calls 50 (5.0/s), headroom 90 · dead letters 0 (0.0/s)",
			"2000-01-01 00:00:20  status unavailable: nats: timeout",
			"2000-01-01 00:00:30  events 300 (10.0/s) · contacts tagged 30 (1.0/s) · HighLevel calls 150 (5.0/s), headroom 90 · dead letters 0 (0.0/s)",
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("lines:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	})
}

// On a terminal, one line redrawn in place, ended when the run ends.
func TestStatusLineOnATerminal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		r := &statusReporter{out: &out, tty: true, every: time.Second, read: counting(5), now: time.Now}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.run(ctx) }()
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		cancel()
		<-done
		s := out.String()
		if strings.Count(s, "\r\x1b[K") != 3 || strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") ||
			!strings.Contains(s, "\r\x1b[Kevents 15 (5.0/s)") {
			t.Errorf("terminal output: %q", s)
		}
	})
}

// The figures come from the process's metrics and from JetStream: a
// HighLevel call and a contact event count.
func TestFleetStatusReadsMetricsAndStreams(t *testing.T) {
	env := fleettest.Start(t, "demo")
	ctx := context.Background()
	read := fleetStatus(env.Deps)
	before, err := read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	loc := env.Locations[0].ID
	if _, err := env.Deps.Client(loc).AllSocialTags(ctx, loc); err != nil {
		t.Fatal(err)
	}
	subject, _ := topology.ContactEvents.Subject(loc)
	if _, err := env.Deps.Publisher.Publish(ctx, subject, &socialsyncv1.ContactTagsChanged{LocationId: loc, ContactId: "c1", Added: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	after, err := read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := after.minus(before)
	if d.Calls < 1 || d.Contacts != 1 || after.Headroom < 0 {
		t.Errorf("after a call and a contact event: %+v (before %+v)", after, before)
	}
}

// `socialsync run` off a terminal prints a status line every
// SOCIALSYNC_STATUS_EVERY; a negative interval is refused by name.
func TestRunPrintsStatusLines(t *testing.T) {
	t.Setenv("SOCIALSYNC_DATA_DIR", t.TempDir())
	t.Setenv("SOCIALSYNC_HTTP_ADDR", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	t.Setenv("SOCIALSYNC_EMBEDDED_NATS_PORT", strconv.Itoa(freePort(t)))
	t.Setenv("SOCIALSYNC_SANDBOX_ADDR", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	t.Setenv("SOCIALSYNC_DEMO_EVERY", "0")
	t.Setenv("SOCIALSYNC_LOG_LEVEL", "error")
	t.Setenv("SOCIALSYNC_STATUS_EVERY", "-1s")
	var out, errOut fleettest.Buffer
	if code := Main(context.Background(), []string{"run"}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "SOCIALSYNC_STATUS_EVERY") {
		t.Errorf("a negative interval: exit %d, %s", code, errOut.String())
	}

	t.Setenv("SOCIALSYNC_STATUS_EVERY", "200ms")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"run"}, &out, &errOut) }()
	fleettest.Eventually(t, 30*time.Second, "two status lines", func() bool {
		return strings.Count(out.String(), "· HighLevel calls ") >= 2
	})
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("run exited %d: %s", code, errOut.String())
	}
	if strings.Contains(out.String(), "\r") {
		t.Errorf("off a terminal, the output redraws lines: %q", out.String())
	}
}
