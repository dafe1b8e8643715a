package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboardFile is the Grafana dashboard of the fleet's metrics.
const dashboardFile = "grafana/socialsync-fleet.json"

// fleetMetrics are the Prometheus names of the metrics issue 7 asks the
// dashboard for, as pkg/bus, pkg/ghl and pkg/creds export them, with the
// labels each has.
var fleetMetrics = map[string][]string{
	"socialsync_messages_handled_total":          {"worker", "subject", "outcome"},
	"socialsync_message_handling_seconds_bucket": {"worker", "subject", "le"},
	"socialsync_dead_letters_total":              {"worker", "reason"},
	"socialsync_consumer_lag":                    {"worker", "consumer", "stream"},
	"socialsync_ghl_calls_total":                 {"endpoint", "status"},
	"socialsync_ghl_rate_limited_total":          {"location"},
	"socialsync_rate_headroom":                   {"location", "lane"},
	"socialsync_token_refreshes_total":           {"result"},
	"socialsync_stream_bytes":                    {"stream"},
	"socialsync_stream_max_bytes":                {"stream"},
	// The per-location panels ("which sub-account is in trouble") and
	// readiness, as pkg/bus, pkg/creds, pkg/ratelimit and pkg/fleet export
	// them (TestAlerts scrapes each from a real process); job is the label
	// Prometheus adds to every scraped series.
	"socialsync_dead_letters_stored":             {"location"},
	"socialsync_location_needs_reauth":           {"location"},
	"socialsync_locations":                       {"state"},
	"socialsync_rate_daily_used":                 {"location"},
	"socialsync_rate_daily_limit":                {"location"},
	"socialsync_stream_oldest_timestamp_seconds": {"stream"},
	"socialsync_ready":                           {"job"},
}

type dashboard struct {
	UID, Title    string
	SchemaVersion int `json:"schemaVersion"`
	Templating    struct {
		List []struct{ Name, Type string } `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			Type, UID string
		} `json:"datasource"`
		GridPos struct{ X, Y, W, H int } `json:"gridPos"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestDashboard checks the Grafana dashboard: it parses, its panels do not
// overlap, each queries the Prometheus data source variable, every metric
// the issue names is shown, and every query names only metrics and labels
// the fleet exports.
func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want all", d.UID, d.Title, d.SchemaVersion)
	}
	if !slices.ContainsFunc(d.Templating.List, func(v struct{ Name, Type string }) bool { return v.Name == "datasource" && v.Type == "datasource" }) {
		t.Error("no datasource variable: the dashboard would be bound to one Prometheus")
	}
	metricRe := regexp.MustCompile(`\bsocialsync_[a-z_]+`)
	labelRe := regexp.MustCompile(`(?:by|without) \(([^)]*)\)|\{([^}]*)\}`)
	shown := map[string]bool{}
	ids := map[int]bool{}
	type rect struct{ x, y, w, h int }
	var rects []rect
	var titles []string
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, g)
		}
		for i, r := range rects {
			if g.X < r.x+r.w && r.x < g.X+g.W && g.Y < r.y+r.h && r.y < g.Y+g.H {
				t.Errorf("panel %q overlaps %q", p.Title, titles[i])
			}
		}
		rects, titles = append(rects, rect{g.X, g.Y, g.W, g.H}), append(titles, p.Title)
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not query the datasource variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") {
				t.Errorf("panel %q: unbalanced query %q", p.Title, tg.Expr)
			}
			names := metricRe.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q reads no socialsync metric", p.Title, tg.Expr)
			}
			var allowed []string
			for _, n := range names {
				labels, ok := fleetMetrics[n]
				if !ok {
					t.Errorf("panel %q: %s is not a metric the fleet exports", p.Title, n)
				}
				shown[n] = true
				allowed = append(allowed, labels...)
			}
			for _, m := range labelRe.FindAllStringSubmatch(tg.Expr, -1) {
				for _, part := range strings.Split(m[1]+","+m[2], ",") {
					label := strings.TrimSpace(regexp.MustCompile(`[=!~].*`).ReplaceAllString(part, ""))
					if label != "" && !slices.Contains(allowed, label) {
						t.Errorf("panel %q: label %q is not one of %v", p.Title, label, allowed)
					}
				}
			}
		}
	}
	for name := range fleetMetrics {
		if !shown[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}
