package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/report/source"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

func statsCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: backfill or export", errUsage)
	}
	switch args[0] {
	case "backfill":
		return statsBackfill(ctx, env, args[1:])
	case "export":
		return statsExport(ctx, env, args[1:])
	default:
		return fmt.Errorf("%w: unknown subcommand %q: want backfill or export", errUsage, args[0])
	}
}

// dayRange adds --from and --to to fs.
func dayRange(fs *flag.FlagSet, what string) (from, to *string) {
	from = fs.String("from", "", "first location-local day (YYYY-MM-DD) "+what)
	to = fs.String("to", "", "last location-local day (YYYY-MM-DD), included "+what)
	return from, to
}

// located is a registered location and its calendar.
type located struct {
	loc   creds.Location
	tz    *time.Location
	today string
}

// locate reads loc's registration (no token is read) and its today.
func locate(ctx context.Context, js jetstream.JetStream, loc string, now time.Time) (located, error) {
	if !ids.ValidHighLevel(loc) {
		return located{}, fmt.Errorf("%w: --location: want a HighLevel location id (letters and digits), got %q", errUsage, loc)
	}
	kv, err := js.KeyValue(ctx, topology.BucketLocations)
	if err != nil {
		return located{}, fmt.Errorf("open bucket %s: %w", topology.BucketLocations, err)
	}
	e, err := kv.Get(ctx, loc)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return located{}, fmt.Errorf("location %s is not registered (socialsync locations add)", loc)
	}
	if err != nil {
		return located{}, fmt.Errorf("read location %s: %w", loc, err)
	}
	var l creds.Location
	if err := json.Unmarshal(e.Value(), &l); err != nil {
		return located{}, fmt.Errorf("location %s unreadable: %w", loc, err)
	}
	tz := report.Zone(l.Timezone)
	return located{loc: l, tz: tz, today: report.Day(now, tz)}, nil
}

// rangeOr returns from … to, defaulting to the days days before today.
func (l located) rangeOr(from, to string, days int) (string, string, error) {
	if to == "" {
		to, _ = report.Shift(l.today, -1)
	}
	if from == "" {
		from, _ = report.Shift(to, 1-days)
	}
	if _, err := report.DayCount(from, to); err != nil {
		return "", "", fmt.Errorf("%w: --from/--to: %v", errUsage, err)
	}
	return from, to, nil
}

