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

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/report/source"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/stats"
	"github.com/socialsync/socialsync/services/stats/snapshot"
)

// followed waits for loc's snapshot of one of days to be followed up.
func followed(t *testing.T, env *fleettest.Env, loc string, days []string) report.Record {
	t.Helper()
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketStatsHistory)
	if err != nil {
		t.Fatal(err)
	}
	var snap report.Record
	fleettest.Eventually(t, 30*time.Second, "snapshot followed up", func() bool {
		for _, d := range days {
			if e, err := kv.Get(context.Background(), report.HistoryKey(loc, d)); err == nil {
				if json.Unmarshal(e.Value(), &snap) == nil && snap.Followed {
					return true
				}
			}
		}
		return false
	})
	return snap
}

// trigger publishes a StatsRequested (without Nats-Msg-Id, so that a
// repeat reaches the worker) and returns its stream sequence.
func trigger(t *testing.T, env *fleettest.Env, loc, eventID string) uint64 {
	t.Helper()
	subject, _ := topology.StatsTriggers.Subject(loc)
	return bustest.PublishRaw(t, env.JS, subject, bustest.Marshal(t, &socialsyncv1.StatsRequested{LocationId: loc, RequestedBy: "test", EventId: eventID})).Sequence
}

func customValues(t *testing.T, env *fleettest.Env, loc string) map[string]string {
	t.Helper()
	detail := env.Location(t, loc)
	out := map[string]string{}
	for _, cv := range detail.CustomValues {
		out[cv.Name] = cv.Value
	}
	return out
}

