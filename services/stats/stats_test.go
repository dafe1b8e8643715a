package stats_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/stats"
)

// snapshotOf waits for the snapshot of loc's day and returns it.
func snapshotOf(t *testing.T, env *fleettest.Env, loc, day string) report.Record {
	t.Helper()
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketStatsHistory)
	if err != nil {
		t.Fatal(err)
	}
	var snap report.Record
	fleettest.Eventually(t, 20*time.Second, "snapshot "+report.HistoryKey(loc, day), func() bool {
		e, err := kv.Get(context.Background(), report.HistoryKey(loc, day))
		if err != nil {
			return false
		}
		if err := json.Unmarshal(e.Value(), &snap); err != nil {
			t.Fatal(err)
		}
		return snap.Published
	})
	return snap
}

// snapshotEvents returns the StatsSnapshot events of loc.
func snapshotEvents(t *testing.T, env *fleettest.Env, loc string) []*socialsyncv1.StatsSnapshot {
	t.Helper()
	var out []*socialsyncv1.StatsSnapshot
	for _, m := range bustest.Messages(t, env.JS, topology.StreamEvents, "socialsync.event.stats."+loc) {
		var ev socialsyncv1.StatsSnapshot
		if err := bus.Unmarshal(m.Header, m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, &ev)
	}
	return out
}

// localDays returns the location-local days of the instants around a
// trigger, which are equal but for a trigger at midnight.
func localDays(t *testing.T, tz string, around ...time.Time) []string {
	t.Helper()
	zone, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, at := range around {
		days = append(days, at.In(zone).Format(report.DayLayout))
	}
	return slices.Compact(days)
}

// waitSnapshot waits for the snapshot of one of days.
func waitSnapshot(t *testing.T, env *fleettest.Env, loc string, days []string) report.Record {
	t.Helper()
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketStatsHistory)
	if err != nil {
		t.Fatal(err)
	}
	var day string
	fleettest.Eventually(t, 20*time.Second, "a snapshot of "+loc, func() bool {
		for _, d := range days {
			if e, err := kv.Get(context.Background(), report.HistoryKey(loc, d)); err == nil && strings.Contains(string(e.Value()), `"published":true`) {
				day = d
				return true
			}
		}
		return false
	})
	return snapshotOf(t, env, loc, day)
}

// A request for a demo location stores the snapshot of the location's own
// calendar day, with every connected account, and publishes it.
func TestSnapshotOfTheLocalDay(t *testing.T) {
	env := fleettest.Start(t, "demo")
	var l ghlsim.LocationInfo
	for _, c := range env.Locations {
		if c.Timezone == "Australia/Sydney" { // a day ahead of UTC for half of it
			l = c
		}
	}
	detail := env.Location(t, l.ID)
	var want []string
	for _, a := range detail.Accounts {
		want = append(want, a.ProfileID)
	}
	startWorker(t, env)

	before := time.Now()
	subject, _ := topology.StatsTriggers.Subject(l.ID)
	if _, err := env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.StatsRequested{LocationId: l.ID, RequestedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	snap := waitSnapshot(t, env, l.ID, localDays(t, l.Timezone, before, time.Now()))

	if diff := cmp.Diff(want, snap.ProfileIDs); diff != "" || len(want) == 0 {
		t.Errorf("snapshot profiles (-accounts +snapshot):\n%s", diff)
	}
	if len(snap.Chunks) != 1 || !strings.Contains(string(snap.Chunks[0].Statistics), `"totals"`) {
		t.Fatalf("snapshot chunks: %+v, want one with HighLevel's results", snap.Chunks)
	}
	if snap.TakenAt.Before(before.Add(-time.Second)) || snap.Trigger == "" {
		t.Errorf("snapshot taken at %v by %q", snap.TakenAt, snap.Trigger)
	}
	evs := snapshotEvents(t, env, l.ID)
	if len(evs) != 1 {
		t.Fatalf("got %d StatsSnapshot events, want 1", len(evs))
	}
	ev := evs[0]
	if ev.GetEndpoint() != stats.Endpoint || ev.GetDay() != snap.Day || !slices.Equal(ev.GetProfileIds(), want) {
		t.Errorf("event: endpoint %q day %q profiles %v", ev.GetEndpoint(), ev.GetDay(), ev.GetProfileIds())
	}
	metrics, err := protojson.Marshal(ev.GetMetrics())
	if err != nil {
		t.Fatal(err)
	}
	var fromEvent, fromKV map[string]any
	if err := json.Unmarshal(metrics, &fromEvent); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(snap.Chunks[0].Statistics, &fromKV); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fromKV, fromEvent); diff != "" {
		t.Errorf("event metrics differ from the stored statistics (-kv +event):\n%s", diff)
	}
	reqs := env.Requests(t, l.ID)
	if a, s := count(reqs, "GET", "/social-media-posting/"+l.ID+"/accounts"), count(reqs, "POST", "/social-media-posting/statistics"); a != 1 || s != 1 {
		t.Errorf("%d accounts and %d statistics calls, want 1 and 1", a, s)
	}
}

