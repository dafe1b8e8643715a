package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// HistoryKey returns the statistics history key of a location's day:
// "<loc>.<YYYY-MM-DD>".
func HistoryKey(loc, day string) string { return loc + "." + day }

// HistoryPattern matches the history keys of loc's days.
func HistoryPattern(loc string) string { return loc + ".*" }

// DayOfKey returns the day of a history key of loc ("<loc>.<day>"); false
// for a key of another location or no day.
func DayOfKey(loc, key string) (string, bool) {
	day, ok := strings.CutPrefix(key, loc+".")
	if !ok {
		return "", false
	}
	if _, err := time.Parse(DayLayout, day); err != nil {
		return "", false
	}
	return day, true
}

// Record is one location-local day's statistics as stored in the
// statistics history (HistoryKey): HighLevel's answers kept as they came,
// one chunk per call of at most 100 profiles. The stats worker writes it;
// reports are built from it (FromRecord).
type Record struct {
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

// FromRecord converts a stored snapshot for building reports.
func FromRecord(s Record) (Snapshot, error) {
	out := Snapshot{Day: s.Day, TakenAt: s.TakenAt}
	for i, c := range s.Chunks {
		var st ghl.Statistics
		if err := json.Unmarshal(c.Statistics, &st); err != nil {
			return Snapshot{}, fmt.Errorf("snapshot %s, answer %d: %w", s.Day, i, err)
		}
		out.Answers = append(out.Answers, st)
	}
	if len(s.Audience) > 0 {
		out.Audience = map[string][]ghl.Demographics{}
		for p, list := range s.Audience {
			for _, raw := range list {
				var d ghl.Demographics
				if err := json.Unmarshal(raw, &d); err != nil {
					return Snapshot{}, fmt.Errorf("snapshot %s, audience of %s: %w", s.Day, p, err)
				}
				out.Audience[p] = append(out.Audience[p], d)
			}
		}
	}
	return out, nil
}

// Name returns the object name of a location's report: "<loc>/<from>_<to>.<ext>".
func Name(loc, from, to string, f Format) string {
	return loc + "/" + from + "_" + to + "." + string(f)
}

// LatestName returns the object name of a location's latest report.
func LatestName(loc string, f Format) string { return loc + "/latest." + string(f) }
