package bus

import "testing"

// A delivery finds the earlier open one (started, never settled) as one
// more crash; a settled history, an unknown one or an open mark of its own
// delivery is none. The record reads in both its versions.
func TestHistory(t *testing.T) {
	tests := []struct {
		name string
		h    history
		n    uint64
		want history
	}{
		{"nothing recorded", history{}, 2, history{}},
		{"the last delivery settled", history{crashes: 1, failures: 4}, 7, history{crashes: 1, failures: 4}},
		{"an open delivery: a crash", history{crashes: 1, open: 5, failures: 2}, 6, history{crashes: 2, failures: 2}},
		{"an open delivery past its crash window: no crash", history{crashes: 1, open: 5, alive: true}, 6, history{crashes: 1, diedLate: true}},
		{"its own mark", history{open: 6}, 6, history{open: 6}},
		{"unknown", history{open: 3, unknown: true}, 6, history{open: 3, unknown: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.begin(tt.n); got != tt.want {
				t.Errorf("begin(%d) = %+v, want %+v", tt.n, got, tt.want)
			}
		})
	}
	for text, want := range map[string]history{
		"h 2 7 3 0": {crashes: 2, open: 7, failures: 3},
		"h 0 4 1 1": {open: 4, failures: 1, alive: true},
		"5":         {}, // the earlier version's nakked count
	} {
		if got, err := parseHistory(text); err != nil || got != want {
			t.Errorf("parseHistory(%q) = %+v, %v; want %+v", text, got, err, want)
		}
	}
	for _, bad := range []string{"", "h 1 2", "h 1 2 3", "h a b c d", "h 1 2 3 2", "x"} {
		if _, err := parseHistory(bad); err == nil {
			t.Errorf("parseHistory(%q) accepted", bad)
		}
	}
}