// 120 accounts take two statistics calls (100 + 20), stored as two chunks
// and published as two events, under the day of a location far east of
// UTC. The trigger is protojson, as `nats pub` sends it.
func TestManyProfilesTakeTwoCalls(t *testing.T) {
	env := fleettest.Start(t, "empty")
	accounts := make([]map[string]string, 120)
	for i := range accounts {
		accounts[i] = map[string]string{"platform": []string{"facebook", "instagram", "linkedin"}[i%3]}
	}
	l := env.NewLocation(t, map[string]any{"timezone": "Pacific/Kiritimati", "accounts": accounts})
	startWorker(t, env)

	before := time.Now()
	subject, _ := topology.StatsTriggers.Subject(l.ID)
	bustest.PublishRaw(t, env.JS, subject, []byte(`{"locationId":"`+l.ID+`","requestedBy":"nats-cli","eventId":"cli-1"}`), "Content-Type", "application/json")
	snap := waitSnapshot(t, env, l.ID, localDays(t, "Pacific/Kiritimati", before, time.Now()))

	if n := statisticsCalls(t, env, l.ID); n != 2 {
		t.Errorf("%d statistics calls, want 2", n)
	}
	if len(snap.ProfileIDs) != 120 || len(snap.Chunks) != 2 || len(snap.Chunks[0].ProfileIDs) != 100 || len(snap.Chunks[1].ProfileIDs) != 20 {
		t.Fatalf("snapshot: %d profiles in %d chunks, want 120 in 100 + 20", len(snap.ProfileIDs), len(snap.Chunks))
	}
	evs := snapshotEvents(t, env, l.ID)
	if len(evs) != 2 || len(evs[0].GetProfileIds()) != 100 || len(evs[1].GetProfileIds()) != 20 {
		t.Fatalf("got %d events, want one per call", len(evs))
	}
	// Platform filter: only the instagram third.
	bustest.PublishRaw(t, env.JS, subject, []byte(`{"locationId":"`+l.ID+`","platforms":["instagram"],"eventId":"cli-2"}`), "Content-Type", "application/json")
	fleettest.Eventually(t, 20*time.Second, "the filtered snapshot", func() bool { return len(snapshotEvents(t, env, l.ID)) == 3 })
	if got := snapshotEvents(t, env, l.ID)[2]; len(got.GetProfileIds()) != 40 {
		t.Errorf("instagram snapshot covers %d profiles, want 40", len(got.GetProfileIds()))
	}
}

// A location without accounts stores and publishes nothing; the request
// is acked, not retried.
func TestNoAccounts(t *testing.T) {
	env := fleettest.Start(t, "empty")
	l := env.NewLocation(t, map[string]any{"timezone": "Europe/Paris"})
	startWorker(t, env)
	subject, _ := topology.StatsTriggers.Subject(l.ID)
	ack, err := env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.StatsRequested{LocationId: l.ID})
	if err != nil {
		t.Fatal(err)
	}
	waitHandled(t, env, ack.Sequence)
	kv, _ := env.JS.KeyValue(context.Background(), topology.BucketStatsHistory)
	if keys, err := kv.ListKeys(context.Background()); err == nil {
		for k := range keys.Keys() {
			t.Errorf("snapshot stored: %s", k)
		}
	}
	if n := len(snapshotEvents(t, env, l.ID)); n != 0 || len(bustest.DeadLetters(t, env.JS, "")) != 0 || statisticsCalls(t, env, l.ID) != 0 {
		t.Errorf("%d events, %d dead letters; want none", n, len(bustest.DeadLetters(t, env.JS, "")))
	}
}

