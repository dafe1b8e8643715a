// Command benchtable reads the output of the `go test -bench` runs of
// `make bench` on its standard input and prints one markdown table of
// every figure docs/measured.md quotes, each beside its target (issue 18
// and the pipeline issue) and whether the run met it. It exits with 1 when
// a figure is missing from the input (a benchmark did not run or did not
// report it); a target not met is shown as such, never an error.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// results holds, per benchmark name (GOMAXPROCS suffix removed), its
// metrics by unit. A benchmark reported twice keeps its last report.
type results map[string]map[string]float64

var procsSuffix = regexp.MustCompile(`-\d+$`)

// bigInt is an integer part of 4 digits or more, not a fraction's digits.
var bigInt = regexp.MustCompile(`(^|[^.\d])(\d{4,})`)

// commas writes the integers of s with thousands separators.
func commas(s string) string {
	return bigInt.ReplaceAllStringFunc(s, func(m string) string {
		lead, digits := "", m
		if m[0] < '0' || m[0] > '9' {
			lead, digits = m[:1], m[1:]
		}
		var b strings.Builder
		for i, c := range digits {
			if i > 0 && (len(digits)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return lead + b.String()
	})
}

// parse reads `go test -bench` output. A result line is the benchmark's
// name, its iterations, then value-unit pairs; the name may stand on a
// line of its own when the benchmark wrote output before its result.
func parse(r io.Reader) (results, error) {
	out := results{}
	pending := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		name := pending
		if strings.HasPrefix(f[0], "Benchmark") {
			name = procsSuffix.ReplaceAllString(f[0], "")
			f = f[1:]
			pending = name
		}
		if name == "" || len(f) < 3 || len(f)%2 == 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[0], 10, 64); err != nil {
			continue
		}
		m := map[string]float64{}
		for i := 1; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				m = nil
				break
			}
			m[f[i+1]] = v
		}
		if m != nil {
			out[name] = m
			pending = ""
		}
	}
	return out, sc.Err()
}

// figure is one row of the table.
type figure struct {
	what string
	// value returns the measured text and the number the target checks;
	// ok is false when a metric it needs is missing.
	value  func(r results) (text string, v float64, ok bool)
	target string
	met    func(v float64) bool // nil: no target
}

// metric reads one metric.
func (r results) metric(bench, unit string) (float64, bool) {
	v, ok := r[bench][unit]
	return v, ok
}

// one shows a metric with the given format and suffix.
func one(bench, unit, format string) func(results) (string, float64, bool) {
	return func(r results) (string, float64, bool) {
		v, ok := r.metric(bench, unit)
		return fmt.Sprintf(format, v), v, ok
	}
}

// ms shows a benchmark's ns/op in milliseconds.
func ms(bench string) func(results) (string, float64, bool) {
	return func(r results) (string, float64, bool) {
		v, ok := r.metric(bench, "ns/op")
		return fmt.Sprintf("%.1f ms", v/1e6), v / 1e6, ok
	}
}

func atLeast(t float64) func(float64) bool { return func(v float64) bool { return v >= t } }
func atMost(t float64) func(float64) bool  { return func(v float64) bool { return v <= t } }
func below(t float64) func(float64) bool   { return func(v float64) bool { return v < t } }
func exactly(t float64) func(float64) bool { return func(v float64) bool { return v == t } }

const (
	ingest   = "BenchmarkIngest/"
	pipeline = "BenchmarkPipeline/"
	cold     = "BenchmarkColdStart"
	warm     = "BenchmarkWarmBurst"
	cpu      = "BenchmarkFleetCPU"
	scale    = "BenchmarkScale"
)

// rateRows are the rows of one BenchmarkRateLimit case.
func rateRows(max, window string, replicas int, targets bool) []figure {
	bench := fmt.Sprintf("BenchmarkRateLimit/window=%s/%s/replicas=%d", max, window, replicas)
	label := fmt.Sprintf("%s per %s, %d replica", max, window, replicas)
	if replicas > 1 {
		label += "s"
	}
	rows := []figure{
		{what: "utilisation under a backlog, to its last write (to the last request), " + label, value: func(r results) (string, float64, bool) {
			v, ok := r.metric(bench, "utilisation")
			all, ok2 := r.metric(bench, "utilisation-all")
			return fmt.Sprintf("%.3f (%.3f)", v, all), v, ok && ok2
		}},
		{what: "429s, " + label, value: func(r results) (string, float64, bool) {
			v, ok := r.metric(bench, "429s")
			full, ok2 := r.metric(bench, "fullest")
			return fmt.Sprintf("%.0f (fullest window %.0f of %s)", v, full, max), v, ok && ok2
		}},
		{what: "time to drain ÷ the least the budget allows, " + label, value: one(bench, "drain/min", "%.3f")},
	}
	if targets {
		rows[0].target, rows[0].met = "≥ 0.97", atLeast(0.97)
		rows[1].target, rows[1].met = "0", exactly(0)
	}
	return rows
}

