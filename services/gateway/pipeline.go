package gateway

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/topology"
)

// pipelineHealth is GET /v1/pipeline: what the dashboard's health panel
// shows.
type pipelineHealth struct {
	Time        time.Time        `json:"time"`
	Consumers   []consumerHealth `json:"consumers"`
	Streams     []streamHealth   `json:"streams"`
	DeadLetters deadLetterCounts `json:"deadLetters"`
	Locations   []locationHealth `json:"locations"`
	// NextCursor pages through the locations.
	NextCursor string `json:"nextCursor,omitempty"`
}

type consumerHealth struct {
	Worker string `json:"worker"`
	Stream string `json:"stream"`
	// Lag is the messages not yet delivered; AckPending those delivered
	// and not yet acknowledged (including deferred ones).
	Lag         uint64 `json:"lag"`
	AckPending  int    `json:"ackPending"`
	Redelivered int    `json:"redelivered"`
	Acked       uint64 `json:"acked"`
	// PerSecond is the acknowledgement rate since the previous look.
	PerSecond float64 `json:"perSecond"`
	Error     string  `json:"error,omitempty"`
}

type streamHealth struct {
	Name      string  `json:"name"`
	Messages  uint64  `json:"messages"`
	LastSeq   uint64  `json:"lastSeq"`
	PerSecond float64 `json:"perSecond"`
}

type deadLetterCounts struct {
	Total      uint64            `json:"total"`
	ByWorker   map[string]uint64 `json:"byWorker"`
	ByLocation map[string]uint64 `json:"byLocation"`
}

type locationHealth struct {
	ID    string      `json:"id"`
	Name  string      `json:"name,omitempty"`
	State string      `json:"state"`
	Token tokenState  `json:"token"`
	Rate  *rateBudget `json:"rate,omitempty"`
	// Waiting counts the location's triggers some worker has not finished;
	// for a location that needs re-authorisation, the work waiting for it.
	Waiting uint64 `json:"waiting"`
}

type rateBudget struct {
	Max            int64   `json:"max"`
	WindowSeconds  float64 `json:"windowSeconds"`
	Used           int64   `json:"used"`
	Remaining      int64   `json:"remaining"`
	Daily          int64   `json:"daily"`
	DailyUsed      int64   `json:"dailyUsed"`
	DailyRemaining int64   `json:"dailyRemaining"`
	// DailyResetAt is when the day's count starts again; past the daily
	// cap the location's work is deferred to it.
	DailyResetAt time.Time `json:"dailyResetAt"`
	// DailyResetConfigured: DailyResetAt is SOCIALSYNC_RATE_DAILY_RESET's,
	// not learned from HighLevel (or midnight UTC).
	DailyResetConfigured bool       `json:"dailyResetConfigured"`
	PausedUntil          *time.Time `json:"pausedUntil,omitempty"`
}

func toRateBudget(hr ratelimit.Headroom) *rateBudget {
	out := &rateBudget{Max: hr.Max, WindowSeconds: hr.Window.Seconds(), Used: hr.Used, Remaining: hr.Remaining(),
		Daily: hr.Daily, DailyUsed: hr.DailyUsed, DailyRemaining: hr.DailyRemaining(), DailyResetAt: hr.DailyResetAt,
		DailyResetConfigured: hr.DailyResetConfigured}
	if !hr.PausedUntil.IsZero() {
		p := hr.PausedUntil.UTC()
		out.PausedUntil = &p
	}
	return out
}