// The same request delivered twice (the second copy escaped the stream's
// duplicate window with its own Nats-Msg-Id) fetches and publishes once.
func TestDuplicateRequest(t *testing.T) {
	env := fleettest.Start(t, "demo")
	l := env.Locations[0]
	startWorker(t, env)
	subject, _ := topology.StatsTriggers.Subject(l.ID)
	req := &socialsyncv1.StatsRequested{LocationId: l.ID, RequestedBy: "test", EventId: "dup-1"}
	if _, err := env.Deps.Publisher.Publish(context.Background(), subject, req); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 20*time.Second, "the first event", func() bool { return len(snapshotEvents(t, env, l.ID)) == 1 })
	// The stream drops a copy within its window...
	if ack, err := env.Deps.Publisher.Publish(context.Background(), subject, req); err != nil || !ack.Duplicate {
		t.Fatalf("second publish: %+v, %v; want a duplicate", ack, err)
	}
	// ...and the worker recognises one that got through.
	ack := bustest.PublishRaw(t, env.JS, subject, bustest.Marshal(t, req), "Nats-Msg-Id", "another-id")
	waitHandled(t, env, ack.Sequence)
	if n := len(snapshotEvents(t, env, l.ID)); n != 1 {
		t.Errorf("%d StatsSnapshot events, want 1", n)
	}
	if n := statisticsCalls(t, env, l.ID); n != 1 {
		t.Errorf("%d statistics calls, want 1", n)
	}
}

