package ghl

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The rate-limit headers HighLevel sends with every response, verbatim.
const (
	HeaderRateLimitDaily          = "X-RateLimit-Limit-Daily"
	HeaderRateLimitDailyRemaining = "X-RateLimit-Daily-Remaining"
	HeaderRateLimitInterval       = "X-RateLimit-Interval-Milliseconds"
	HeaderRateLimitMax            = "X-RateLimit-Max"
	HeaderRateLimitRemaining      = "X-RateLimit-Remaining"
)

// RateLimit is what one response's X-RateLimit-* headers said about the
// budget of the resource (location or company) the call was made for.
// HighLevel sends the five headers together; a header that is missing or
// unreadable reads as zero, so look at Present before trusting a zero.
type RateLimit struct {
	// DailyLimit is X-RateLimit-Limit-Daily (200,000 today).
	DailyLimit int
	// DailyRemaining is X-RateLimit-Daily-Remaining.
	DailyRemaining int
	// Interval is X-RateLimit-Interval-Milliseconds: the burst window.
	Interval time.Duration
	// Max is X-RateLimit-Max: requests allowed in one Interval.
	Max int
	// Remaining is X-RateLimit-Remaining: requests left in this Interval.
	Remaining int
	// Present reports whether at least one header was read.
	Present bool
}

// ParseRateLimit reads the X-RateLimit-* headers of h. It never panics and
// never returns a negative value: every header that is present but not a
// non-negative decimal integer is left at zero and reported in the joined
// error, while the headers that could be read are still returned.
func ParseRateLimit(h http.Header) (RateLimit, error) {
	var rl RateLimit
	var errs []error
	read := func(name string, dst *int) {
		v, ok, err := headerInt(h, name)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if ok {
			*dst = v
			rl.Present = true
		}
	}
	read(HeaderRateLimitDaily, &rl.DailyLimit)
	read(HeaderRateLimitDailyRemaining, &rl.DailyRemaining)
	read(HeaderRateLimitMax, &rl.Max)
	read(HeaderRateLimitRemaining, &rl.Remaining)
	var ms int
	read(HeaderRateLimitInterval, &ms)
	if ms > math.MaxInt64/int(time.Millisecond) {
		errs = append(errs, fmt.Errorf("%s: %d ms out of range", HeaderRateLimitInterval, ms))
		ms = 0
	}
	rl.Interval = time.Duration(ms) * time.Millisecond
	return rl, errors.Join(errs...)
}

// headerInt reads one non-negative integer header. ok is false when the
// header is absent or empty.
func headerInt(h http.Header, name string) (v int, ok bool, err error) {
	raw := strings.TrimSpace(h.Get(name))
	if raw == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt {
		return 0, false, fmt.Errorf("%s: invalid value %.32q", name, raw)
	}
	return int(n), true, nil
}

// Header renders rl as the five X-RateLimit-* headers (none when rl is not
// Present). ParseRateLimit(rl.Header()) returns rl.
func (rl RateLimit) Header() http.Header {
	h := http.Header{}
	if !rl.Present {
		return h
	}
	h.Set(HeaderRateLimitDaily, strconv.Itoa(rl.DailyLimit))
	h.Set(HeaderRateLimitDailyRemaining, strconv.Itoa(rl.DailyRemaining))
	h.Set(HeaderRateLimitInterval, strconv.FormatInt(rl.Interval.Milliseconds(), 10))
	h.Set(HeaderRateLimitMax, strconv.Itoa(rl.Max))
	h.Set(HeaderRateLimitRemaining, strconv.Itoa(rl.Remaining))
	return h
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
// It returns 0 when the value is absent, unreadable or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// limitStore keeps the last rate limit seen per resource (location or
// company id), shared by a Client and its ForLocation views.
type limitStore struct {
	mu   sync.Mutex
	last map[string]RateLimit
}

func (s *limitStore) put(resource string, rl RateLimit) {
	if resource == "" || !rl.Present {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = make(map[string]RateLimit)
	}
	s.last[resource] = rl
}

func (s *limitStore) get(resource string) (RateLimit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rl, ok := s.last[resource]
	return rl, ok
}
