package telemetrytest_test

import (
	"testing"

	"github.com/socialsync/socialsync/pkg/telemetry/telemetrytest"
)

func TestParse(t *testing.T) {
	p, err := telemetrytest.Parse(`# HELP x_total A counter.
# TYPE x_total counter
x_total{outcome="ack",subject="a.b.*"} 3
x_total{outcome="retry",subject="a.b.*"} 1
x_total{outcome="ack",subject="quote\"d"} 2 1700000000000
up 1
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Sum("x_total", "outcome", "ack"); got != 5 {
		t.Errorf("sum of ack = %v, want 5", got)
	}
	if got := p.Sum("x_total", "subject", "a.b.*"); got != 4 {
		t.Errorf("sum of a.b.* = %v, want 4", got)
	}
	if !p.Has("x_total", "subject", `quote"d`) {
		t.Error("escaped label value not read")
	}
	if got := p.Sum("up"); got != 1 {
		t.Errorf("up = %v, want 1", got)
	}
	if p.Has("x_total", "outcome", "dead_letter") {
		t.Error("Has found a series that is not there")
	}
	if _, err := telemetrytest.Parse("x_total{a=\"1\"} notanumber\n"); err == nil {
		t.Error("Parse accepted a bad value")
	}
}
