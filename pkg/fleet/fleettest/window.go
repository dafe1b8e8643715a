package fleettest

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// APITimes returns the times of the requests HighLevel counts against a
// location's rate window: every API call whatever its status (a 429 is a
// request too), but not the calls to the OAuth token endpoint, which the
// location's limits do not cover.
func APITimes(reqs []Request) []time.Time {
	at := make([]time.Time, 0, len(reqs))
	for _, r := range reqs {
		if !strings.HasPrefix(r.Path, "/oauth/") {
			at = append(at, r.At)
		}
	}
	return at
}

// FullestWindow returns the most requests at any rolling window holds,
// judging the window (t-window, t] at every request's time t, and the end
// of the first window that holds that many.
func FullestWindow(at []time.Time, window time.Duration) (fullest int, end time.Time) {
	at = slices.Clone(at)
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	from := 0
	for i := range at {
		for !at[from].After(at[i].Add(-window)) {
			from++
		}
		if n := i - from + 1; n > fullest {
			fullest, end = n, at[i]
		}
	}
	return fullest, end
}

// CheckWindow fails the test when some rolling window of at holds more
// than max requests, and returns the fullest window's count.
func CheckWindow(tb testing.TB, at []time.Time, max int, window time.Duration) int {
	tb.Helper()
	fullest, end := FullestWindow(at, window)
	if fullest > max {
		tb.Errorf("%d requests in the %v ending %v, allowed %d", fullest, window, end.Format(time.StampMicro), max)
	}
	return fullest
}

// Utilisation is how full a rate window was kept: the requests in a
// rolling window ÷ max, averaged over every window [t, t+window) that lies
// between the first request and the last. A client that sends max requests
// every window scores 1; one that leaves gaps scores less.
func Utilisation(at []time.Time, max int, window time.Duration) float64 {
	if len(at) == 0 {
		return 0
	}
	first, last := slices.MinFunc(at, time.Time.Compare), slices.MaxFunc(at, time.Time.Compare)
	anchors := last.Sub(first) - window // window starts t in [first, last-window]
	if anchors <= 0 {
		return 0
	}
	// A request at r lies in [t, t+window) for t in (r-window, r].
	var covered time.Duration
	for _, r := range at {
		from, to := later(r.Add(-window), first), earlier(r, last.Add(-window))
		if to.After(from) {
			covered += to.Sub(from)
		}
	}
	return covered.Seconds() / (anchors.Seconds() * float64(max))
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