// pipeline is GET /v1/pipeline. The workers, streams and dead letters are
// the whole fleet's; the locations (token state and rate headroom, one
// read each) are paged, or only the one named by ?location=. A
// location-limited key sees its locations and their dead letters only,
// and no worker or stream: their counts are every location's.
func (g *Gateway) pipeline(w http.ResponseWriter, r *http.Request) {
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	only := r.URL.Query().Get("location")
	if only != "" && !ids.ValidHighLevel(only) {
		writeError(w, http.StatusBadRequest, "bad_request", "location: want a HighLevel location id, got "+quote(only))
		return
	}
	if only != "" && !allow(w, r, only) {
		return
	}
	h, err := g.health(r.Context(), p, only, keyOfRequest(r))
	if err != nil {
		g.storeError(w, "read pipeline health", err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (g *Gateway) health(ctx context.Context, p page, only string, k apiKey) (pipelineHealth, error) {
	now := g.now()
	out := pipelineHealth{Time: now.UTC(), Consumers: []consumerHealth{}, Streams: []streamHealth{}, Locations: []locationHealth{}}
	if !k.limited() {
		if err := g.fleetHealth(ctx, now, &out); err != nil {
			return out, err
		}
	}
	bySubject, _, err := bus.CountDeadLetters(ctx, g.deps.JS, bus.DeadLetterFilter("", ""))
	if err != nil {
		return out, err
	}
	out.DeadLetters = deadLetterCounts{ByWorker: map[string]uint64{}, ByLocation: map[string]uint64{}}
	for subject, n := range bySubject {
		parts := strings.Split(strings.TrimPrefix(subject, bus.DeadLetterPrefix+"."), ".")
		if len(parts) == 2 && k.allows(parts[1]) {
			out.DeadLetters.Total += n
			out.DeadLetters.ByWorker[parts[0]] += n
			out.DeadLetters.ByLocation[parts[1]] += n
		}
	}
	locs, err := g.deps.Directory.Locations(ctx)
	if err != nil {
		return out, err
	}
	locs = slices.DeleteFunc(locs, func(l creds.Location) bool { return only != "" && l.ID != only || !k.allows(l.ID) })
	// The waiting counts are a convenience: without them the rest of the
	// health report still stands.
	waiting, err := topology.WaitingTriggers(ctx, g.deps.JS)
	if err != nil {
		g.log.Warn("waiting triggers not counted", "err", err)
	}
	lo, hi, next := p.window(len(locs))
	out.NextCursor = next
	for _, l := range locs[lo:hi] {
		lh := locationHealth{ID: l.ID, Name: l.Name, State: string(l.State), Token: g.tokenState(ctx, l.ID), Waiting: waiting[l.ID]}
		if hr, err := g.governor.Headroom(ctx, l.ID); err == nil {
			lh.Rate = toRateBudget(hr)
		}
		out.Locations = append(out.Locations, lh)
	}
	return out, nil
}

// fleetHealth adds the workers and the streams to out.
func (g *Gateway) fleetHealth(ctx context.Context, now time.Time, out *pipelineHealth) error {
	for _, spec := range g.deps.Topology.Consumers {
		c := consumerHealth{Worker: spec.Config.Durable, Stream: spec.Stream}
		info, err := g.deps.JS.Consumer(ctx, spec.Stream, spec.Config.Durable)
		if err == nil {
			var ci = info.CachedInfo()
			if fresh, err2 := info.Info(ctx); err2 == nil {
				ci = fresh
			}
			c.Lag, c.AckPending, c.Redelivered, c.Acked = ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.AckFloor.Consumer
			c.PerSecond = g.rates.rate("consumer:"+spec.Stream+":"+spec.Config.Durable, c.Acked, now)
		} else {
			c.Error = err.Error()
		}
		out.Consumers = append(out.Consumers, c)
	}
	sort.Slice(out.Consumers, func(i, j int) bool {
		a, b := out.Consumers[i], out.Consumers[j]
		return a.Worker < b.Worker || a.Worker == b.Worker && a.Stream < b.Stream
	})
	for _, name := range []string{topology.StreamTriggers, topology.StreamEvents, bus.StreamDLQ} {
		s, err := g.deps.JS.Stream(ctx, name)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		out.Streams = append(out.Streams, streamHealth{Name: name, Messages: info.State.Msgs, LastSeq: info.State.LastSeq,
			PerSecond: g.rates.rate("stream:"+name, info.State.LastSeq, now)})
	}
	return nil
}

// sampler turns counters into rates: per key, the counter's growth per
// second between two looks at least a second apart.
type sampler struct {
	mu    sync.Mutex
	items map[string]*sample
}

type sample struct {
	at    time.Time
	value uint64
	rate  float64
}

func newSampler() *sampler { return &sampler{items: map[string]*sample{}} }

func (s *sampler) rate(key string, value uint64, now time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.items[key]
	if !ok {
		s.items[key] = &sample{at: now, value: value}
		return 0
	}
	dt := now.Sub(prev.at).Seconds()
	if dt < 1 {
		return prev.rate
	}
	r := 0.0
	if value >= prev.value {
		r = float64(value-prev.value) / dt
	}
	*prev = sample{at: now, value: value, rate: r}
	return r
}
