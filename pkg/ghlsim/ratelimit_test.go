package ghlsim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// rateHeaders returns the X-RateLimit-* headers of r.
func rateHeaders(r *resp) map[string]string {
	out := map[string]string{}
	for _, h := range []string{"X-RateLimit-Limit-Daily", "X-RateLimit-Daily-Remaining", "X-RateLimit-Interval-Milliseconds", "X-RateLimit-Max", "X-RateLimit-Remaining"} {
		out[h] = r.header.Get(h)
	}
	return out
}

func TestRateLimitRollingWindow(t *testing.T) {
	e := newEnv(t, "demo")
	e.setConfig(`{"rateLimit":{"max":5,"window":"1s"}}`)
	loc := e.loc(0)
	path := "/social-media-posting/" + loc.ID + "/tags"
	get := func() *resp { return e.api("GET", path, loc.Token, nil) }

	for i := range 3 {
		r := get().want(t, http.StatusOK)
		want := map[string]string{
			"X-RateLimit-Limit-Daily": "200000", "X-RateLimit-Daily-Remaining": strconv.Itoa(200000 - i - 1),
			"X-RateLimit-Interval-Milliseconds": "1000", "X-RateLimit-Max": "5", "X-RateLimit-Remaining": strconv.Itoa(4 - i),
		}
		if diff := cmp.Diff(want, rateHeaders(r)); diff != "" {
			t.Fatalf("request %d headers (-want +got):\n%s", i+1, diff)
		}
	}
	e.clock.Advance(600 * time.Millisecond)
	get().want(t, http.StatusOK)
	get().want(t, http.StatusOK)

	r := get().want(t, http.StatusTooManyRequests)
	if got := r.header.Get("Retry-After"); got != "1" { // the first requests leave the window in 400ms
		t.Errorf("Retry-After = %q, want 1", got)
	}
	if h := rateHeaders(r); h["X-RateLimit-Remaining"] != "0" || h["X-RateLimit-Daily-Remaining"] != "199995" || h["X-RateLimit-Max"] != "5" {
		t.Errorf("429 headers = %v", h)
	}
	if diff := cmp.Diff(map[string]any{"statusCode": float64(429), "message": "Too Many Requests - Rate limit exceeded", "error": "Too Many Requests"}, r.object(t)); diff != "" {
		t.Errorf("429 body (-want +got):\n%s", diff)
	}
	// A 429 consumes nothing, and other locations have their own budget.
	get().want(t, http.StatusTooManyRequests)
	other := e.loc(1)
	e.api("GET", "/social-media-posting/"+other.ID+"/tags", other.Token, nil).want(t, http.StatusOK)

	// Rolling: after 400ms more the three oldest requests have left.
	e.clock.Advance(400 * time.Millisecond)
	for i := range 3 {
		r := get().want(t, http.StatusOK)
		if got := r.header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(2-i) {
			t.Errorf("remaining = %s, want %d", got, 2-i)
		}
		if got := r.header.Get("X-RateLimit-Daily-Remaining"); got != strconv.Itoa(199994-i) {
			t.Errorf("daily remaining = %s, want %d (a 429 must not count)", got, 199994-i)
		}
	}
	get().want(t, http.StatusTooManyRequests)
}

func TestRateLimitRetryAfter(t *testing.T) {
	e := newEnv(t, "demo")
	e.setConfig(`{"rateLimit":{"max":2,"window":"10s"}}`)
	loc := e.loc(0)
	path := "/locations/" + loc.ID + "/tags"
	e.api("GET", path, loc.Token, nil).want(t, http.StatusOK)
	e.clock.Advance(3*time.Second + 200*time.Millisecond)
	e.api("GET", path, loc.Token, nil).want(t, http.StatusOK)
	r := e.api("GET", path, loc.Token, nil).want(t, http.StatusTooManyRequests)
	if got := r.header.Get("Retry-After"); got != "7" { // ceil(10s - 3.2s)
		t.Errorf("Retry-After = %q, want 7", got)
	}
	e.clock.Advance(6800 * time.Millisecond)
	e.api("GET", path, loc.Token, nil).want(t, http.StatusOK)
}

func TestRateLimitDaily(t *testing.T) {
	e := newEnv(t, "demo")
	e.setConfig(`{"rateLimit":{"daily":3}}`)
	loc := e.loc(0)
	path := "/social-media-posting/" + loc.ID + "/accounts"
	for range 3 {
		e.api("GET", path, loc.Token, nil).want(t, http.StatusOK)
	}
	r := e.api("GET", path, loc.Token, nil).want(t, http.StatusTooManyRequests)
	midnight := testStart().Truncate(24 * time.Hour).Add(24 * time.Hour)
	want := strconv.Itoa(int(math.Ceil(midnight.Sub(testStart()).Seconds())))
	if got := r.header.Get("Retry-After"); got != want {
		t.Errorf("Retry-After = %q, want %s (until UTC midnight)", got, want)
	}
	if got := r.header.Get("X-RateLimit-Daily-Remaining"); got != "0" {
		t.Errorf("daily remaining = %q, want 0", got)
	}
	e.clock.Advance(midnight.Sub(testStart()))
	r = e.api("GET", path, loc.Token, nil).want(t, http.StatusOK)
	if got := r.header.Get("X-RateLimit-Daily-Remaining"); got != "2" {
		t.Errorf("daily remaining on the next day = %q, want 2", got)
	}
}

func TestRateLimitSkipsUnauthenticated(t *testing.T) {
	e := newEnv(t, "demo")
	e.setConfig(`{"rateLimit":{"max":1,"window":"1m"}}`)
	loc := e.loc(0)
	path := "/social-media-posting/" + loc.ID + "/tags"
	r := e.api("GET", path, "garbage", nil).want(t, http.StatusUnauthorized)
	if r.header.Get("X-RateLimit-Max") != "" {
		t.Errorf("a 401 for an unknown token carries rate-limit headers")
	}
	e.api("GET", path, loc.Token, nil).want(t, http.StatusOK)
	// Errors after authentication count and carry the headers.
	r = e.request("GET", path, nil, "Authorization", "Bearer "+loc.Token)
	r.want(t, http.StatusTooManyRequests)
}

// The day can start at another time than midnight UTC (HighLevel documents
// none): rateLimit.dailyReset, after midnight UTC.
func TestRateLimitDailyReset(t *testing.T) {
	e := newEnv(t, "demo")
	start := testStart()
	// The reset an hour and a second after now, as a time after midnight UTC.
	reset := start.Add(time.Hour + time.Second).Sub(start.Truncate(24 * time.Hour)).Truncate(time.Second)
	reset %= 24 * time.Hour
	e.setConfig(fmt.Sprintf(`{"rateLimit":{"daily":2,"dailyReset":%q}}`, reset.String()))
	loc := e.loc(0)
	path := "/social-media-posting/" + loc.ID + "/accounts"
	for range 2 {
		e.api("GET", path, loc.Token, nil).want(t, http.StatusOK)
	}
	r := e.api("GET", path, loc.Token, nil).want(t, http.StatusTooManyRequests)
	if got, _ := strconv.Atoi(r.header.Get("Retry-After")); got < 3600 || got > 3602 {
		t.Errorf("Retry-After = %d s, want the reset an hour away", got)
	}
	e.clock.Advance(time.Hour + 2*time.Second)
	r = e.api("GET", path, loc.Token, nil).want(t, http.StatusOK)
	if got := r.header.Get("X-RateLimit-Daily-Remaining"); got != "1" {
		t.Errorf("daily remaining after the reset = %q, want 1", got)
	}
}
