package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/telemetry/telemetrytest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// alertsWanted are the alerts the PrometheusRule must hold.
var alertsWanted = []string{
	"SocialsyncStreamAlmostFull", "SocialsyncLocationNeedsReauth", "SocialsyncDailyCapNear", "SocialsyncDailyCapForecast",
	"SocialsyncDeadLettersGrowing", "SocialsyncConsumerLagHigh", "SocialsyncTriggerWaiting", "SocialsyncTokenRefreshFailing",
	"SocialsyncNotReady",
}

// alertsDriven are the alerts TestAlerts drives a real process into,
// with how long after the trouble began each is evaluated (an age is
// only an hour old an hour later).
var alertsDriven = map[string]time.Duration{
	"SocialsyncLocationNeedsReauth": 5 * time.Minute,
	"SocialsyncDailyCapNear":        5 * time.Minute,
	"SocialsyncDeadLettersGrowing":  5 * time.Minute,
	"SocialsyncTriggerWaiting":      70 * time.Minute,
	"SocialsyncNotReady":            5 * time.Minute,
	"SocialsyncStreamAlmostFull":    5 * time.Minute,
	"SocialsyncTokenRefreshFailing": 5 * time.Minute,
	"SocialsyncConsumerLagHigh":     5 * time.Minute,
	"SocialsyncDailyCapForecast":    5 * time.Minute,
}

