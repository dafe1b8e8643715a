package stats

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/settings"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/stats/snapshot"
)

// Fast tests of the statistics handler on fakes of the worker's own
// interfaces: no JetStream, no simulator. stats_test.go and
// follow_test.go run the same paths on the real ones.

// fakes are the worker's dependencies in memory.
type fakes struct {
	accounts []ghl.Account
	chunks   []ghl.StatisticsChunk
	calls    []string // HighLevel calls, by name
	history  map[string]report.Record
	revs     map[string]uint64
	// conflictPublished makes the store marking a snapshot published
	// lose to a newer request of the day.
	conflictPublished bool
	published         []string // message ids
	retention         int      // the location's setting
	built             [][2]string
	reports           []string
	customValues      map[string]string
	// location is the location's record (nil: one in Berlin, set by the
	// operator); learned is what LearnDetails makes of it (nil: the same).
	location, learned *creds.Location
}

func (f *fakes) Publish(_ context.Context, _ string, _ proto.Message, opts ...bus.PublishOption) (*jetstream.PubAck, error) {
	f.published = append(f.published, bus.MsgIDOf(opts...))
	return &jetstream.PubAck{}, nil
}
func (f *fakes) Schedule(context.Context, bus.Schedule, proto.Message) (*jetstream.PubAck, error) {
	return nil, errors.New("not in this test")
}
func (f *fakes) Unschedule(context.Context, string) error { return errors.New("not in this test") }

func (f *fakes) Location(_ context.Context, loc string) (creds.Location, error) {
	if f.location != nil {
		return *f.location, nil
	}
	return creds.Location{ID: loc, Timezone: "Europe/Berlin"}, nil
}
func (f *fakes) DisableFeature(context.Context, string, creds.Feature, string) error { return nil }
func (f *fakes) LearnDetails(ctx context.Context, loc string, _ creds.LocationReader) (creds.Location, error) {
	f.calls = append(f.calls, "location")
	if f.learned != nil {
		return *f.learned, nil
	}
	return f.Location(ctx, loc)
}

// fakeClient is the fakes as the worker's HighLevel client, whose
// Location is HighLevel's record of it.
type fakeClient struct{ *fakes }

func (fakeClient) Location(_ context.Context, loc string) (ghl.LocationDetails, error) {
	return ghl.LocationDetails{ID: loc, Timezone: "Europe/Berlin"}, nil
}

func (f *fakes) Accounts(context.Context, string) (ghl.AccountsResults, error) {
	f.calls = append(f.calls, "accounts")
	return ghl.AccountsResults{Accounts: f.accounts}, nil
}
func (f *fakes) Statistics(context.Context, string, []string, []string) ([]ghl.StatisticsChunk, error) {
	f.calls = append(f.calls, "statistics")
	return f.chunks, nil
}
func (f *fakes) CustomValues(context.Context, string) ([]ghl.CustomValue, error) { return nil, nil }
func (f *fakes) UpdateCustomValue(context.Context, string, string, string, string) (ghl.CustomValue, error) {
	return ghl.CustomValue{}, errors.New("not in this test")
}
func (f *fakes) EnsureCustomValue(_ context.Context, _, name, value string) (ghl.CustomValue, error) {
	f.customValues[name] = value
	return ghl.CustomValue{Name: name, Value: value}, nil
}

func (f *fakes) Settings(context.Context, string) (settings.Stats, error) {
	return settings.Stats{RetentionDays: f.retention}, nil
}
func (f *fakes) Mapping(context.Context, string) (settings.Mapping, bool, error) {
	return settings.Mapping{}, false, nil
}
func (f *fakes) HistoryDays(_ context.Context, loc string) ([]string, error) {
	var days []string
	for key := range f.history {
		if day, ok := report.DayOfKey(loc, key); ok {
			days = append(days, day)
		}
	}
	return days, nil
}
func (f *fakes) Prune(_ context.Context, key string) error {
	delete(f.history, key)
	delete(f.revs, key)
	return nil
}
func (f *fakes) Build(_ context.Context, loc string, _ *time.Location, from, to string, now time.Time) (report.Report, error) {
	f.built = append(f.built, [2]string{from, to})
	return report.Report{Location: loc, From: from, To: to, GeneratedAt: now,
		Recommendations: report.Recommendations{From: from, To: to}}, nil
}
func (f *fakes) StoreReport(_ context.Context, r report.Report) (string, error) {
	name := report.Name(r.Location, r.From, r.To, report.JSON)
	f.reports = append(f.reports, name)
	return name, nil
}

