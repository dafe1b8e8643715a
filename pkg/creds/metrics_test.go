package creds_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/telemetry"
	"github.com/socialsync/socialsync/pkg/telemetry/telemetrytest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// TestRefreshMetrics counts a refresh of each result on /metrics: one that
// succeeds, one HighLevel rejects (a spent refresh token), one with the
// app's credentials refused.
func TestRefreshMetrics(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	s := startSim(t, "", nil)
	keys := keyring(t)
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceName: "contactsync"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	srv := httptest.NewServer(tel.MetricsHandler())
	t.Cleanup(srv.Close)
	metered := creds.WithMeterProvider(tel.MeterProvider())
	p := openProcess(t, env, keys, creds.WithRefresher(creds.NewRefresher(s.client(t), s.App)), metered)
	ctx := context.Background()

	locs := s.Locations()
	if len(locs) < 3 {
		t.Fatalf("the demo seed has %d locations, want 3", len(locs))
	}
	var toks []creds.Token
	for _, l := range locs[:3] {
		tok := s.authorize(t, l.ID, "", ghl.UserTypeLocation)
		toks = append(toks, tok)
		tok.ExpiresAt = time.Now().Add(-time.Second) // due
		if err := p.store.AddOAuth(ctx, creds.Location{ID: l.ID}, tok); err != nil {
			t.Fatal(err)
		}
	}

	// Success.
	got, err := p.store.TokenSource(locs[0].ID).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	// Rejected: the refresh token was spent behind the store's back.
	if _, err := s.client(t).RefreshToken(ctx, s.App, toks[1].RefreshToken, ghl.UserTypeLocation); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.TokenSource(locs[1].ID).Token(); !errors.Is(err, creds.ErrNeedsReauth) {
		t.Fatalf("refresh with a spent token: %v, want ErrNeedsReauth", err)
	}
	// Failed: the app's secret is wrong; refreshes pause, nothing is marked.
	wrong := s.App
	wrong.ClientSecret = "not-the-secret"
	q := openProcess(t, env, keys, creds.WithRefresher(creds.NewRefresher(s.client(t), wrong)), metered)
	if _, err := q.store.TokenSource(locs[2].ID).Token(); err == nil || errors.Is(err, creds.ErrNeedsReauth) {
		t.Fatalf("refresh with a wrong secret: %v, want a failure", err)
	}

	page := telemetrytest.Scrape(t, srv.URL+"/metrics")
	for result, want := range map[string]float64{creds.RefreshSuccess: 1, creds.RefreshRejected: 1, creds.RefreshFailed: 1} {
		if got := page.Sum("socialsync_token_refreshes_total", "result", result); got != want {
			t.Errorf("socialsync_token_refreshes_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	if found := secretsIn(page.Text, append(toks, creds.Token{AccessToken: got.AccessToken})...); len(found) > 0 {
		t.Errorf("/metrics shows tokens %v", found)
	}
	if strings.Contains(page.Text, s.App.ClientSecret) {
		t.Error("/metrics shows the app's secret")
	}
}
