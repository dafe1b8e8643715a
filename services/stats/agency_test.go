package stats_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/stats"
)

// The stats worker holds the credentials of the hosted flow: it answers
// the gateway's callback for an agency, keeps the agency's sync on a
// JetStream schedule, and the sync (here fired at once on the schedule's
// subject family) connects a sub-account whose INSTALL never came.
func TestAgencySyncPicksUpAMissedInstall(t *testing.T) {
	env := fleettest.Start(t, "demo")
	ctx := context.Background()
	a := env.Sim.Apps()[0]
	app := ghl.AppCredentials{ClientID: a.ClientID, ClientSecret: a.ClientSecret}
	deps := statsDeps(t, env)
	deps.Connector = &creds.Connector{Store: env.Deps.Creds, Client: env.Deps.GHL, App: app, Log: env.Deps.Log}
	deps.Conn = env.Deps.Conn
	cfg := stats.Config{Config: env.Deps.Config, Concurrency: 2, Cron: quietCron, ReportDays: 28}
	w, err := stats.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	env.RunWorker(t, "stats", w)

	const redirect = "https://socialsync.example/oauth/callback"
	code := companyCode(t, env.SimURL, app, redirect)
	var reply creds.ConnectReply
	fleettest.Eventually(t, 10*time.Second, "the worker answered the callback", func() bool {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		reply, err = creds.RequestConnect(rctx, env.Deps.Conn, creds.ConnectRequest{Kind: creds.ConnectCallback, Code: code, RedirectURI: redirect,
			Request: &creds.AuthRequest{UserType: ghl.UserTypeCompany, RedirectURI: redirect}})
		return err == nil
	})
	if reply.Error != "" || reply.UserType != ghl.UserTypeCompany || reply.CompanyID != a.CompanyID {
		t.Fatalf("agency callback: %+v", reply)
	}

	// Its schedule: one JetStream message schedule on the company's subject.
	schedules, err := env.JS.Stream(ctx, topology.StreamSchedules)
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := topology.AgencySchedules.Subject(a.CompanyID)
	m, err := schedules.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatalf("the agency's schedule: %v", err)
	}
	if got := m.Header.Get(jetstream.ScheduleHeader); got != "@every "+topology.AgencySyncEvery.String() {
		t.Errorf("schedule %q", got)
	}

	// A sub-account opened while no webhook reached socialsync.
	var created struct{ ID string }
	env.Admin(t, http.MethodPost, "/_sandbox/locations", map[string]any{"name": "Missed Install"}, &created)
	if _, err := env.Deps.Creds.Location(ctx, created.ID); err == nil {
		t.Fatal("the new sub-account is known before the sync")
	}
	trigger, _ := topology.AgencyTriggers.Subject(a.CompanyID)
	if _, err := env.Deps.Publisher.Publish(ctx, trigger, &socialsyncv1.AgencySyncRequested{CompanyId: a.CompanyID, RequestedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 20*time.Second, "the sync connected the missed sub-account", func() bool {
		l, err := env.Deps.Creds.Location(ctx, created.ID)
		return err == nil && l.State == creds.StateActive && l.Name == "Missed Install"
	})

	// Uninstalled: its daily statistics schedule goes.
	statsSchedule, _ := topology.StatsSchedules.Subject(created.ID)
	scheduled := func() bool {
		_, err := schedules.GetLastMsgForSubject(ctx, statsSchedule)
		return err == nil
	}
	fleettest.Eventually(t, 20*time.Second, "the new location's statistics scheduled", scheduled)
	if _, err := env.Deps.Creds.Uninstall(ctx, a.CompanyID, created.ID); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 20*time.Second, "the uninstalled location's schedule removed", func() bool { return !scheduled() })
}

// companyCode plays the browser on the simulator's consent page for an
// agency install and returns the code of the redirect.
func companyCode(t *testing.T, simURL string, app ghl.AppCredentials, redirect string) string {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {redirect}, "state": {"s"},
		"scope": {strings.Join(append(ghl.LocationScopes(), ghl.AgencyScopes()...), " ")}}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(simURL + "/oauth/chooselocation?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("consent: %s", resp.Status)
	}
	return u.Query().Get("code")
}

// An agency connected from the operator's machine (no Connector on the
// way) gets its sync schedule from the worker.
func TestAgencyConnectedElsewhereIsScheduled(t *testing.T) {
	env := fleettest.Start(t, "demo")
	ctx := context.Background()
	a := env.Sim.Apps()[0]
	app := ghl.AppCredentials{ClientID: a.ClientID, ClientSecret: a.ClientSecret}
	agency := fleettest.Authorize(t, env.SimURL, app, "", strings.Join(append(ghl.LocationScopes(), ghl.AgencyScopes()...), " "), ghl.UserTypeCompany)
	if _, err := env.Deps.Creds.ConnectAgency(ctx, env.Deps.GHL, agency); err != nil {
		t.Fatal(err)
	}
	deps := statsDeps(t, env)
	deps.Connector = &creds.Connector{Store: env.Deps.Creds, Client: env.Deps.GHL, App: app, Log: env.Deps.Log}
	deps.Conn = env.Deps.Conn
	w, err := stats.New(stats.Config{Config: env.Deps.Config, Concurrency: 1, Cron: quietCron, ReportDays: 28}, deps)
	if err != nil {
		t.Fatal(err)
	}
	env.RunWorker(t, "stats", w)
	schedules, err := env.JS.Stream(ctx, topology.StreamSchedules)
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := topology.AgencySchedules.Subject(a.CompanyID)
	fleettest.Eventually(t, 20*time.Second, "the agency's sync scheduled", func() bool {
		_, err := schedules.GetLastMsgForSubject(ctx, subject)
		return err == nil
	})
}