func settingsKV(t *testing.T, env *fleettest.Env) jetstream.KeyValue {
	t.Helper()
	kv, err := settings.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// A run stores a report whose per-platform totals are the statistics
// endpoint's, in every format; publishes recommendations that, with one
// week of history, say which data is missing; and writes them, with the
// mapped statistics, to the location's custom values.
func TestRunReportsRecommendsAndWritesCustomValues(t *testing.T) {
	env := fleettest.Start(t, "empty")
	l := env.NewLocation(t, map[string]any{"timezone": "Europe/Paris", "accounts": []map[string]string{
		{"platform": "facebook"}, {"platform": "instagram"}, {"platform": "instagram"}}})
	ctx := context.Background()
	if err := settings.PutMapping(ctx, settingsKV(t, env), settings.Mapping{Location: l.ID, CustomValues: []settings.ValueMapping{
		{Name: "Weekly impressions", From: "totals.impressions"}, {Name: "IG reach", From: "instagram.reach"}}}); err != nil {
		t.Fatal(err)
	}
	startWorker(t, env, func(c *stats.Config) { c.AudienceByPlatform = true })

	before := time.Now()
	trigger(t, env, l.ID, "run-1")
	snap := followed(t, env, l.ID, localDays(t, "Europe/Paris", before, time.Now().Add(30*time.Second)))

	// What the endpoint answers the same day, asked directly.
	accounts, err := env.Deps.Client(l.ID).Accounts(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range accounts.Accounts {
		ids = append(ids, a.ProfileID)
	}
	chunks, err := env.Deps.Client(l.ID).Statistics(ctx, l.ID, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := chunks[0].Statistics
	// One call for the location, one per platform for the audience.
	if n := statisticsCalls(t, env, l.ID); n != 4 {
		t.Errorf("%d statistics calls, want 4 (3 by the worker, 1 by the test)", n)
	}

	store, err := env.JS.ObjectStore(ctx, topology.ObjectStoreReports)
	if err != nil {
		t.Fatal(err)
	}
	to, _ := report.Shift(snap.Day, -1)
	from, _ := report.Shift(to, -27)
	data, err := store.GetBytes(ctx, report.Name(l.ID, from, to, report.JSON))
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Platforms) != 2 || len(r.MissingDays) != 21 {
		t.Fatalf("report: %d platforms, %d missing days; want 2 and 21", len(r.Platforms), len(r.MissingDays))
	}
	for _, p := range r.Platforms {
		want := []float64{st.Breakdowns.Posts.Platforms[p.Platform].Value, st.PlatformTotals.Impressions[p.Platform].Total,
			st.PlatformTotals.Likes[p.Platform].Total, st.PlatformTotals.Followers[p.Platform].Total}
		if diff := cmp.Diff(want, []float64{p.Posts, p.Impressions, p.Likes, p.Followers}); diff != "" {
			t.Errorf("%s posts, impressions, likes, followers (-endpoint +report):\n%s", p.Platform, diff)
		}
	}
	if r.Statistics == nil || len(r.Statistics.Answers) != 1 || !cmp.Equal(r.Statistics.Answers[0].PlatformTotals, st.PlatformTotals) {
		t.Errorf("report's statistics section is not the endpoint's answer: %+v", r.Statistics)
	}
	for _, f := range report.Formats() {
		for _, name := range []string{report.Name(l.ID, from, to, f), report.LatestName(l.ID, f)} {
			if info, err := store.GetInfo(ctx, name); err != nil || info.Size == 0 {
				t.Errorf("report %s: %v", name, err)
			}
		}
	}

	evs := bustest.Messages(t, env.JS, topology.StreamEvents, "socialsync.event.recommendation."+l.ID)
	if len(evs) != 1 {
		t.Fatalf("%d recommendation events, want 1", len(evs))
	}
	var ev socialsyncv1.RecommendationsUpdated
	if err := bus.Unmarshal(evs[0].Header, evs[0].Data, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.GetCadence()) != 2 || ev.GetReport() != report.Name(l.ID, from, to, report.JSON) {
		t.Fatalf("event %v", &ev)
	}
	for _, c := range ev.GetCadence() {
		if c.GetStatus() != report.StatusNotEnoughData || c.GetDays() != 7 || !strings.Contains(strings.Join(c.GetMissing(), ";"), "14 days of statistics, have 7") {
			t.Errorf("%s cadence from one week: %v", c.GetPlatform(), c)
		}
	}
	// The audience is each platform's own, as the endpoint gives it for
	// that platform's accounts.
	for _, a := range ev.GetAudience() {
		var pids []string
		for _, acc := range accounts.Accounts {
			if acc.Platform == a.GetPlatform() {
				pids = append(pids, acc.ProfileID)
			}
		}
		own, err := env.Deps.Client(l.ID).Statistics(ctx, l.ID, pids, []string{a.GetPlatform()})
		if err != nil {
			t.Fatal(err)
		}
		if a.GetStatus() != report.StatusOK || a.GetGenders()["female"] != own[0].Statistics.Demographics.Gender.Totals["female"].Total {
			t.Errorf("%s audience %v, endpoint %+v", a.GetPlatform(), a, own[0].Statistics.Demographics.Gender)
		}
	}

	cv := customValues(t, env, l.ID)
	if v := cv["socialsync_facebook_posts_per_week"]; !strings.HasPrefix(v, "not enough data: need 14 days of statistics, have 7") {
		t.Errorf("socialsync_facebook_posts_per_week = %q", v)
	}
	if cv["socialsync_instagram_audience"] == "" || strings.HasPrefix(cv["socialsync_instagram_audience"], "not enough") {
		t.Errorf("socialsync_instagram_audience = %q", cv["socialsync_instagram_audience"])
	}
	if got, want := cv["Weekly impressions"], snapshot.FormatNumber(st.Totals.Impressions); got != want {
		t.Errorf("mapped custom value %q, want %q", got, want)
	}
	if got, want := cv["IG reach"], snapshot.FormatNumber(st.Breakdowns.Reach.Platforms["instagram"].Value); got != want {
		t.Errorf("mapped custom value %q, want %q", got, want)
	}
	// The recommendations written are recorded for a purge; the mapped
	// values, named by the location, are not socialsync's to delete.
	rel, err := env.JS.KeyValue(ctx, topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	var written relations.WrittenValues
	if _, err := revision.Load(ctx, rel, relations.WrittenValuesKey(l.ID), &written); err != nil {
		t.Fatal(err)
	}
	for name := range cv {
		if strings.HasPrefix(name, "socialsync_") != slices.Contains(written.Names, strings.ToLower(name)) {
			t.Errorf("custom value %q: recorded %v in %v", name, slices.Contains(written.Names, strings.ToLower(name)), written.Names)
		}
	}

	// The same request again writes nothing more.
	writes := count(env.Requests(t, l.ID), "POST", "/locations/"+l.ID+"/customValues")
	waitHandled(t, env, trigger(t, env, l.ID, "run-1"))
	if n := len(bustest.Messages(t, env.JS, topology.StreamEvents, "socialsync.event.recommendation."+l.ID)); n != 1 {
		t.Errorf("%d recommendation events after a duplicate request", n)
	}
	if n := count(env.Requests(t, l.ID), "POST", "/locations/"+l.ID+"/customValues"); n != writes {
		t.Errorf("custom values created again: %d → %d", writes, n)
	}
}

// Snapshots older than the location's retention are pruned after a run;
// younger ones stay.
func TestRetentionPrunes(t *testing.T) {
	env := fleettest.Start(t, "empty")
	l := env.NewLocation(t, map[string]any{"timezone": "UTC", "accounts": []map[string]string{{"platform": "google"}}})
	ctx := context.Background()
	kv, err := env.JS.KeyValue(ctx, topology.BucketStatsHistory)
	if err != nil {
		t.Fatal(err)
	}
	// The worker's clock is pinned, so that the days around the
	// retention's edge stay where they are whatever the time of day.
	today := time.Date(2026, time.March, 11, 12, 0, 0, 0, time.UTC)
	start := time.Now()
	old := []string{today.AddDate(0, 0, -500).Format(report.DayLayout), today.AddDate(0, 0, -31).Format(report.DayLayout)}
	kept := []string{today.AddDate(0, 0, -29).Format(report.DayLayout), today.AddDate(0, 0, -3).Format(report.DayLayout)}
	for _, d := range append(append([]string{}, old...), kept...) {
		data, _ := json.Marshal(report.Record{Day: d, Trigger: "old", Published: true, Followed: true})
		if _, err := kv.Put(ctx, report.HistoryKey(l.ID, d), data); err != nil {
			t.Fatal(err)
		}
	}
	if err := settings.PutStats(ctx, settingsKV(t, env), l.ID, settings.Stats{RetentionDays: 30}); err != nil {
		t.Fatal(err)
	}
	startWorkerWith(t, env, func(w *stats.Worker) {
		stats.SetClock(w, func() time.Time { return today.Add(time.Since(start)) })
	}, func(c *stats.Config) { c.RetentionDays = 400 })
	trigger(t, env, l.ID, "prune-1")
	snap := followed(t, env, l.ID, []string{today.Format(report.DayLayout)})

	days, err := source.StoredDays(ctx, env.JS, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(kept, snap.Day), days); diff != "" {
		t.Errorf("days kept (-want +got):\n%s", diff)
	}
}

// Changing a location's cron and time zone in the settings bucket
// reschedules it at once, with no restart; removing the setting brings
// the default back.
func TestScheduleChangeTakesEffectLive(t *testing.T) {
	env := fleettest.Start(t, "empty")
	l := env.NewLocation(t, map[string]any{"timezone": "America/Chicago", "accounts": []map[string]string{{"platform": "youtube"}}})
	startWorker(t, env)
	ctx := context.Background()
	stream, err := env.JS.Stream(ctx, topology.StreamSchedules)
	if err != nil {
		t.Fatal(err)
	}
	scheduled := func(spec, tz string) func() bool {
		return func() bool {
			m, err := stream.GetLastMsgForSubject(ctx, "socialsync.schedule.stats."+l.ID)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return false
			}
			if err != nil {
				t.Fatal(err)
			}
			return m.Header.Get("Nats-Schedule") == spec && m.Header.Get("Nats-Schedule-Time-Zone") == tz
		}
	}
	fleettest.Eventually(t, 10*time.Second, "the default schedule", scheduled(quietCron, "America/Chicago"))

	kv := settingsKV(t, env)
	if err := settings.PutStats(ctx, kv, l.ID, settings.Stats{Cron: "0 30 7 * * mon-fri", Timezone: "Asia/Tokyo"}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the location's schedule", scheduled("0 30 7 * * mon-fri", "Asia/Tokyo"))

	// A schedule that fires every second takes a snapshot now.
	if err := settings.PutStats(ctx, kv, l.ID, settings.Stats{Cron: "@every 1s"}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the every-second schedule", scheduled("@every 1s", ""))
	before := time.Now()
	waitSnapshot(t, env, l.ID, localDays(t, "America/Chicago", before, time.Now().Add(10*time.Second)))

	if err := kv.Delete(ctx, settings.StatsKey(l.ID)); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the default schedule again", scheduled(quietCron, "America/Chicago"))
}

// A location whose OAuth token lacks the custom value scopes is followed
// up all the same: the refused listing turns custom values off on the
// location record, with no refresh and no re-authorisation.
func TestCustomValuesOffWhenTheScopeIsRefused(t *testing.T) {
	env := fleettest.Start(t, "empty")
	l := env.NewLocation(t, map[string]any{"timezone": "UTC", "accounts": []map[string]string{{"platform": "facebook"}}})
	var scopes []string
	for _, s := range ghl.LocationScopes() {
		if !strings.HasPrefix(s, "locations/customValues.") {
			scopes = append(scopes, s)
		}
	}
	a := env.Sim.Apps()[0]
	tok := fleettest.Authorize(t, env.SimURL, ghl.AppCredentials{ClientID: a.ClientID, ClientSecret: a.ClientSecret}, l.ID,
		strings.Join(scopes, " "), ghl.UserTypeLocation)
	ctx := context.Background()
	if err := env.Deps.Creds.AddOAuth(ctx, creds.Location{ID: l.ID, Timezone: "UTC"}, tok); err != nil {
		t.Fatal(err)
	}
	exchanges := count(env.Requests(t, l.ID), http.MethodPost, "/oauth/token")
	startWorker(t, env)

	before := time.Now()
	trigger(t, env, l.ID, "run-1")
	followed(t, env, l.ID, localDays(t, "UTC", before, time.Now().Add(30*time.Second)))
	loc, err := env.Deps.Creds.Location(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d, off := loc.FeatureDisabled(creds.FeatureCustomValues); !off || d.Scope != "locations/customValues.readonly" || loc.State != creds.StateActive {
		t.Errorf("location %+v; want active with custom_values off for locations/customValues.readonly", loc)
	}
	cvPath := "/locations/" + l.ID + "/customValues"
	reqs := env.Requests(t, l.ID)
	if n := count(reqs, http.MethodGet, cvPath); n != 1 {
		t.Errorf("custom values listed %d times, want once", n)
	}
	if n := count(reqs, http.MethodPost, "/oauth/token") - exchanges; n != 0 {
		t.Errorf("%d token refreshes for a refused scope, want none", n)
	}
	if cvs := customValues(t, env, l.ID); len(cvs) != 0 {
		t.Errorf("custom values %v, want none", cvs)
	}
}
