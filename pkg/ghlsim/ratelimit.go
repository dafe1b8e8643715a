package ghlsim

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// limiter enforces one location's limits: at most Max accepted requests in
// any rolling Window, and at most Daily per day (a UTC day, or one that
// starts DailyReset after midnight UTC). It keeps the times of
// the last Max accepted requests in a ring, so a decision is O(1) and takes
// no allocation. Rejected requests consume nothing.
type limiter struct {
	mu       sync.Mutex
	gen      uint64 // config generation the ring is sized for
	sized    bool
	ring     []int64 // accepted request times, unix nanoseconds, oldest at head
	head     int
	n        int
	day      int64 // UTC day number of dayCount
	dayCount int64
}

// rateDecision is the outcome of one request against the limits, with what
// the X-RateLimit-* headers report.
type rateDecision struct {
	allowed        bool
	max            int
	remaining      int
	windowMillis   int64
	daily          int64
	dailyRemaining int64
	retryAfter     time.Duration
}

// take decides a request at now and, if it is allowed, counts it.
func (l *limiter) take(now time.Time, cfg *config) rateDecision {
	return l.decide(now, cfg, true)
}

// peek reports the limits at now without counting a request.
func (l *limiter) peek(now time.Time, cfg *config) rateDecision {
	return l.decide(now, cfg, false)
}

func (l *limiter) decide(now time.Time, cfg *config, consume bool) rateDecision {
	rc := cfg.rate
	t := now.UnixNano()
	reset := int64(rc.DailyReset / time.Second)
	day := (now.Unix() - reset) / 86400 // day number, days starting at the reset

	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.sized || l.gen != cfg.gen {
		l.resize(rc.Max)
		l.gen, l.sized = cfg.gen, true
	}
	if l.day != day {
		l.day, l.dayCount = day, 0
	}
	cutoff := t - int64(rc.Window)
	for l.n > 0 && l.ring[l.head] <= cutoff {
		l.head = (l.head + 1) % len(l.ring)
		l.n--
	}

	d := rateDecision{
		max:          rc.Max,
		windowMillis: rc.Window.Milliseconds(),
		daily:        rc.Daily,
	}
	windowFull := l.n >= rc.Max
	dailyFull := l.dayCount >= rc.Daily
	if windowFull || dailyFull || !consume {
		d.allowed = !windowFull && !dailyFull
		d.remaining = rc.Max - l.n
		d.dailyRemaining = max(rc.Daily-l.dayCount, 0)
		if windowFull {
			d.retryAfter = time.Duration(l.ring[l.head] + int64(rc.Window) - t)
		}
		if dailyFull {
			next := time.Unix((day+1)*86400+reset, 0)
			d.retryAfter = max(d.retryAfter, next.Sub(now))
		}
		return d
	}
	l.ring[(l.head+l.n)%len(l.ring)] = t
	l.n++
	l.dayCount++
	d.allowed = true
	d.remaining = rc.Max - l.n
	d.dailyRemaining = rc.Daily - l.dayCount
	return d
}

// resize makes the ring hold max entries, keeping the newest times.
func (l *limiter) resize(max int) {
	if len(l.ring) == max {
		return
	}
	keep := min(l.n, max)
	ring := make([]int64, max)
	for i := range keep {
		ring[i] = l.ring[(l.head+l.n-keep+i)%len(l.ring)]
	}
	l.ring, l.head, l.n = ring, 0, keep
}

// setHeaders writes HighLevel's X-RateLimit-* headers.
func (d rateDecision) setHeaders(h http.Header) {
	h["X-Ratelimit-Limit-Daily"] = []string{strconv.FormatInt(d.daily, 10)}
	h["X-Ratelimit-Daily-Remaining"] = []string{strconv.FormatInt(d.dailyRemaining, 10)}
	h["X-Ratelimit-Interval-Milliseconds"] = []string{strconv.FormatInt(d.windowMillis, 10)}
	h["X-Ratelimit-Max"] = []string{strconv.Itoa(d.max)}
	h["X-Ratelimit-Remaining"] = []string{strconv.Itoa(d.remaining)}
}

// retryAfterSeconds is Retry-After: whole seconds, rounded up, at least 1.
func (d rateDecision) retryAfterSeconds() int64 {
	s := int64((d.retryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}