// Bad input becomes a dead letter with a reason, and the worker goes on.
//
// A day range is judged on the worker's clock (pinned here, in the
// location's time zone): the last 7 days are served by today's snapshot,
// a range reaching older days or today is refused naming the limit.
func TestBadInputIsDeadLettered(t *testing.T) {
	env := fleettest.Start(t, "demo")
	l := env.Locations[0]
	zone, err := time.LoadLocation(l.Timezone)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 11, 12, 0, 0, 0, zone)
	startWorkerWith(t, env, func(w *stats.Worker) { stats.SetClock(w, func() time.Time { return now }) })
	subject, _ := topology.StatsTriggers.Subject(l.ID)
	pub := func(subject string, m *socialsyncv1.StatsRequested) {
		t.Helper()
		bustest.PublishRaw(t, env.JS, subject, bustest.Marshal(t, m))
	}
	bustest.PublishRaw(t, env.JS, subject, []byte("\xff\xfe not protobuf"))
	pub("socialsync.trigger.stats.NoSuchLocation1", &socialsyncv1.StatsRequested{LocationId: "NoSuchLocation1"})
	pub("socialsync.trigger.stats.bad-location", &socialsyncv1.StatsRequested{LocationId: "bad-location"})
	pub(subject, &socialsyncv1.StatsRequested{LocationId: "SomeOtherLocation"})
	pub(subject, &socialsyncv1.StatsRequested{LocationId: l.ID, Platforms: []string{"myspace"}})
	pub(subject, &socialsyncv1.StatsRequested{LocationId: l.ID, ProfileIds: []string{"000000000000000000000000"}})
	pub(subject, &socialsyncv1.StatsRequested{LocationId: l.ID, Range: &socialsyncv1.DateRange{From: "2026-03-03", To: "2026-03-10"}})
	pub(subject, &socialsyncv1.StatsRequested{LocationId: l.ID, Range: &socialsyncv1.DateRange{From: "2026-03-10", To: "2026-03-12"}})
	pub(subject, &socialsyncv1.StatsRequested{LocationId: l.ID, Range: &socialsyncv1.DateRange{From: "2026-03-10", To: "2026-03-10"}})
	pub(subject, &socialsyncv1.StatsRequested{LocationId: l.ID, EventId: "good", Range: &socialsyncv1.DateRange{From: "2026-03-04", To: "2026-03-11"}})

	fleettest.Eventually(t, 20*time.Second, "the valid request", func() bool { return len(snapshotEvents(t, env, l.ID)) == 1 })
	// The last 7 days before the pinned today: served by today's snapshot.
	if snap := snapshotOf(t, env, l.ID, "2026-03-11"); snap.Trigger != "event:good" {
		t.Errorf("snapshot of 2026-03-11 from trigger %q, want the request with the range", snap.Trigger)
	}
	want := []struct{ subject, reason string }{
		{"socialsync.dlq.stats." + l.ID, "undecodable"},
		{"socialsync.dlq.stats.NoSuchLocation1", "unknown location"},
		{"socialsync.dlq.stats._invalid", "invalid location id"},
		{"socialsync.dlq.stats." + l.ID, "does not match subject"},
		{"socialsync.dlq.stats." + l.ID, "unknown platforms myspace"},
		{"socialsync.dlq.stats." + l.ID, "not connected accounts"},
		{"socialsync.dlq.stats." + l.ID, "reaches back before 2026-03-04: HighLevel's statistics endpoint serves only the last 7 days (2026-03-04 … 2026-03-10)"},
		{"socialsync.dlq.stats." + l.ID, "includes 2026-03-11, which is not over"},
		{"socialsync.dlq.stats." + l.ID, "want from before to"},
	}
	var dls []bus.DeadLetter
	fleettest.Eventually(t, 10*time.Second, "dead letters", func() bool {
		dls = bustest.DeadLetters(t, env.JS, "")
		return len(dls) >= len(want)
	})
	if len(dls) != len(want) {
		t.Fatalf("got %d dead letters, want %d", len(dls), len(want))
	}
	// The consumer handles two messages at once: match in any order.
	for _, w := range want {
		i := slices.IndexFunc(dls, func(dl bus.DeadLetter) bool { return dl.Subject == w.subject && strings.Contains(dl.Reason, w.reason) })
		if i < 0 {
			t.Errorf("no dead letter on %s with %q among %+v", w.subject, w.reason, dls)
			continue
		}
		dls = slices.Delete(dls, i, i+1)
	}
}