func statsBackfill(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "stats backfill", "Fill the days of a location's statistics history that are missing. HighLevel's statistics endpoint\n"+
		"serves only the 7 days before today, so a missing day in that window is filled by taking today's statistics\n"+
		"(a running stats worker does it); older missing days are out of reach and are listed as such.")
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location id (required)")
	from, to := dayRange(fs, "(default: 7 days before today)")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for the stats worker")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	l, err := locate(ctx, c.js, *loc, env.Now())
	if err != nil {
		return err
	}
	f, t, err := l.rangeOr(*from, *to, report.Window)
	if err != nil {
		return err
	}
	history, err := c.js.KeyValue(ctx, topology.BucketStatsHistory)
	if err != nil {
		return err
	}
	covered := func() (map[string]bool, error) {
		snaps, _, err := source.LoadHistory(ctx, history, *loc, f, t)
		if err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for d := range report.Daily(snaps) {
			out[d] = true
		}
		return out, nil
	}
	have, err := covered()
	if err != nil {
		return err
	}
	reach, tooOld, notOver, err := report.Reachable(f, t, l.today)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var fill, lost []string
	for _, d := range reach {
		if !have[d] {
			fill = append(fill, d)
		}
	}
	for _, d := range tooOld {
		if !have[d] {
			lost = append(lost, d)
		}
	}
	w := env.Stdout
	fmt.Fprintf(w, "statistics history of %s, %s … %s (today is %s in %s)\n", *loc, f, t, l.today, l.tz)
	if len(fill) > 0 {
		subject, err := topology.StatsTriggers.Subject(*loc)
		if err != nil {
			return err
		}
		id := "backfill-" + *loc + "-" + l.today
		if _, err := c.publisher().Publish(ctx, subject,
			&socialsyncv1.StatsRequested{LocationId: *loc, RequestedBy: "backfill", EventId: id}); err != nil {
			return fmt.Errorf("publish to %s: %w", subject, err)
		}
		deadline := time.Now().Add(*timeout)
		for {
			if have, err = covered(); err != nil {
				return err
			}
			done := true
			for _, d := range fill {
				done = done && have[d]
			}
			if done {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no stats worker took today's statistics within %v (is one running?); the request stays queued", *timeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		fmt.Fprintf(w, "filled %d days from today's statistics: %s\n", len(fill), strings.Join(fill, " "))
	} else {
		fmt.Fprintln(w, "nothing to fill within the statistics endpoint's reach")
	}
	fmt.Fprintf(w, "already stored: %d days\n", len(reach)+len(tooOld)-len(fill)-len(lost))
	if len(lost) > 0 {
		first, _ := report.Shift(l.today, -report.Window)
		fmt.Fprintf(w, "out of reach: %d days (HighLevel's statistics endpoint serves only %s … yesterday): %s\n", len(lost), first, strings.Join(lost, " "))
	}
	if len(notOver) > 0 {
		fmt.Fprintf(w, "not over yet: %s (their statistics come tomorrow)\n", strings.Join(notOver, " "))
	}
	return nil
}

func statsExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "stats export", "Archive a location's statistics history: one row per day and platform (csv), or the daily figures\n"+
		"with the stored snapshots they come from (json).")
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location id (required)")
	from, to := dayRange(fs, "(required)")
	format := fs.String("format", "csv", "csv or json")
	out := fs.String("o", "", "write to this file instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return fmt.Errorf("%w: --from and --to are required", errUsage)
	}
	if *format != "csv" && *format != "json" {
		return fmt.Errorf("%w: --format: want csv or json, got %q", errUsage, *format)
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	if _, err := locate(ctx, c.js, *loc, env.Now()); err != nil {
		return err
	}
	if _, err := report.DayCount(*from, *to); err != nil {
		return fmt.Errorf("%w: --from/--to: %v", errUsage, err)
	}
	history, err := c.js.KeyValue(ctx, topology.BucketStatsHistory)
	if err != nil {
		return err
	}
	snaps, raw, err := source.LoadHistory(ctx, history, *loc, *from, *to)
	if err != nil {
		return err
	}
	a, err := report.NewArchive(*loc, *from, *to, snaps, raw, env.Now())
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return writeOut(env, *out, func(w io.Writer) error {
		if *format == "json" {
			return a.WriteJSON(w)
		}
		return a.WriteCSV(w)
	})
}

func reportCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "report", "Build a location's report over a day range from the statistics history and the tags' activity:\n"+
		"per-platform totals and change, posts and contacts reached per tag, top and fading tags, trend, recommendations.\n"+
		"Its JSON carries the per-platform totals exactly as HighLevel's statistics endpoint returned them.")
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location id (required)")
	from, to := dayRange(fs, "(default: the 28 days before today)")
	format := fs.String("format", "md", "json, csv, md or html")
	out := fs.String("o", "", "write to this file instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	f, err := report.ParseFormat(*format)
	if err != nil {
		return fmt.Errorf("%w: --format: %v", errUsage, err)
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	l, err := locate(ctx, c.js, *loc, env.Now())
	if err != nil {
		return err
	}
	first, last, err := l.rangeOr(*from, *to, 28)
	if err != nil {
		return err
	}
	src, err := source.Open(ctx, c.js)
	if err != nil {
		return err
	}
	r, err := src.Build(ctx, *loc, l.tz, first, last, env.Now())
	if errors.Is(err, report.ErrInvalidInput) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil {
		return err
	}
	return writeOut(env, *out, func(w io.Writer) error { return report.Write(w, r, f) })
}

// writeOut writes with write to the file path, or to standard output
// when path is empty. A file is written whole or not at all.
func writeOut(env *Env, path string, write func(io.Writer) error) error {
	if path == "" {
		return write(env.Stdout)
	}
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "wrote %s (%d bytes)\n", path, b.Len())
	return nil
}
