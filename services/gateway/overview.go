package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
)

// GET /v1/locations/health: every location the key may see with its
// health, the one in trouble first. It is computed from what JetStream
// holds in a fixed number of requests, whatever the number of locations:
// one watch of the locations and one of the tokens (creds.Overview), one
// of the rate budgets (Governor.Headrooms), one of the last days of the
// statistics history (metadata only), the triggers stream's and the dead
// letters' per-subject counts, and one message read per location that has
// work waiting, for its oldest trigger. HighLevel is never called.

// The health ranks, most urgent first (docs/gateway.md, "Locations at a
// glance").
const (
	// rankTrouble: nothing is synced for the location until a person acts
	// (re-authorise, fix the token record) or the day ends (daily cap).
	rankTrouble = 0
	// rankWarning: something needs a look: dead letters, a trigger
	// waiting long, the daily cap reached before the day ends at today's
	// rate, a pause HighLevel asked for, no recent statistics run, a state
	// other than active (connecting, or one a person chose).
	rankWarning = 1
	rankOK      = 2
)

var rankNames = [...]string{rankTrouble: "trouble", rankWarning: "warning", rankOK: "ok"}

const (
	// staleTrigger is how long a trigger may wait before its location
	// ranks as a warning.
	staleTrigger = 5 * time.Minute
	// statsLookback is how many days of statistics history are read for
	// the last run: a location without a run in them ranks as a warning
	// once it has been connected that long.
	statsLookback = 8
	// oldestReads bounds the concurrent reads of oldest triggers.
	oldestReads = 8
)

// locationOverview is one row of GET /v1/locations/health.
type locationOverview struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Health is rankNames[Rank]; Problems say why, most urgent first.
	Health   string     `json:"health"`
	Rank     int        `json:"rank"`
	Problems []string   `json:"problems"`
	Token    tokenState `json:"token"`
	// Waiting counts the location's triggers some worker has not
	// acknowledged; OldestWaiting is when the oldest of them was stored.
	Waiting              uint64      `json:"waiting"`
	OldestWaiting        *time.Time  `json:"oldestWaiting,omitempty"`
	OldestWaitingSeconds float64     `json:"oldestWaitingSeconds"`
	DeadLetters          uint64      `json:"deadLetters"`
	Rate                 *rateBudget `json:"rate"`
	// DailyCapAt is when the daily cap is reached at the day's rate so
	// far (calls since the day's start: 00:00 UTC, or the reset the
	// governor learned); absent when not before the reset (Rate's
	// dailyResetAt). Now or earlier when it is reached.
	DailyCapAt *time.Time `json:"dailyCapAt,omitempty"`
	// LastStatsRun is when the statistics history was last written;
	// absent when not within statsLookback days.
	LastStatsRun *time.Time `json:"lastStatsRun,omitempty"`
}

type overviewList struct {
	Time   time.Time          `json:"time"`
	Items  []locationOverview `json:"items"`
	Counts map[string]int     `json:"counts"`
	// NextCursor pages through the locations.
	NextCursor string `json:"nextCursor,omitempty"`
}

// locationsHealth is GET /v1/locations/health.
func (g *Gateway) locationsHealth(w http.ResponseWriter, r *http.Request) {
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	items, err := g.overview(r.Context(), keyOfRequest(r))
	if err != nil {
		g.storeError(w, "read locations health", err)
		return
	}
	out := overviewList{Time: g.now().UTC(), Items: []locationOverview{}, Counts: map[string]int{"trouble": 0, "warning": 0, "ok": 0}}
	for _, it := range items {
		out.Counts[it.Health]++
	}
	lo, hi, next := p.window(len(items))
	out.Items, out.NextCursor = append(out.Items, items[lo:hi]...), next
	writeJSON(w, http.StatusOK, out)
}