// Every registered location gets one schedule, in its time zone; adding
// and removing a location adds and removes its schedule; a second replica
// (or a restart) publishes nothing again.
func TestSchedulePerLocation(t *testing.T) {
	env := fleettest.Start(t, "demo")
	stop := startWorker(t, env)
	ctx := context.Background()
	stream, err := env.JS.Stream(ctx, topology.StreamSchedules)
	if err != nil {
		t.Fatal(err)
	}
	schedule := func(loc string) *jetstream.RawStreamMsg {
		m, err := stream.GetLastMsgForSubject(ctx, "socialsync.schedule.stats."+loc)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, l := range env.Locations {
		fleettest.Eventually(t, 10*time.Second, "schedule of "+l.ID, func() bool { return schedule(l.ID) != nil })
		m := schedule(l.ID)
		if m.Header.Get("Nats-Schedule") != quietCron || m.Header.Get("Nats-Schedule-Time-Zone") != l.Timezone ||
			m.Header.Get("Nats-Schedule-Target") != "socialsync.scheduled.stats."+l.ID {
			t.Errorf("schedule of %s: headers %v", l.ID, m.Header)
		}
		var req socialsyncv1.StatsRequested
		if err := bus.Unmarshal(m.Header, m.Data, &req); err != nil || req.GetLocationId() != l.ID || req.GetRequestedBy() != stats.RequestedBySchedule {
			t.Errorf("schedule of %s fires %v (%v)", l.ID, &req, err)
		}
	}
	seqs := map[string]uint64{}
	for _, l := range env.Locations {
		seqs[l.ID] = schedule(l.ID).Sequence
	}

	added := env.NewLocation(t, map[string]any{"timezone": "Asia/Tokyo"})
	fleettest.Eventually(t, 10*time.Second, "schedule of the added location", func() bool {
		m := schedule(added.ID)
		return m != nil && m.Header.Get("Nats-Schedule-Time-Zone") == "Asia/Tokyo"
	})
	gone := env.Locations[1].ID
	kv, err := env.JS.KeyValue(ctx, topology.BucketLocations)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "schedule of the removed location gone", func() bool { return schedule(gone) == nil })

	// A restarted worker reconciles from scratch and republishes nothing.
	// Its watch handles the initial values before any update, so once it
	// has scheduled a location added after its start, it is done with the
	// others.
	stop()
	startWorker(t, env)
	later := env.NewLocation(t, map[string]any{"timezone": "Africa/Lagos"})
	fleettest.Eventually(t, 10*time.Second, "schedule of a location added after the restart", func() bool { return schedule(later.ID) != nil })
	for _, l := range env.Locations[:len(env.Locations)-1] {
		m := schedule(l.ID)
		switch {
		case l.ID == gone:
			if m != nil {
				t.Errorf("removed location %s was scheduled again", l.ID)
			}
		case m == nil:
			t.Errorf("schedule of %s lost", l.ID)
		case seqs[l.ID] != 0 && m.Sequence != seqs[l.ID]:
			t.Errorf("schedule of %s was republished (sequence %d, was %d)", l.ID, m.Sequence, seqs[l.ID])
		}
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(topology.StatsSchedules.Filter()))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.State.Subjects) != len(env.Locations)-1 {
		t.Errorf("%d schedules for %d registered locations", len(info.State.Subjects), len(env.Locations)-1)
	}
	for subj, n := range info.State.Subjects {
		if n != 1 {
			t.Errorf("%s holds %d messages, want 1", subj, n)
		}
	}
}

// A schedule firing (here every second) is a StatsRequested that the
// worker handles like any other; later firings the same day are
// recognised as the same request.
func TestScheduleFires(t *testing.T) {
	env := fleettest.Start(t, "empty")
	l := env.NewLocation(t, map[string]any{"timezone": "America/Chicago", "accounts": []map[string]string{{"platform": "google"}, {"platform": "youtube"}}})
	startWorker(t, env, func(c *stats.Config) { c.Cron = "@every 1s" })

	before := time.Now()
	snap := waitSnapshot(t, env, l.ID, localDays(t, "America/Chicago", before, time.Now().Add(5*time.Second)))
	if len(snap.ProfileIDs) != 2 || !strings.HasPrefix(snap.Trigger, "content:") {
		t.Errorf("scheduled snapshot: %d profiles, trigger %q", len(snap.ProfileIDs), snap.Trigger)
	}
	// Let it fire a few more times.
	first := bustest.Messages(t, env.JS, topology.StreamSchedules, "socialsync.scheduled.stats."+l.ID)
	fleettest.Eventually(t, 10*time.Second, "more firings", func() bool {
		later := bustest.Messages(t, env.JS, topology.StreamSchedules, "socialsync.scheduled.stats."+l.ID)
		return len(first) == 1 && len(later) == 1 && later[0].Sequence > first[0].Sequence+2
	})
	fired := bustest.Messages(t, env.JS, topology.StreamSchedules, "socialsync.scheduled.stats."+l.ID)[0]
	if fired.Header.Get("Nats-Scheduler") != "socialsync.schedule.stats."+l.ID {
		t.Errorf("fired message headers %v", fired.Header)
	}
	if n := len(snapshotEvents(t, env, l.ID)); n != 1 {
		t.Errorf("%d events after several firings on one day, want 1", n)
	}
	if n := statisticsCalls(t, env, l.ID); n != 1 {
		t.Errorf("%d statistics calls after several firings on one day, want 1", n)
	}
}

