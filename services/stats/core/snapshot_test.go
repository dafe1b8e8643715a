package core

import (
	"testing"
	"time"
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
			tz, err := Zone(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			if got := Day(at, tz); got != tt.want {
				t.Errorf("Day(%v, %q) = %s, want %s", at, tt.zone, got, tt.want)
			}
		})
	}
	for _, bad := range []string{"Mars/Olympus", "Local"} {
		if _, err := Zone(bad); err == nil {
			t.Errorf("Zone(%q) accepted", bad)
		}
	}
}

func TestEventID(t *testing.T) {
	a := EventID("loc1", "2025-03-01", "ev1", 0)
	if a != EventID("loc1", "2025-03-01", "ev1", 0) {
		t.Fatal("EventID is not deterministic")
	}
	for _, other := range []string{
		EventID("loc2", "2025-03-01", "ev1", 0),
		EventID("loc1", "2025-03-02", "ev1", 0),
		EventID("loc1", "2025-03-01", "ev2", 0),
		EventID("loc1", "2025-03-01", "ev1", 1),
	} {
		if other == a {
			t.Errorf("EventID collides: %s", a)
		}
	}
}