// TestAlerts checks the PrometheusRule every overlay renders, decoded
// strictly into the Prometheus Operator's type: every alert the operations
// docs list is there with a for, a severity and a summary; every
// expression parses as PromQL and names only metrics and labels a real
// process exposes, as scraped from its /metrics over a real JetStream
// server. Then, like promtool's rule tests, it evaluates the expressions
// with Prometheus's own engine over the scraped values: on a healthy
// process none fires; after a location's refresh token is refused, it has
// used 90% of its daily calls (3 of them 20 minutes earlier), a trigger was dead-lettered (and is still
// unfinished by the other durables), 1,001 triggers of another location
// wait, a bucket is 86% full, three other locations' refreshes failed and
// the process drains, each of
// alertsDriven fires, naming the location where it is a location's.
func TestAlerts(t *testing.T) {
	ctx := context.Background()
	be := bustest.Start(t, topology.Options{})
	sim, err := ghlsim.New(ghlsim.Options{Seed: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	app, loc := sim.Apps()[0], sim.Locations()[0].ID

	cfg := fleet.DefaultConfig()
	cfg.NATSURL, cfg.GHLBaseURL, cfg.HTTPAddr = be.URL(), simSrv.URL, "127.0.0.1:0"
	cfg.TokenKey, cfg.GHLClientID, cfg.GHLClientSecret = creds.NewKey(), app.ClientID, app.ClientSecret
	cfg.RateDaily = 10
	// The daily count starts again half a day from now, not at a midnight
	// a late run would cross between the daily calls below and their
	// scrape.
	now := time.Now().UTC()
	cfg.RateDailyReset = ((now.Sub(now.Truncate(24*time.Hour)) + 12*time.Hour) % (24 * time.Hour)).Truncate(time.Second).String()
	// The tags bucket at the least limit there is, filled below.
	cfg.Limits.Tags = 1 << 20
	d, err := fleet.Connect(ctx, "automation", cfg, fleet.Options{LogOutput: testLog{t}, ApplyTopology: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	// What the automation worker's main adds.
	if _, err := d.Directory.WatchStates(d.Telemetry.MeterProvider()); err != nil {
		t.Fatal(err)
	}
	// A durable that refuses every post trigger (its dead letters), but
	// defers those of a second location (its lag).
	lagLoc := sim.Locations()[1].ID
	refuse := func(_ context.Context, msg jetstream.Msg) error {
		if strings.HasSuffix(msg.Subject(), "."+lagLoc) {
			return bus.Defer(errors.New("held by the test"), time.Hour)
		}
		return bus.Permanent(errors.New("refused by the test"))
	}
	cons, err := d.Consumer(topology.StreamTriggers, topology.DurableFetcher, refuse, 1)
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- d.Serve(srvCtx, fleet.Component{Name: "refuser", Run: cons.Run}) }()
	t.Cleanup(func() { stop(); <-served })

	if err := d.Creds.AddOAuth(ctx, creds.Location{ID: loc}, creds.Token{AccessToken: "expired-access", RefreshToken: "never-issued",
		ClientID: app.ClientID, ExpiresAt: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	metricsURL := "http://" + d.Health.Addr() + "/metrics"
	var healthy *telemetrytest.Page
	fleettest.Eventually(t, 30*time.Second, "a ready process with one active location", func() bool {
		p, err := telemetrytest.ScrapeErr(metricsURL)
		healthy = p
		return err == nil && p.Sum("socialsync_ready") == 1 && p.Sum("socialsync_locations", "state", "active") == 1
	})
	healthyAt := time.Now()

	// A trigger the fetcher refuses: a dead letter; the other durables
	// leave it unfinished. It is handled before the location needs
	// re-authorisation: the triggers of a location needing it are held
	// (pkg/fleet), not refused.
	subject, err := topology.PostTriggers.Subject(loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Publisher.Publish(ctx, subject, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1"}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 30*time.Second, "the dead letter on /metrics", func() bool {
		p, err := telemetrytest.ScrapeErr(metricsURL)
		return err == nil && p.Sum("socialsync_dead_letters_stored", "location", loc) == 1
	})
	// The trouble. The location's refresh token is refused: it needs
	// re-authorisation.
	if _, err := d.Creds.TokenSource(loc).Token(); !errors.Is(err, creds.ErrNeedsReauth) {
		t.Fatalf("token of %s: %v, want ErrNeedsReauth", loc, err)
	}
	// Three other locations' refreshes fail: HighLevel answers 500.
	fleettest.Admin(t, simSrv.URL, "PUT", "/_sandbox/faults", map[string]any{"rate500": 1}, nil)
	for _, other := range sim.Locations()[1:4] {
		if err := d.Creds.AddOAuth(ctx, creds.Location{ID: other.ID}, creds.Token{AccessToken: "expired-access", RefreshToken: "any",
			ClientID: app.ClientID, ExpiresAt: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Creds.TokenSource(other.ID).Token(); err == nil || errors.Is(err, creds.ErrNeedsReauth) {
			t.Fatalf("token of %s while HighLevel answers 500: %v, want a failure", other.ID, err)
		}
	}
	fleettest.Admin(t, simSrv.URL, "PUT", "/_sandbox/faults", map[string]any{"rate500": 0}, nil)
	// 1,001 triggers of the second location wait: the durable's lag.
	lagSubject, err := topology.PostTriggers.Subject(lagLoc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1001 {
		if _, err := d.Publisher.Publish(ctx, lagSubject, &socialsyncv1.PostEvent{LocationId: lagLoc, PostId: fmt.Sprintf("held%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// 9 of its 10 daily calls are used: 3 first (scraped, for the
	// forecast's rate), then 6 more.
	call := func(n int) {
		for range n {
			release, err := d.Governor.Acquire(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			release(ghl.ResponseInfo{StatusCode: 200})
		}
	}
	call(3)
	var early *telemetrytest.Page
	fleettest.Eventually(t, 30*time.Second, "3 daily calls on /metrics", func() bool {
		p, err := telemetrytest.ScrapeErr(metricsURL)
		early = p
		return err == nil && p.Sum("socialsync_rate_daily_used", "location", loc) == 3
	})
	early.Samples = slices.DeleteFunc(early.Samples, func(s telemetrytest.Sample) bool { return !strings.HasPrefix(s.Name, "socialsync_rate_daily_") })
	call(6)
	// The tags bucket past 80% of its limit.
	tags, err := d.JS.KeyValue(ctx, topology.BucketTags)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		if _, err := tags.Put(ctx, fmt.Sprintf("filler%d", i), make([]byte, 100_000)); err != nil {
			t.Fatal(err)
		}
	}
	var trouble *telemetrytest.Page
	fleettest.Eventually(t, 60*time.Second, "the trouble on /metrics", func() bool {
		p, err := telemetrytest.ScrapeErr(metricsURL)
		trouble = p
		return err == nil && p.Sum("socialsync_location_needs_reauth", "location", loc) == 1 &&
			p.Sum("socialsync_dead_letters_stored", "location", loc) == 1 && p.Sum("socialsync_rate_daily_used", "location", loc) == 9 &&
			p.Has("socialsync_stream_oldest_timestamp_seconds", "stream", topology.StreamTriggers) &&
			p.Sum("socialsync_stream_bytes", "stream", "KV_"+topology.BucketTags) > 0.8*(1<<20) &&
			p.Sum("socialsync_token_refreshes_total", "result", "failed") == 3 &&
			p.Sum("socialsync_consumer_lag", "consumer", topology.DurableFetcher) > 1000
	})
	d.Health.SetDraining()
	fleettest.Eventually(t, 30*time.Second, "socialsync_ready 0 once draining", func() bool {
		p, err := telemetrytest.ScrapeErr(metricsURL)
		if err == nil && p.Sum("socialsync_ready") == 0 {
			trouble.Samples = append(slices.DeleteFunc(trouble.Samples, func(s telemetrytest.Sample) bool { return s.Name == "socialsync_ready" }),
				p.Find("socialsync_ready")...)
			return true
		}
		return false
	})
	// The scraped values are stored on a fixed clock, whatever the day and
	// hour the test runs: SocialsyncDailyCapForecast looks ahead to
	// midnight UTC, which a run late in the day would reach within the
	// hour. Values that are instants (the streams' oldest messages) move
	// with the clock. The healthy scrape is taken at nine in the morning;
	// the trouble to begin half an hour later: the early daily calls are
	// stored in between.
	fixedAt := time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)
	shift := fixedAt.Sub(healthyAt).Seconds()
	for _, p := range []*telemetrytest.Page{healthy, early, trouble} {
		for i, s := range p.Samples {
			if strings.HasSuffix(s.Name, "_timestamp_seconds") {
				p.Samples[i].Value = s.Value + shift
			}
		}
	}
	healthyAt = fixedAt
	troubleAt := healthyAt.Add(30 * time.Minute)

	// The scraped values as Prometheus would store them, every minute: the
	// healthy page from half an hour before it was scraped until the early
	// daily calls, those for the 20 minutes before the trouble, the
	// troubled page for the two hours after.
	st := teststorage.New(t)
	app2 := st.Appender(ctx)
	store := func(p *telemetrytest.Page, from, to time.Time) {
		for _, s := range p.Samples {
			m := map[string]string{"__name__": s.Name, "job": "socialsync", "instance": "test"}
			for k, v := range s.Labels {
				m[k] = v
			}
			for at := from; !at.After(to); at = at.Add(time.Minute) {
				if _, err := app2.Append(0, labels.FromMap(m), at.UnixMilli(), s.Value); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	store(healthy, healthyAt.Add(-30*time.Minute), troubleAt.Add(-21*time.Minute))
	store(early, troubleAt.Add(-20*time.Minute), troubleAt.Add(-time.Minute))
	store(trouble, troubleAt, troubleAt.Add(2*time.Hour))
	if err := app2.Commit(); err != nil {
		t.Fatal(err)
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: 10 * time.Second})
	eval := func(t *testing.T, expr string, at time.Time) promql.Vector {
		t.Helper()
		q, err := engine.NewInstantQuery(ctx, st, nil, expr, at)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		defer q.Close()
		res := q.Exec(ctx)
		if res.Err != nil {
			t.Fatalf("%s: %v", expr, res.Err)
		}
		v, err := res.Vector()
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}

	exposed := &telemetrytest.Page{Samples: append(slices.Clone(healthy.Samples), trouble.Samples...)}
	// The dashboard's per-location panels read these: a real process
	// exposes each, with the labels the dashboard test allows.
	for _, name := range []string{"socialsync_dead_letters_stored", "socialsync_location_needs_reauth", "socialsync_locations",
		"socialsync_rate_daily_used", "socialsync_rate_daily_limit", "socialsync_stream_oldest_timestamp_seconds", "socialsync_ready"} {
		for _, l := range fleetMetrics[name] {
			if l != "job" && len(exposed.LabelValues(name, l)) == 0 {
				t.Errorf("%s{%s} is on the dashboard; the process does not expose it", name, l)
			}
		}
	}
	psr := parser.NewParser(parser.Options{})
	for _, ov := range overlays {
		t.Run(ov.name, func(t *testing.T) {
			r := render(t, ov.name)
			pr := r.rules["socialsync"]
			if pr == nil {
				t.Fatal("no PrometheusRule socialsync")
			}
			if ns := r.namespaceOf["PrometheusRule/socialsync"]; ns != ov.namespace {
				t.Errorf("namespace %q, want %q", ns, ov.namespace)
			}
			seen := map[string]bool{}
			for _, g := range pr.Spec.Groups {
				for _, rule := range g.Rules {
					seen[rule.Alert] = true
					t.Run(rule.Alert, func(t *testing.T) {
						checkRule(t, psr, rule, exposed)
						expr := rule.Expr.String()
						if v := eval(t, expr, healthyAt); len(v) > 0 {
							t.Errorf("fires on the healthy process: %v", v)
						}
						after, driven := alertsDriven[rule.Alert]
						if !driven {
							return
						}
						v := eval(t, expr, troubleAt.Add(after))
						if len(v) == 0 {
							t.Errorf("does not fire %s after the trouble began", after)
						}
						for _, s := range v {
							if l := s.Metric.Get("location"); strings.Contains(expr, "by (location)") && l != loc {
								t.Errorf("fires for location %q, want %q: %v", l, loc, s)
							}
							if st := s.Metric.Get("stream"); rule.Alert == "SocialsyncStreamAlmostFull" && st != "KV_"+topology.BucketTags {
								t.Errorf("fires for stream %q, want the filled bucket: %v", st, s)
							}
						}
					})
				}
			}
			for _, a := range alertsWanted {
				if !seen[a] {
					t.Errorf("no alert %s", a)
				}
			}
		})
	}
}

// checkRule checks one alerting rule: a for, a severity and a summary;
// an expression that parses; and every metric it selects exposed by a
// process, with every label it matches or groups by.
func checkRule(t *testing.T, psr parser.Parser, rule monitoringv1.Rule, page *telemetrytest.Page) {
	t.Helper()
	if rule.Alert == "" || rule.For == nil || *rule.For == "" || rule.Labels["severity"] == "" || rule.Annotations["summary"] == "" {
		t.Errorf("rule %+v: want an alert name, a for, a severity and a summary", rule)
	}
	expr, err := psr.ParseExpr(rule.Expr.String())
	if err != nil {
		t.Fatalf("expr %q does not parse: %v", rule.Expr.String(), err)
	}
	var names []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			names = append(names, n.Name)
			if !strings.HasPrefix(n.Name, "socialsync_") {
				t.Errorf("selects %q, not a socialsync metric", n.Name)
			}
			if len(page.Find(n.Name)) == 0 {
				t.Errorf("selects %s, which no process exposed", n.Name)
			}
			for _, m := range n.LabelMatchers {
				if m.Name != "__name__" && len(page.LabelValues(n.Name, m.Name)) == 0 {
					t.Errorf("matches label %q of %s, which has none", m.Name, n.Name)
				}
			}
		case *parser.AggregateExpr:
			parser.Inspect(n.Expr, func(in parser.Node, _ []parser.Node) error {
				if vs, ok := in.(*parser.VectorSelector); ok {
					for _, l := range n.Grouping {
						if len(page.LabelValues(vs.Name, l)) == 0 {
							t.Errorf("groups %s by %q, a label it does not have", vs.Name, l)
						}
					}
				}
				return nil
			})
		}
		return nil
	})
	if len(names) == 0 {
		t.Errorf("expr %q selects no metric", rule.Expr.String())
	}
}
