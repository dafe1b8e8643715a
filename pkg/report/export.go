package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Archive is a location's statistics history over a day range, as
// `socialsync stats export` writes it: the daily figures and the stored
// snapshots they come from, untouched.
type Archive struct {
	Location    string            `json:"location"`
	From        string            `json:"from"`
	To          string            `json:"to"`
	ExportedAt  time.Time         `json:"exportedAt"`
	Days        []DayFigures      `json:"days"`
	MissingDays []string          `json:"missingDays"`
	Snapshots   []json.RawMessage `json:"snapshots"`
}

// NewArchive returns the archive of from … to: the daily figures of the
// snapshots, and raw, the stored snapshots taken in the range or within
// the window after it (they hold its days).
func NewArchive(loc, from, to string, snaps []Snapshot, raw map[string]json.RawMessage, now time.Time) (Archive, error) {
	days, err := Days(from, to)
	if err != nil {
		return Archive{}, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	a := Archive{Location: loc, From: from, To: to, ExportedAt: now.UTC(), Days: []DayFigures{}, MissingDays: []string{}, Snapshots: []json.RawMessage{}}
	daily := Daily(snaps)
	for _, d := range days {
		if f, ok := daily[d]; ok {
			a.Days = append(a.Days, f)
		} else {
			a.MissingDays = append(a.MissingDays, d)
		}
	}
	last, _ := Shift(to, Window)
	for _, k := range sortedKeys(raw) {
		if k >= from && k <= last {
			a.Snapshots = append(a.Snapshots, raw[k])
		}
	}
	return a, nil
}

// WriteJSON writes the archive as indented JSON.
func (a Archive) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(a)
}

// WriteCSV writes one row per day and platform: day, weekday, platform,
// posts, impressions, likes, followers, the day's comments over all
// platforms, and the snapshot the figures come from.
func (a Archive) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"day", "weekday", "platform", "posts", "impressions", "likes", "followers", "comments_all_platforms", "snapshot"})
	for _, d := range a.Days {
		for _, p := range sortedKeys(d.Platforms) {
			v := d.Platforms[p]
			_ = cw.Write([]string{d.Day, d.Weekday, textCell(p), num(v.Posts), num(v.Impressions), num(v.Likes), num(v.Followers), num(d.Comments), d.Source})
		}
	}
	cw.Flush()
	return cw.Error()
}
