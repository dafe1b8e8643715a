package report

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDay(t *testing.T) {
	// 2025-03-01 22:30 UTC is already March 2nd in Kiritimati (UTC+14) and
	// still March 1st in Honolulu (UTC-10).
	at := time.Date(2025, 3, 1, 22, 30, 0, 0, time.UTC)
	tests := []struct {
		zone string
		want string
	}{
		{"", "2025-03-01"},
		{"UTC", "2025-03-01"},
		{"Pacific/Kiritimati", "2025-03-02"},
		{"Pacific/Honolulu", "2025-03-01"},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			tz, err := LoadZone(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			if got := Day(at, tz); got != tt.want {
				t.Errorf("Day(%v, %q) = %s, want %s", at, tt.zone, got, tt.want)
			}
		})
	}
	for _, bad := range []string{"Mars/Olympus", "Local"} {
		if _, err := LoadZone(bad); err == nil {
			t.Errorf("LoadZone(%q) accepted", bad)
		}
	}
}

func TestReachable(t *testing.T) {
	reach, old, notOver, err := Reachable("2026-03-01", "2026-03-12", "2026-03-11")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"},
		{"2026-03-01", "2026-03-02", "2026-03-03"},
		{"2026-03-11", "2026-03-12"},
	}
	if diff := cmp.Diff(want, [][]string{reach, old, notOver}); diff != "" {
		t.Errorf("reachable, too old, not over (-want +got):\n%s", diff)
	}
	if _, _, _, err := Reachable("2026-03-02", "2026-03-01", "2026-03-11"); err == nil {
		t.Error("reversed range accepted")
	}
}

// A statistics request's range is served when its days are the last
// seven before today; otherwise the reason names the limit.
func TestCheckRequestRange(t *testing.T) {
	const today = "2026-03-11"
	tests := []struct {
		from, to string
		want     string // in the error; "" for none
		reach    bool   // the error is ErrOutOfReach
	}{
		{"2026-03-04", "2026-03-11", "", false},
		{"2026-03-10", "2026-03-11", "", false},
		{"2026-03-04", "2026-03-05", "", false},
		{"2026-03-03", "2026-03-05", "serves only the last 7 days (2026-03-04 … 2026-03-10)", true},
		{"2025-01-01", "2025-01-08", "reaches back before 2026-03-04", true},
		{"2026-03-10", "2026-03-12", "includes 2026-03-11, which is not over", true},
		{"2026-03-12", "2026-03-13", "includes 2026-03-12, which is not over", true},
		{"2026-03-05", "2026-03-05", "want from before to", false},
		{"2026-03-06", "2026-03-05", "want from before to", false},
		{"2026-3-5", "2026-03-06", "want YYYY-MM-DD", false},
		{"", "2026-03-06", "want both from and to", false},
	}
	for _, tt := range tests {
		t.Run(tt.from+"_"+tt.to, func(t *testing.T) {
			err := CheckRequestRange(tt.from, tt.to, today)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tt.want == "":
				return
			case err == nil || !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			case errors.Is(err, ErrOutOfReach) != tt.reach:
				t.Errorf("errors.Is(%v, ErrOutOfReach) = %t, want %t", err, !tt.reach, tt.reach)
			}
		})
	}
}
