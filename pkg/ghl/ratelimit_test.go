package ghl

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    RateLimit
		wantErr bool
	}{
		{
			name: "all five",
			headers: map[string]string{
				"X-RateLimit-Limit-Daily":           "200000",
				"X-RateLimit-Daily-Remaining":       "199990",
				"X-RateLimit-Interval-Milliseconds": "10000",
				"X-RateLimit-Max":                   "100",
				"X-RateLimit-Remaining":             "97",
			},
			want: RateLimit{DailyLimit: 200000, DailyRemaining: 199990, Interval: 10 * time.Second, Max: 100, Remaining: 97, Present: true},
		},
		{
			name:    "lower-case names and spaces",
			headers: map[string]string{"x-ratelimit-max": " 100 ", "x-ratelimit-remaining": "0"},
			want:    RateLimit{Max: 100, Present: true},
		},
		{name: "none", headers: map[string]string{"Content-Type": "application/json"}, want: RateLimit{}},
		{
			name:    "garbage is an error, the rest is kept",
			headers: map[string]string{"X-RateLimit-Max": "lots", "X-RateLimit-Remaining": "5"},
			want:    RateLimit{Remaining: 5, Present: true},
			wantErr: true,
		},
		{name: "negative", headers: map[string]string{"X-RateLimit-Remaining": "-1"}, want: RateLimit{}, wantErr: true},
		{name: "overflow", headers: map[string]string{"X-RateLimit-Daily-Remaining": "99999999999999999999"}, want: RateLimit{}, wantErr: true},
		{name: "interval overflow", headers: map[string]string{"X-RateLimit-Interval-Milliseconds": "9223372036854775807"}, want: RateLimit{Present: true}, wantErr: true},
		{name: "float", headers: map[string]string{"X-RateLimit-Max": "100.0"}, want: RateLimit{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			got, err := ParseRateLimit(h)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseRateLimit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRateLimitHeaderRoundTrip(t *testing.T) {
	rl := RateLimit{DailyLimit: 200000, DailyRemaining: 5, Interval: 10 * time.Second, Max: 100, Remaining: 0, Present: true}
	got, err := ParseRateLimit(rl.Header())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rl, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if h := (RateLimit{}).Header(); len(h) != 0 {
		t.Errorf("absent rate limit rendered headers %v", h)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 0 ", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseRateLimit(f *testing.F) {
	f.Add("200000", "199999", "10000", "100", "99")
	f.Add("", "", "", "", "")
	f.Add("-1", "x", "1e3", " 7", "18446744073709551616")
	f.Add("0", "0", "9223372036854775807", "0", "0")
	f.Fuzz(func(t *testing.T, daily, dailyRemaining, interval, max, remaining string) {
		h := http.Header{}
		h.Set(HeaderRateLimitDaily, daily)
		h.Set(HeaderRateLimitDailyRemaining, dailyRemaining)
		h.Set(HeaderRateLimitInterval, interval)
		h.Set(HeaderRateLimitMax, max)
		h.Set(HeaderRateLimitRemaining, remaining)
		rl, _ := ParseRateLimit(h)
		if rl.DailyLimit < 0 || rl.DailyRemaining < 0 || rl.Interval < 0 || rl.Max < 0 || rl.Remaining < 0 {
			t.Fatalf("negative value parsed: %+v", rl)
		}
		if !rl.Present && rl != (RateLimit{}) {
			t.Fatalf("values without Present: %+v", rl)
		}
		// What was parsed renders and parses back to itself.
		again, err := ParseRateLimit(rl.Header())
		if err != nil {
			t.Fatalf("re-parse of %+v: %v", rl, err)
		}
		if again != rl {
			t.Fatalf("round trip: %+v became %+v", rl, again)
		}
	})
}