func (f *fakes) Load(_ context.Context, key string) (*report.Record, uint64, error) {
	r, ok := f.history[key]
	if !ok {
		return nil, 0, nil
	}
	return &r, f.revs[key], nil
}

func (f *fakes) Store(_ context.Context, key string, snap report.Record, rev uint64) (uint64, error) {
	if f.revs[key] != rev || snap.Published && f.conflictPublished {
		return 0, errConflict
	}
	f.history[key], f.revs[key] = snap, rev+1
	return rev + 1, nil
}

// at is a request's arrival: 23:30 UTC, already the next day in Berlin.
var at = time.Date(2026, 3, 11, 23, 30, 0, 0, time.UTC)

func newTestHandler(t *testing.T, f *fakes) *handler {
	t.Helper()
	w, err := New(Config{Concurrency: 1, Cron: "@daily", ReportDays: 28, CustomValues: true}, Deps{Publisher: f, Locations: f,
		Client: func(string) Client { return fakeClient{f} }, History: f, FollowUps: f, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w.SetClock(func() time.Time { return at })
	return &handler{w: w}
}

func newFakes() *fakes {
	return &fakes{history: map[string]report.Record{}, revs: map[string]uint64{}, customValues: map[string]string{}}
}

// A new request stores the snapshot of the location-local day (Berlin's,
// an hour ahead of UTC at 23:30) before it publishes one event per
// statistics answer, under ids derived from the location, day and trigger.
func TestTakeStoresThenPublishesOnTheLocalDay(t *testing.T) {
	f := newFakes()
	f.accounts = []ghl.Account{{ProfileID: "fb1", Platform: "facebook"}}
	f.chunks = []ghl.StatisticsChunk{{ProfileIDs: []string{"fb1"}}}
	f.conflictPublished = true // stop before the follow-ups
	h := newTestHandler(t, f)
	if err := h.take(context.Background(), "loc1", &socialsyncv1.StatsRequested{LocationId: "loc1"}, at, "event:e1"); err != nil {
		t.Fatal(err)
	}
	key := report.HistoryKey("loc1", "2026-03-12")
	snap, ok := f.history[key]
	if !ok || snap.Trigger != "event:e1" || len(snap.Chunks) != 1 || snap.Published {
		t.Fatalf("history %v; want the unpublished snapshot of 2026-03-12 (Berlin) under %s", f.history, key)
	}
	if want := snapshot.EventID("loc1", "2026-03-12", "event:e1", 0); len(f.published) != 1 || f.published[0] != want {
		t.Errorf("published %v, want one event %s", f.published, want)
	}
}

// A location with no time zone from the operator, not yet asked, gets
// HighLevel's before its day is cut: 23:30 UTC is already tomorrow in
// Auckland.
func TestTakeLearnsTheTimeZone(t *testing.T) {
	f := newFakes()
	f.accounts = []ghl.Account{{ProfileID: "fb1", Platform: "facebook"}}
	f.chunks = []ghl.StatisticsChunk{{ProfileIDs: []string{"fb1"}}}
	f.conflictPublished = true // stop before the follow-ups
	f.location = &creds.Location{ID: "loc1", Name: "Kiwi Coffee", State: creds.StateActive}
	f.learned = &creds.Location{ID: "loc1", Name: "Kiwi Coffee", State: creds.StateActive, Timezone: "Pacific/Auckland",
		TimezoneFrom: creds.SourceHighLevel, LearnedAt: at}
	if err := newTestHandler(t, f).take(context.Background(), "loc1", &socialsyncv1.StatsRequested{LocationId: "loc1"}, at, "event:e1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.history[report.HistoryKey("loc1", "2026-03-12")]; !ok || f.calls[0] != "location" {
		t.Errorf("history %v after calls %v; want HighLevel's time zone read first and the snapshot of 2026-03-12 (Auckland)", f.history, f.calls)
	}
}

// A request handled before (same trigger, same day, followed up) calls
// HighLevel no more and publishes nothing; one with no accounts stores
// nothing; a day range out of reach is refused for good.
func TestTakeWithoutCalls(t *testing.T) {
	key := report.HistoryKey("loc1", "2026-03-12")
	tests := []struct {
		name      string
		req       *socialsyncv1.StatsRequested
		stored    *report.Record
		permanent bool
		calls     int
	}{
		{"followed already", &socialsyncv1.StatsRequested{LocationId: "loc1"}, &report.Record{Day: "2026-03-12", Trigger: "event:e1", Published: true, Followed: true}, false, 0},
		{"no accounts", &socialsyncv1.StatsRequested{LocationId: "loc1"}, nil, false, 1},
		{"half a day range", &socialsyncv1.StatsRequested{LocationId: "loc1", Range: &socialsyncv1.DateRange{From: "2026-03-01"}}, nil, true, 0},
		{"day range out of reach", &socialsyncv1.StatsRequested{LocationId: "loc1", Range: &socialsyncv1.DateRange{From: "2026-03-04", To: "2026-03-11"}}, nil, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakes()
			if tt.stored != nil {
				f.history[key], f.revs[key] = *tt.stored, 5
			}
			err := newTestHandler(t, f).take(context.Background(), "loc1", tt.req, at, "event:e1")
			var p interface{ Permanent() bool }
			if got := errors.As(err, &p) && p.Permanent(); got != tt.permanent || (!tt.permanent && err != nil) {
				t.Errorf("take = %v, want permanent %v", err, tt.permanent)
			}
			if len(f.calls) != tt.calls || len(f.published) != 0 {
				t.Errorf("HighLevel calls %v, published %v; want %d calls and nothing published", f.calls, f.published, tt.calls)
			}
			if tt.stored == nil && len(f.history) != 0 {
				t.Errorf("history %v, want nothing stored", f.history)
			}
		})
	}
}

// The follow-ups of a new snapshot prune the days past the location's
// retention, build and store the report of the ReportDays before the
// snapshot's day, announce the recommendations, write them to custom
// values, and mark the snapshot followed.
func TestTakeFollowsUp(t *testing.T) {
	f := newFakes()
	f.accounts = []ghl.Account{{ProfileID: "fb1", Platform: "facebook"}}
	f.chunks = []ghl.StatisticsChunk{{ProfileIDs: []string{"fb1"}}}
	f.retention = 5
	for _, day := range []string{"2026-03-01", "2026-03-09"} {
		f.history[report.HistoryKey("loc1", day)] = report.Record{Day: day, Trigger: "event:old", Published: true, Followed: true}
	}
	h := newTestHandler(t, f)
	if err := h.take(context.Background(), "loc1", &socialsyncv1.StatsRequested{LocationId: "loc1"}, at, "event:e2"); err != nil {
		t.Fatal(err)
	}
	var days []string
	for key := range f.history {
		days = append(days, key)
	}
	slices.Sort(days)
	if diff := cmp.Diff([]string{"loc1.2026-03-09", "loc1.2026-03-12"}, days); diff != "" {
		t.Errorf("history after pruning to 5 days (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][2]string{{"2026-02-12", "2026-03-11"}}, f.built); diff != "" {
		t.Errorf("reports built (-want +got):\n%s", diff)
	}
	if len(f.reports) != 1 {
		t.Errorf("reports stored %v, want one", f.reports)
	}
	// One snapshot event, then the recommendations.
	if len(f.published) != 2 || !strings.HasPrefix(f.published[1], "recommendation:loc1:2026-03-12:") {
		t.Errorf("published %v; want the snapshot's event and the recommendations", f.published)
	}
	if f.customValues["socialsync_recommendations_period"] != "2026-02-12 … 2026-03-11" {
		t.Errorf("custom values %v; want the recommendations' period", f.customValues)
	}
	if snap := f.history["loc1.2026-03-12"]; !snap.Published || !snap.Followed {
		t.Errorf("snapshot %+v; want it published and followed", snap)
	}
}