// New names the variable that is wrong.
func TestNewValidates(t *testing.T) {
	env := fleettest.Start(t, "empty")
	deps := statsDeps(t, env)
	tests := []struct {
		cfg  stats.Config
		want string
	}{
		{stats.Config{Concurrency: 0, Cron: "@daily"}, "SOCIALSYNC_STATS_CONCURRENCY"},
		{stats.Config{Concurrency: 1, Cron: "0 6 * * *"}, "SOCIALSYNC_STATS_CRON"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := stats.New(tt.cfg, deps)
			if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%+v) = %v, want an error naming %s", tt.cfg, err, tt.want)
			}
		})
	}
}

// A location connected through an agency install, with no time zone from
// the operator, is scheduled at 06:00 in the time zone HighLevel gives it
// (checked on its schedule record); one whose token lacks
// locations.readonly keeps its daily run, in UTC, with location_details
// off.
func TestScheduleInHighLevelsTimeZone(t *testing.T) {
	env := fleettest.Start(t, "empty")
	ctx := context.Background()
	var kiwi, lagos struct{ ID, Token string }
	env.Admin(t, http.MethodPost, "/_sandbox/locations", map[string]any{"name": "Kiwi Coffee", "timezone": "Pacific/Auckland"}, &kiwi)
	env.Admin(t, http.MethodPost, "/_sandbox/locations", map[string]any{"name": "Lagos Books", "timezone": "Africa/Lagos"}, &lagos)
	a := env.Sim.Apps()[0]
	app := ghl.AppCredentials{ClientID: a.ClientID, ClientSecret: a.ClientSecret}
	gc, err := ghl.New(ghl.Options{BaseURL: env.SimURL, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	agency := fleettest.Authorize(t, env.SimURL, app, "", "", ghl.UserTypeCompany)
	if _, err := env.Deps.Creds.ConnectAgency(ctx, gc, agency); err != nil {
		t.Fatal(err)
	}
	if l, err := env.Deps.Creds.Location(ctx, kiwi.ID); err != nil || l.Timezone != "" || l.Name != "Kiwi Coffee" {
		t.Fatalf("agency-installed location %+v (%v): want HighLevel's name and no time zone yet", l, err)
	}
	var scopes []string
	for _, s := range ghl.LocationScopes() {
		if s != "locations.readonly" {
			scopes = append(scopes, s)
		}
	}
	narrow := fleettest.Authorize(t, env.SimURL, app, lagos.ID, strings.Join(scopes, " "), ghl.UserTypeLocation)
	if err := env.Deps.Creds.AddOAuth(ctx, creds.Location{ID: lagos.ID}, narrow); err != nil {
		t.Fatal(err)
	}

	startWorker(t, env)
	stream, err := env.JS.Stream(ctx, topology.StreamSchedules)
	if err != nil {
		t.Fatal(err)
	}
	schedule := func(loc, tz string) func() bool {
		return func() bool {
			m, err := stream.GetLastMsgForSubject(ctx, "socialsync.schedule.stats."+loc)
			return err == nil && m.Header.Get("Nats-Schedule") == quietCron && m.Header.Get("Nats-Schedule-Time-Zone") == tz
		}
	}
	fleettest.Eventually(t, 20*time.Second, "06:00 Pacific/Auckland on the schedule of "+kiwi.ID, schedule(kiwi.ID, "Pacific/Auckland"))
	l, err := env.Deps.Creds.Location(ctx, kiwi.ID)
	if err != nil || l.Timezone != "Pacific/Auckland" || l.TimezoneSource() != creds.SourceHighLevel {
		t.Errorf("location %+v (%v): want HighLevel's time zone", l, err)
	}

	fleettest.Eventually(t, 20*time.Second, "location_details off for "+lagos.ID, func() bool {
		l, err := env.Deps.Creds.Location(ctx, lagos.ID)
		_, off := l.FeatureDisabled(creds.FeatureLocationDetails)
		return err == nil && off
	})
	fleettest.Eventually(t, 20*time.Second, "06:00 UTC on the schedule of "+lagos.ID, schedule(lagos.ID, ""))
	if l, _ := env.Deps.Creds.Location(ctx, lagos.ID); l.State != creds.StateActive || l.TimezoneSource() != creds.SourceDefault {
		t.Errorf("location without locations.readonly: %+v; want active, default time zone", l)
	}
}