func figures() []figure {
	f := []figure{
		{what: "raw JetStream: 20,000 msgs, async publish + pull + ack", value: one(ingest+"raw-jetstream-async-publish", "msgs/s", "%.0f msgs/s")},
		{what: "raw JetStream: 32 publishers waiting for acks + pull + ack (the baseline)", value: one(ingest+"raw-jetstream", "msgs/s", "%.0f msgs/s")},
		{what: "socialsync trigger ingest, same messages and publishers", value: one(ingest+"socialsync-ingest", "msgs/s", "%.0f msgs/s")},
		{what: "ingest ÷ raw JetStream baseline", value: func(r results) (string, float64, bool) {
			s, ok := r.metric(ingest+"socialsync-ingest", "msgs/s")
			raw, ok2 := r.metric(ingest+"raw-jetstream", "msgs/s")
			v := s / raw
			return fmt.Sprintf("%.2f", v), v, ok && ok2 && raw > 0
		}, target: "≥ 0.50", met: atLeast(0.5)},
		{what: "pipeline throughput: 2,000 post events on 10 locations, limits out of the way", value: one(pipeline+"throughput", "events/s", "%.0f events/s")},
		{what: "HighLevel calls per 1,000 post events (same run)", value: one(pipeline+"throughput", "calls/1000-events", "%.0f")},
		{what: "trigger → contact tag at 100 events/s, p50", value: one(pipeline+"latency", "p50-ms", "%.1f ms")},
		{what: "trigger → contact tag at 100 events/s, p99", value: one(pipeline+"latency", "p99-ms", "%.1f ms"), target: "< 1,000 ms", met: below(1000)},
		{what: "burst of 300 triggers on one location, limits out of the way: calls ÷ fewest needed", value: func(r results) (string, float64, bool) {
			v, ok := r.metric(pipeline+"burst", "calls/min")
			c, ok2 := r.metric(pipeline+"burst", "calls")
			m, ok3 := r.metric(pipeline+"burst", "min-calls")
			return fmt.Sprintf("%.0f / %.0f = %.3f", c, m, v), v, ok && ok2 && ok3
		}, target: "≤ 1.1", met: atMost(1.1)},
		{what: "simulator on loopback, 16 requests in flight", value: one("BenchmarkSimulatorLoopback", "req/s", "%.0f req/s")},

		{what: "cold start, 500 events on 5 locations at 100 / 10 s: socialsync's HighLevel calls", value: one(cold, "socialsync-calls", "%.0f")},
		{what: "cold start: the plain per-event integration's HighLevel calls", value: one(cold, "plain-calls", "%.0f")},
		{what: "cold start: calls ratio (socialsync ÷ plain)", value: one(cold, "calls-ratio", "%.3f"), target: "≤ 0.20", met: atMost(0.2)},
		{what: "cold start: socialsync's seconds until every contact is tagged", value: one(cold, "socialsync-s", "%.1f s")},
		{what: "cold start: the plain integration's seconds until every contact is tagged", value: one(cold, "plain-s", "%.1f s")},
		{what: "cold start: time ratio (socialsync ÷ plain)", value: one(cold, "time-ratio", "%.3f"), target: "≤ 0.33", met: atMost(1.0 / 3)},
		{what: "warm burst, 300 events on one location at 100 / 10 s: HighLevel calls per event", value: func(r results) (string, float64, bool) {
			v, ok := r.metric(warm, "calls/event")
			c, ok2 := r.metric(warm, "calls")
			return fmt.Sprintf("%.2f (%.0f calls)", v, c), v, ok && ok2
		}, target: "≤ 0.5", met: atMost(0.5)},
		{what: "warm burst: seconds until every contact is tagged", value: one(warm, "tagged-s", "%.1f s")},
		{what: "warm burst: 429s", value: one(warm, "429s", "%.0f"), target: "0", met: exactly(0)},
		{what: "CPU seconds of the fleet (nats-server + 6 worker processes) per 1,000 HighLevel calls, cold-start workload", value: func(r results) (string, float64, bool) {
			v, ok := r.metric(cpu, "cpu-s/1000-calls")
			n, ok2 := r.metric(cpu, "nats-cpu-s/1000-calls")
			return fmt.Sprintf("%.2f s (nats-server %.2f s)", v, n), v, ok && ok2
		}},
		{what: "same run, one process per worker: HighLevel calls / seconds until every contact is tagged", value: func(r results) (string, float64, bool) {
			c, ok := r.metric(cpu, "calls")
			s, ok2 := r.metric(cpu, "tagged-s")
			return fmt.Sprintf("%.0f / %.1f s", c, s), c, ok && ok2
		}},
	}
	f = append(f, rateRows("40", "2s", 1, false)...)
	f = append(f, rateRows("40", "2s", 3, false)...)
	f = append(f, rateRows("100", "10s", 1, true)...)
	f = append(f, rateRows("100", "10s", 3, true)...)
	f = append(f,
		figure{what: "utilisation, governors only (3 × 4 callers, 100 per 10 s)", value: func(r results) (string, float64, bool) {
			const b = "BenchmarkUtilisation/window=100/10s"
			v, ok := r.metric(b, "utilisation")
			n, ok2 := r.metric(b, "429s")
			return fmt.Sprintf("%.3f, %.0f 429s", v, n), v, ok && ok2
		}},
		figure{what: "token refreshes per access-token expiry (3 stores × 4 callers)", value: func(r results) (string, float64, bool) {
			v, ok := r.metric("BenchmarkRefreshesPerExpiry", "refreshes/expiry")
			n, ok2 := r.metric("BenchmarkRefreshesPerExpiry", "invalid_grants")
			return fmt.Sprintf("%.3f, %.0f invalid_grant", v, n), v, ok && ok2
		}, target: "1", met: exactly(1)},
		figure{what: "token read on every call (tokens bucket read + AES-GCM open)", value: func(r results) (string, float64, bool) {
			v, ok := r.metric("BenchmarkTokenSource", "ns/op")
			return fmt.Sprintf("%.1f µs", v/1e3), v, ok
		}},

		figure{what: "10,000 locations: slowest worker from start to ready", value: one(scale, "worst-ready-s", "%.2f s"), target: "≤ 10 s", met: atMost(10)},
		figure{what: "10,000 locations: largest worker VmHWM", value: one(scale, "worst-hwm-MB", "%.1f MB"), target: "< 150 MB", met: below(150)},
		figure{what: "10,000 locations: every statistics schedule stored after", value: one(scale, "schedules-s", "%.1f s")},
		figure{what: "10,000 locations: 200 active locations' 1,000 events written in", value: one(scale, "activity-s", "%.1f s")},
		figure{what: "10,000 locations: one segment definition recomputed everywhere in", value: one(scale, "segments-s", "%.1f s")},
		figure{what: "10,000 locations: cross-location page, median / slowest of 5", value: func(r results) (string, float64, bool) {
			p50, ok := r.metric(scale, "health-p50-ms")
			mx, ok2 := r.metric(scale, "health-max-ms")
			return fmt.Sprintf("%.0f / %.0f ms", p50, mx), p50, ok && ok2
		}, target: "median < 1,000 ms", met: below(1000)},
		figure{what: "gateway: signed webhook events accepted, 16 senders", value: one("BenchmarkWebhook", "events/s", "%.0f events/s")},
		figure{what: "gateway: cross-location page, 1,000 locations, 500 rows (in-process)", value: ms("BenchmarkLocationsHealth")},
		figure{what: "gateway: cross-location page, 10,000 locations, first 50 rows (in-process)", value: ms("BenchmarkLocationsHealthAtScale"), target: "< 1,000 ms", met: below(1000)},
	)
	return f
}

func main() {
	wall := flag.Int("wall", 0, "seconds the whole `make bench` took (0: not shown)")
	flag.Parse()
	r, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	missing := 0
	fmt.Println()
	fmt.Println("| figure | measured | target | |")
	fmt.Println("|---|---|---|---|")
	for _, f := range figures() {
		text, v, ok := f.value(r)
		verdict := ""
		switch {
		case !ok:
			text, verdict = "not reported", "missing"
			missing++
		case f.met == nil:
		case f.met(v):
			verdict = "met"
		default:
			verdict = "**not met**"
		}
		fmt.Printf("| %s | %s | %s | %s |\n", f.what, commas(text), f.target, verdict)
	}
	if *wall > 0 {
		verdict := "met"
		if *wall > 25*60 {
			verdict = "**not met**"
		}
		fmt.Printf("| `make bench`, wall time | %d min %02d s | ≤ 25 min | %s |\n", *wall/60, *wall%60, verdict)
	}
	if missing > 0 {
		fmt.Fprintf(os.Stderr, "benchtable: %d figures not reported\n", missing)
		os.Exit(1)
	}
}
