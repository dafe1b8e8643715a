package settings

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// MaxRetentionDays bounds a retention setting: ten years.
const MaxRetentionDays = 3660

// Stats are a location's statistics settings. Empty fields take the
// worker's defaults (SOCIALSYNC_STATS_CRON, the location's registered
// time zone, SOCIALSYNC_STATS_RETENTION_DAYS).
type Stats struct {
	// Cron is the schedule spec (see CheckSpec).
	Cron string `json:"cron,omitempty"`
	// Timezone is the IANA zone the cron runs in.
	Timezone string `json:"timezone,omitempty"`
	// RetentionDays is how many days of history are kept; 0: the default.
	RetentionDays int `json:"retentionDays,omitempty"`
}

// Validate checks what can be checked without the stats worker: the time
// zone and the retention. The caller checks the cron spec (Problems
// checks all three).
func (s Stats) Validate() error { return s.fieldProblems().err("statistics settings") }

func (s Stats) fieldProblems() problems {
	var out problems
	if s.Timezone != "" {
		if s.Timezone == "Local" {
			out.add("timezone", "%q is not an IANA zone", s.Timezone)
		} else if _, err := time.LoadLocation(s.Timezone); err != nil {
			out.add("timezone", "%q: %v", s.Timezone, err)
		}
	}
	if s.RetentionDays < 0 || s.RetentionDays > MaxRetentionDays {
		out.add("retentionDays", "%d: want 0 (the default) to %d", s.RetentionDays, MaxRetentionDays)
	}
	return out
}

// GetStats returns loc's statistics settings; the zero value when none
// are stored.
func GetStats(ctx context.Context, kv jetstream.KeyValue, loc string) (Stats, error) {
	var s Stats
	_, err := get(ctx, kv, StatsKey(loc), &s)
	return s, err
}

// PutStats validates and stores loc's statistics settings.
func PutStats(ctx context.Context, kv jetstream.KeyValue, loc string, s Stats) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return put(ctx, kv, StatsKey(loc), s)
}