// overview returns the health of every location k may see, ranked. The
// reads are independent and done at once: the page waits for the
// slowest, not for their sum.
func (g *Gateway) overview(ctx context.Context, k apiKey) ([]locationOverview, error) {
	now := g.now()
	var (
		all         []creds.LocationStatus
		dirErr      error
		deadLetters map[string]uint64
		waiting     map[string]uint64
		headrooms   map[string]ratelimit.Headroom
		lastRuns    map[string]time.Time
	)
	var eg errgroup.Group
	eg.Go(func() error {
		all, dirErr = g.deps.Directory.Overview(ctx)
		return nil
	})
	eg.Go(func() (err error) {
		deadLetters, _, err = bus.CountDeadLetters(ctx, g.deps.JS, bus.DeadLetterFilter("", ""))
		return err
	})
	// The rest is a convenience: without one figure the others stand.
	eg.Go(func() (err error) {
		if waiting, err = topology.WaitingTriggers(ctx, g.deps.JS); err != nil {
			g.log.Warn("locations health: waiting triggers not counted", "err", err)
		}
		return nil
	})
	eg.Go(func() (err error) {
		if headrooms, err = g.governor.Headrooms(ctx); err != nil {
			g.log.Warn("locations health: rate budgets", "err", err)
		}
		return nil
	})
	eg.Go(func() (err error) {
		if lastRuns, err = g.lastStatsRuns(ctx, now); err != nil {
			g.log.Warn("locations health: statistics runs", "err", err)
		}
		return nil
	})
	dlErr := eg.Wait()
	if dirErr != nil && len(all) == 0 {
		return nil, dirErr
	}
	if dirErr != nil {
		g.log.Warn("locations health: some locations unreadable", "err", dirErr)
	}
	all = slices.DeleteFunc(all, func(l creds.LocationStatus) bool { return !k.allows(l.ID) })
	if len(all) == 0 {
		return []locationOverview{}, nil
	}
	if dlErr != nil {
		return nil, dlErr
	}
	byLocation := map[string]uint64{}
	for subject, n := range deadLetters {
		parts := strings.Split(strings.TrimPrefix(subject, bus.DeadLetterPrefix+"."), ".")
		if len(parts) == 2 {
			byLocation[parts[1]] += n
		}
	}
	oldest := g.oldestTriggers(ctx, waiting, all)
	out := make([]locationOverview, 0, len(all))
	for _, l := range all {
		o := locationOverview{ID: l.ID, Name: l.Name, State: string(l.State), Reason: l.Reason,
			Token: g.tokenStateOf(l.Token, l.TokenErr), Waiting: waiting[l.ID], DeadLetters: byLocation[l.ID]}
		hr, ok := headrooms[l.ID]
		if !ok {
			hr = g.governor.Unused()
		}
		o.Rate = toRateBudget(hr)
		o.DailyCapAt = dailyCapAt(hr, now)
		if t, ok := oldest[l.ID]; ok {
			t = t.UTC()
			o.OldestWaiting, o.OldestWaitingSeconds = &t, max(now.Sub(t).Seconds(), 0)
		}
		if t, ok := lastRuns[l.ID]; ok {
			t = t.UTC()
			o.LastStatsRun = &t
		}
		o.Rank, o.Problems = rank(o, hr, l.AddedAt, now)
		o.Health = rankNames[o.Rank]
		out = append(out, o)
	}
	slices.SortStableFunc(out, func(a, b locationOverview) int {
		return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(b.DeadLetters, a.DeadLetters),
			cmp.Compare(b.OldestWaitingSeconds, a.OldestWaitingSeconds), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// rank returns a location's health rank and the problems behind it, most
// urgent first.
func rank(o locationOverview, hr ratelimit.Headroom, addedAt, now time.Time) (int, []string) {
	r := rankOK
	problems := []string{}
	add := func(at int, problem string) {
		r = min(r, at)
		problems = append(problems, problem)
	}
	switch o.Token.Status {
	case "needs_reauth":
		add(rankTrouble, "needs re-authorisation")
	case "unknown":
		add(rankTrouble, "token unreadable")
	case "expired":
		if !o.Token.CanRefresh {
			add(rankTrouble, "token expired and cannot be refreshed")
		}
	}
	switch o.State {
	case string(creds.StateActive):
	case string(creds.StateNeedsReauth):
		if o.Token.Status != "needs_reauth" {
			add(rankTrouble, "needs re-authorisation")
		}
	default: // connecting, or a state a person chose: shown, not an emergency
		add(rankWarning, "state "+o.State)
	}
	if hr.Daily > 0 && hr.DailyRemaining() == 0 {
		add(rankTrouble, "daily cap reached")
	}
	if o.DeadLetters > 0 {
		add(rankWarning, fmt.Sprintf("%d dead letter%s", o.DeadLetters, map[bool]string{true: "s"}[o.DeadLetters > 1]))
	}
	if o.OldestWaitingSeconds >= staleTrigger.Seconds() {
		add(rankWarning, "a trigger waiting "+(time.Duration(o.OldestWaitingSeconds)*time.Second).String())
	}
	if o.DailyCapAt != nil && hr.DailyRemaining() > 0 {
		add(rankWarning, "daily cap reached by "+o.DailyCapAt.Format("15:04")+" UTC at today's rate")
	}
	if !hr.PausedUntil.IsZero() {
		add(rankWarning, "paused by HighLevel (429) until "+hr.PausedUntil.UTC().Format("15:04:05")+" UTC")
	}
	if o.LastStatsRun == nil && now.Sub(addedAt) > statsLookback*24*time.Hour {
		add(rankWarning, fmt.Sprintf("no statistics run in %d days", statsLookback))
	}
	return r, problems
}

// dailyCapAt is when hr's daily cap is reached at the rate of its day so
// far (ratelimit.Headroom.DailyForecast: the day starts at the reset the
// governor learned, midnight UTC unless HighLevel showed another); nil
// when that is not before the reset. A spent cap is reached now.
func dailyCapAt(hr ratelimit.Headroom, now time.Time) *time.Time {
	at, ok := hr.DailyForecast(now)
	if !ok {
		return nil
	}
	return &at
}

// lastStatsRuns returns, per location, when its statistics history was
// last written within statsLookback days (metadata only: no value is
// read). History days are location-local, so the day after today's UTC
// day is read too.
func (g *Gateway) lastStatsRuns(ctx context.Context, now time.Time) (map[string]time.Time, error) {
	day := now.UTC().AddDate(0, 0, 1)
	var keys []string
	for range statsLookback + 1 {
		keys = append(keys, report.HistoryKey("*", day.Format(report.DayLayout)))
		day = day.AddDate(0, 0, -1)
	}
	out := map[string]time.Time{}
	err := bus.EachCurrent(ctx, g.kv.history, keys, func(e jetstream.KeyValueEntry) {
		loc, _, _ := strings.Cut(e.Key(), ".")
		if e.Created().After(out[loc]) {
			out[loc] = e.Created()
		}
	}, jetstream.MetaOnly())
	return out, err
}

// oldestTriggers returns when the oldest trigger still in the triggers
// stream was stored, for each location of locs with work waiting: one
// read each (the first message of its subjects), a few at a time. A
// location whose read fails is left out.
func (g *Gateway) oldestTriggers(ctx context.Context, waiting map[string]uint64, locs []creds.LocationStatus) map[string]time.Time {
	out := map[string]time.Time{}
	stream, err := g.deps.JS.Stream(ctx, topology.StreamTriggers)
	if err != nil {
		g.log.Warn("locations health: oldest triggers", "err", err)
		return out
	}
	var mu sync.Mutex
	var eg errgroup.Group
	eg.SetLimit(oldestReads)
	for _, l := range locs {
		if waiting[l.ID] == 0 {
			continue
		}
		eg.Go(func() error {
			m, err := stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject("socialsync.trigger.*."+l.ID))
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgNotFound) {
					g.log.Warn("locations health: oldest trigger", "location", l.ID, "err", err)
				}
				return nil
			}
			mu.Lock()
			out[l.ID] = m.Time
			mu.Unlock()
			return nil
		})
	}
	_ = eg.Wait()
	return out
}
