package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/services/stats"
)

// pinnedClock returns a clock that runs from at, and sets the simulator
// of env to run from at too, so that a test's days are the same whatever
// the date, the time of day or the time zone it runs in.
func pinnedClock(t *testing.T, env *fleettest.Env, at time.Time) func() time.Time {
	t.Helper()
	start := time.Now()
	env.Admin(t, http.MethodPut, "/_sandbox/clock", map[string]string{"offset": at.Sub(start).String()}, nil)
	return func() time.Time { return at.Add(time.Since(start)) }
}

// noon is the instant the date-dependent tests run at: a Wednesday, at
// noon UTC, far from any midnight.
var noon = time.Date(2026, time.March, 11, 12, 0, 0, 0, time.UTC)

// statsFleet runs a stats worker on a fleet with one location (UTC) with
// a facebook and an instagram account; the worker and the simulator run
// on the clock it returns, from at.
func statsFleet(t *testing.T, at time.Time) (*fleettest.Env, string, func() time.Time) {
	t.Helper()
	env := fleettest.Start(t, "empty")
	clock := pinnedClock(t, env, at)
	l := env.NewLocation(t, map[string]any{"timezone": "UTC", "accounts": []map[string]string{{"platform": "facebook"}, {"platform": "instagram"}}})
	w, err := NewStats(context.Background(), stats.Config{Config: env.Deps.Config, Concurrency: 2, Cron: "0 0 6 * * *", ReportDays: 28, AudienceByPlatform: true, CustomValues: true}, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	w.SetClock(clock)
	env.RunWorker(t, "stats", w)
	return env, l.ID, clock
}

// Backfill fills what the statistics endpoint still serves, names the days
// it cannot reach, and has nothing left to do when run again; the report
// and the export then carry the endpoint's figures. Every clock (the
// command line's, the worker's, the simulator's) runs from noon on one
// fixed day.
func TestStatsBackfillReportExport(t *testing.T) {
	env, loc, clock := statsFleet(t, noon)
	utcDay := func(n int) string { return noon.AddDate(0, 0, n).Format(report.DayLayout) }
	runCLI := func(t *testing.T, args ...string) (string, string, int) {
		t.Helper()
		return runCLIAt(t, clock, args...)
	}
	from, to := utcDay(-10), utcDay(-1)
	out, errOut, code := runCLI(t, "stats", "backfill", "--nats", env.URL(), "--location", loc, "--from", from, "--to", to)
	if code != 0 {
		t.Fatalf("backfill: exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{
		"filled 7 days from today's statistics: " + strings.Join(days(t, utcDay(-7), to), " "),
		"out of reach: 3 days (HighLevel's statistics endpoint serves only " + utcDay(-7) + " … yesterday): " + strings.Join(days(t, from, utcDay(-8)), " "),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("backfill output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runCLI(t, "stats", "backfill", "--nats", env.URL(), "--location", loc, "--from", from, "--to", to)
	if code != 0 || !strings.Contains(out, "nothing to fill") || !strings.Contains(out, "already stored: 7 days") {
		t.Errorf("second backfill: exit %d:\n%s", code, out)
	}

	// The endpoint's answer today, asked directly.
	ctx := context.Background()
	client := env.Deps.Client(loc)
	accounts, err := client.Accounts(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range accounts.Accounts {
		ids = append(ids, a.ProfileID)
	}
	chunks, err := client.Statistics(ctx, loc, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := chunks[0].Statistics

	file := filepath.Join(t.TempDir(), "r.json")
	if _, errOut, code := runCLI(t, "report", "--nats", env.URL(), "--location", loc, "--from", utcDay(-7), "--to", to, "--format", "json", "-o", file); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Platforms) != 2 || r.Statistics == nil || !cmp.Equal(r.Statistics.Answers[0].PlatformTotals, st.PlatformTotals) {
		t.Fatalf("report %s", data)
	}
	if r.GeneratedAt.Format(report.DayLayout) != utcDay(0) {
		t.Errorf("report generated at %v, want on %s (the command line's clock)", r.GeneratedAt, utcDay(0))
	}
	for _, p := range r.Platforms {
		if p.Impressions != st.PlatformTotals.Impressions[p.Platform].Total || p.Posts != st.Breakdowns.Posts.Platforms[p.Platform].Value {
			t.Errorf("%s: report %v impressions %v posts; endpoint %v and %v", p.Platform, p.Impressions, p.Posts,
				st.PlatformTotals.Impressions[p.Platform].Total, st.Breakdowns.Posts.Platforms[p.Platform].Value)
		}
	}
	for _, f := range []string{"md", "html", "csv"} {
		if out, errOut, code := runCLI(t, "report", "--nats", env.URL(), "--location", loc, "--format", f); code != 0 || out == "" {
			t.Errorf("report --format %s: exit %d: %s", f, code, errOut)
		}
	}

	out, errOut, code = runCLI(t, "stats", "export", "--nats", env.URL(), "--location", loc, "--from", from, "--to", to, "--format", "csv")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var impressions float64
	for _, row := range rows[1:] {
		if row[2] == "facebook" {
			var v float64
			if err := json.Unmarshal([]byte(row[4]), &v); err != nil {
				t.Fatal(err)
			}
			impressions += v
		}
	}
	if len(rows) != 1+7*2 || impressions != st.PlatformTotals.Impressions["facebook"].Total {
		t.Errorf("export: %d rows, facebook impressions %v (endpoint %v):\n%s", len(rows), impressions, st.PlatformTotals.Impressions["facebook"].Total, out)
	}
	out, _, code = runCLI(t, "stats", "export", "--nats", env.URL(), "--location", loc, "--from", from, "--to", to, "--format", "json")
	var a report.Archive
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || len(a.Days) != 7 || len(a.MissingDays) != 3 || len(a.Snapshots) != 1 ||
		a.ExportedAt.Format(report.DayLayout) != utcDay(0) {
		t.Errorf("json export: exit %d, %d days, %d missing, %d snapshots, exported at %v", code, len(a.Days), len(a.MissingDays), len(a.Snapshots), a.ExportedAt)
	}

	for _, bad := range [][]string{
		{"stats", "export", "--nats", env.URL(), "--location", loc, "--from", to, "--to", from},
		{"stats", "export", "--nats", env.URL(), "--location", loc, "--from", from, "--to", to, "--format", "xml"},
		{"report", "--nats", env.URL(), "--location", loc, "--format", "pdf"},
		{"stats", "backfill", "--nats", env.URL(), "--location", "bad.loc"},
	} {
		if _, errOut, code := runCLI(t, bad...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", bad, code, errOut)
		}
	}
	if _, errOut, code := runCLI(t, "report", "--nats", env.URL(), "--location", "Unknown1"); code != 1 || !strings.Contains(errOut, "not registered") {
		t.Errorf("unknown location: exit %d, %q", code, errOut)
	}
}

func days(t *testing.T, from, to string) []string {
	t.Helper()
	d, err := report.Days(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMappingsSetGet(t *testing.T) {
	env := fleettest.Start(t, "empty")
	l := env.NewLocation(t, map[string]any{"timezone": "UTC", "customFields": []string{"contact.social_tag"}})
	t.Setenv("SOCIALSYNC_TOKEN_KEY", env.Deps.Config.TokenKey)
	t.Setenv("SOCIALSYNC_GHL_BASE_URL", env.SimURL)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.yaml", "location: "+l.ID+"\ncontactTag: \"x:{{tagName}}\"\ncustomValues:\n  - name: Reach\n    from: totals.reach\n")
	_, errOut, code := runCLI(t, "mappings", "set", "--nats", env.URL(), "-f", bad)
	if code != 2 || !strings.Contains(errOut, `customValues[0].from: unknown statistic "totals.reach"`) {
		t.Errorf("bad mapping: exit %d: %s", code, errOut)
	}
	typo := write("typo.yaml", "location: "+l.ID+"\ncontactTag: \"x:{{tagName}}\"\ncustomValue: []\n")
	if _, errOut, code := runCLI(t, "mappings", "set", "--nats", env.URL(), "-f", typo); code != 2 || !strings.Contains(errOut, "line 3") {
		t.Errorf("unknown field: exit %d: %s", code, errOut)
	}
	kv, err := settings.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := settings.GetMapping(context.Background(), kv, l.ID); ok {
		t.Fatal("a refused mapping was stored")
	}
	undefined := write("undefined.yaml", "location: "+l.ID+"\ncontactFields:\n  - { from: tagName, to: contact.nope }\n")
	if _, errOut, code := runCLI(t, "mappings", "set", "--nats", env.URL(), "-f", undefined); code != 2 ||
		!strings.Contains(errOut, `contactFields[0].to: custom field "contact.nope" is not defined`) || !strings.Contains(errOut, "contact.social_tag") {
		t.Errorf("undefined custom field: exit %d: %s", code, errOut)
	}
	noExternal := write("noexternal.yaml", "location: "+l.ID+"\ncontacts:\n  externalIdField: contact.crm_id\n")
	if _, errOut, code := runCLI(t, "mappings", "set", "--nats", env.URL(), "-f", noExternal); code != 2 ||
		!strings.Contains(errOut, `contacts.externalIdField: custom field "contact.crm_id" is not defined`) {
		t.Errorf("undefined external id field: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "mappings", "set", "--nats", env.URL(), "-f", undefined, "--offline"); code != 0 {
		t.Errorf("--offline: exit %d: %s", code, errOut)
	}
	good := write("good.yaml", "location: "+l.ID+"\ncontactTag: \"sm-{{tagName}}\"\ncontactFields:\n  - { from: tagName, to: contact.social_tag }\ncustomValues:\n  - { name: Reach, from: instagram.reach }\n")
	if out, errOut, code := runCLI(t, "mappings", "set", "--nats", env.URL(), "-f", good); code != 0 {
		t.Fatalf("good mapping: exit %d: %s%s", code, out, errOut)
	}
	out, _, code := runCLI(t, "mappings", "get", "--nats", env.URL(), "--location", l.ID)
	m, err := settings.ParseMapping([]byte(out))
	if code != 0 || err != nil || m.ContactTag != "sm-{{tagName}}" || len(m.CustomValues) != 1 || m.CustomValues[0].From != "instagram.reach" {
		t.Errorf("get: exit %d, %v:\n%s", code, err, out)
	}
}

func TestLocationsSchedule(t *testing.T) {
	env := fleettest.Start(t, "empty")
	l := env.NewLocation(t, map[string]any{"timezone": "UTC"})
	out, errOut, code := runCLI(t, "locations", "schedule", "--nats", env.URL(), "--location", l.ID, "--cron", "0 15 8 * * *", "--timezone", "Asia/Tokyo", "--retention-days", "90")
	if code != 0 || !strings.Contains(out, "cron 0 15 8 * * *, time zone Asia/Tokyo, retention 90") {
		t.Fatalf("schedule: exit %d: %s%s", code, out, errOut)
	}
	kv, err := settings.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	st, err := settings.GetStats(context.Background(), kv, l.ID)
	if err != nil || st != (settings.Stats{Cron: "0 15 8 * * *", Timezone: "Asia/Tokyo", RetentionDays: 90}) {
		t.Errorf("stored %+v, %v", st, err)
	}
	for _, bad := range [][]string{
		{"--cron", "0 8 * * *"},
		{"--timezone", "Mars/Olympus"},
		{"--cron", "@every 1h", "--timezone", "Asia/Tokyo"},
		{"--retention-days", "99999"},
	} {
		args := append([]string{"locations", "schedule", "--nats", env.URL(), "--location", l.ID}, bad...)
		if _, errOut, code := runCLI(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", bad, code, errOut)
		}
	}
	if out, _, code := runCLI(t, "locations", "schedule", "--nats", env.URL(), "--location", l.ID, "--reset"); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("reset: exit %d: %s", code, out)
	}
}
