package main

import (
	"strings"
	"testing"
)

// The result lines of `go test -bench`, with a benchmark whose name stands
// on a line of its own because it logged before its result, and a
// sub-benchmark whose name holds slashes.
const sample = `goos: linux
pkg: github.com/socialsync/socialsync/services/socialsync/bench
BenchmarkIngest/raw-jetstream-2         	       1	1000 ns/op	     31627 msgs/s
BenchmarkIngest/socialsync-ingest-2     	       1	1000 ns/op	     19509 msgs/s
BenchmarkRateLimit/window=100/10s/replicas=3-2         	       1	  4 ns/op	         0 429s	       100.0 fullest	         0.982 utilisation
BenchmarkFleetCPU
    fleetcpu_test.go:160: CPU from the first publication 1 2 3
       1	  0 ns/op	  12.5 cpu-s/1000-calls
--- BENCH: BenchmarkScale-2
    scale_test.go:1: 10 20 30
PASS
`

func TestParse(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bench, unit string
		want        float64
	}{
		{"BenchmarkIngest/raw-jetstream", "msgs/s", 31627},
		{"BenchmarkIngest/socialsync-ingest", "msgs/s", 19509},
		{"BenchmarkRateLimit/window=100/10s/replicas=3", "utilisation", 0.982},
		{"BenchmarkRateLimit/window=100/10s/replicas=3", "429s", 0},
		{"BenchmarkFleetCPU", "cpu-s/1000-calls", 12.5},
	} {
		if got, ok := r.metric(c.bench, c.unit); !ok || got != c.want {
			t.Errorf("%s %s: %v %v, want %v", c.bench, c.unit, got, ok, c.want)
		}
	}
	if _, ok := r["BenchmarkScale"]; ok {
		t.Errorf("a log line was read as BenchmarkScale's result: %v", r["BenchmarkScale"])
	}
	// The ratio row reads both ingest figures.
	for _, f := range figures() {
		if f.what == "ingest ÷ raw JetStream baseline" {
			text, v, ok := f.value(r)
			if !ok || text != "0.62" || !f.met(v) {
				t.Errorf("ingest ratio: %q %v %v", text, v, ok)
			}
		}
	}
}

func TestCommas(t *testing.T) {
	for in, want := range map[string]string{
		"31627 msgs/s":            "31,627 msgs/s",
		"1038":                    "1,038",
		"304 / 303 = 1.003":       "304 / 303 = 1.003",
		"0.12345":                 "0.12345",
		"1234567 / 12.5 s":        "1,234,567 / 12.5 s",
		"1.41 (424 calls)":        "1.41 (424 calls)",
		"16.49 s (nats 1000.5 s)": "16.49 s (nats 1,000.5 s)",
	} {
		if got := commas(in); got != want {
			t.Errorf("commas(%q) = %q, want %q", in, got, want)
		}
	}
}
