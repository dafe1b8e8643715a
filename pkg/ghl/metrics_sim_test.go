package ghl_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/telemetry"
	"github.com/socialsync/socialsync/pkg/telemetry/telemetrytest"
)

func TestSimMetrics(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{SocialTags: []string{"a"}})
	sb.config(map[string]any{"rateLimit": map[string]any{"max": 3, "window": "10s", "daily": 200000}})
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceName: "fetcher"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	srv := httptest.NewServer(tel.MetricsHandler())
	t.Cleanup(srv.Close)
	scrape := func() *telemetrytest.Page { return telemetrytest.Scrape(t, srv.URL+"/metrics") }

	c := sb.client(tok, ghl.Options{MaxRetries: -1, MeterProvider: tel.MeterProvider()})
	ctx := context.Background()
	if _, err := c.ListSocialTags(ctx, loc, ghl.SearchOpts{}); err != nil {
		t.Fatal(err)
	}
	const endpoint = "GET /social-media-posting/{locationId}/tags"
	page := scrape()
	if got := page.Sum("socialsync_rate_headroom", "location", loc); got != 2 {
		t.Errorf("headroom after 1 of 3 requests = %v, want 2", got)
	}
	if got := page.Sum("socialsync_rate_headroom", "location", loc, "lane", "interactive"); got != 2 {
		t.Errorf("interactive headroom after 1 of 3 requests = %v, want 2", got)
	}
	if got := page.Sum("socialsync_rate_daily_remaining", "location", loc); got != 199_999 {
		t.Errorf("daily remaining after 1 request = %v, want 199999", got)
	}
	for range 2 {
		if _, err := c.ListSocialTags(ctx, loc, ghl.SearchOpts{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ListSocialTags(ctx, loc, ghl.SearchOpts{}); err == nil {
		t.Fatal("fourth call in the window succeeded, want a 429")
	}
	// A HighLevel that cannot be reached: sent, no status.
	down, err := ghl.New(ghl.Options{BaseURL: "http://127.0.0.1:1", MaxRetries: -1, MeterProvider: tel.MeterProvider()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := down.ForLocation(loc, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})).ListSocialTags(ctx, loc, ghl.SearchOpts{}); err == nil {
		t.Fatal("a call to a closed port succeeded")
	}

	page = scrape()
	for status, want := range map[string]float64{"200": 3, "429": 1, "error": 1} {
		if got := page.Sum("socialsync_ghl_calls_total", "endpoint", endpoint, "status", status); got != want {
			t.Errorf("socialsync_ghl_calls_total{status=%q} = %v, want %v", status, got, want)
		}
	}
	if got := page.Sum("socialsync_ghl_rate_limited_total", "location", loc); got != 1 {
		t.Errorf("socialsync_ghl_rate_limited_total = %v, want 1", got)
	}
	if got := page.Sum("socialsync_rate_headroom", "location", loc); got != 0 {
		t.Errorf("headroom after the 429 = %v, want 0", got)
	}
	for _, e := range page.LabelValues("socialsync_ghl_calls_total", "endpoint") {
		if strings.Contains(e, loc) {
			t.Errorf("endpoint label %q holds the location id, not the route template", e)
		}
	}
	if strings.Contains(page.Text, tok) || strings.Contains(page.Text, tok[:12]) {
		t.Error("the token appears on /metrics")
	}
}
