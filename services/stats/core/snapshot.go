package core

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// DayLayout is how a snapshot's day is written: an ISO 8601 date.
const DayLayout = "2006-01-02"

// Zone returns the IANA time zone name; an empty name is UTC.
func Zone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		// time.LoadLocation accepts it, but it means the host's zone.
		return nil, fmt.Errorf("time zone %q is not an IANA zone", name)
	}
	tz, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return tz, nil
}

// Day returns the calendar day of t in tz, as DayLayout.
func Day(t time.Time, tz *time.Location) string { return t.In(tz).Format(DayLayout) }

// Key returns the statistics history key of a location's day:
// "<loc>.<YYYY-MM-DD>".
func Key(loc, day string) string { return loc + "." + day }

// Snapshot is one location-local day's statistics as stored in the
// statistics history: HighLevel's answers kept as they came, one chunk per
// call of at most 100 profiles.
type Snapshot struct {
	Day        string    `json:"day"`
	TakenAt    time.Time `json:"takenAt"`
	ProfileIDs []string  `json:"profileIds"`
	Platforms  []string  `json:"platforms,omitempty"`
	Chunks     []Chunk   `json:"chunks"`
	// Trigger identifies the request that took the snapshot, so that the
	// same request delivered again is recognised.
	Trigger string `json:"trigger"`
	// Published says the snapshot's events were published.
	Published bool `json:"published"`
	// Audience holds, per platform, the demographics of that platform's
	// accounts alone: one statistics answer's demographics per call.
	Audience map[string][]json.RawMessage `json:"audience,omitempty"`
	// Followed says the follow-ups ran: retention, report,
	// recommendations, custom values.
	Followed bool `json:"followed,omitempty"`
}

// Chunk is one statistics call's answer: the results object as
// HighLevel sent it, for the profiles of that call.
type Chunk struct {
	ProfileIDs []string        `json:"profileIds"`
	Statistics json.RawMessage `json:"statistics"`
	TraceID    string          `json:"traceId,omitempty"`
}

// EventID returns the message id of the event for chunk i of the snapshot
// that trigger took of loc's day: a redelivered trigger publishes the
// same ids, which the events stream drops as duplicates.
func EventID(loc, day, trigger string, i int) string {
	sum := sha256.Sum256([]byte(trigger))
	return "stats:" + loc + ":" + day + ":" + hex.EncodeToString(sum[:8]) + ":" + strconv.Itoa(i)
}
