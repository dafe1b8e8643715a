package gateway

import (
	"testing"
	"time"
)

// The daily cap's time follows the day's rate so far, within the UTC day.
func TestDailyCapAt(t *testing.T) {
	noon := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name        string
		used, daily int64
		now         time.Time
		want        string // "" for none
	}{
		{"nothing used", 0, 200_000, noon, ""},
		{"half by noon: at midnight, not today", 100_000, 200_000, noon, ""},
		{"two thirds by noon: at 18:00", 133_333, 200_000, noon, "18:00"},
		{"spent: now", 200_000, 200_000, noon, "12:00"},
		{"too early for a rate", 10, 200_000, noon.Truncate(24 * time.Hour).Add(30 * time.Second), ""},
		{"no cap", 10, 0, noon, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := dailyCapAt(c.used, c.daily, c.now)
			switch {
			case c.want == "" && got != nil:
				t.Errorf("dailyCapAt = %v, want none", got)
			case c.want != "" && (got == nil || got.Format("15:04") != c.want):
				t.Errorf("dailyCapAt = %v, want %s", got, c.want)
			}
		})
	}
}
