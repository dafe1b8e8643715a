package relations

import (
	"testing"
	"time"
)

func TestReconcileRunGoing(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		run  ReconcileRun
		want bool
	}{
		{"running, progress a minute ago", ReconcileRun{State: ReconcileRunning, UpdatedAt: now.Add(-time.Minute)}, true},
		{"running, no progress for too long", ReconcileRun{State: ReconcileRunning, UpdatedAt: now.Add(-ReconcileStalled)}, false},
		{"done", ReconcileRun{State: ReconcileDone, UpdatedAt: now}, false},
	}
	for _, tt := range tests {
		if got := tt.run.Going(now); got != tt.want {
			t.Errorf("%s: Going = %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, id := range []string{"", "a b", "x.y", string(make([]byte, 65))} {
		if ValidRunID(id) {
			t.Errorf("ValidRunID(%q) = true", id)
		}
	}
	if !ValidRunID("sched-1772323200") {
		t.Error("ValidRunID refused a schedule's run id")
	}
}
