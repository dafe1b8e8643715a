package ghlsim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxHang bounds an injected timeout: the request hangs until the client
// gives up or this long, then answers 504.
const maxHang = 30 * time.Second

// faultSettings is the fault injection configuration of PUT /_sandbox/faults.
// Rates are probabilities in [0, 1], drawn independently per request in the
// order reset, timeout, 500, 429, from a generator seeded with Seed.
type faultSettings struct {
	Rate429     float64 `json:"rate429"`
	Rate500     float64 `json:"rate500"`
	TimeoutRate float64 `json:"timeoutRate"`
	ResetRate   float64 `json:"resetRate"`
	LatencyMs   int     `json:"latencyMs"`
	Seed        uint64  `json:"seed"`
}

// validate returns an error naming the first invalid field.
func (f faultSettings) validate() error {
	rates := []struct {
		name string
		v    float64
	}{{"rate429", f.Rate429}, {"rate500", f.Rate500}, {"timeoutRate", f.TimeoutRate}, {"resetRate", f.ResetRate}}
	for _, r := range rates {
		if !(r.v >= 0 && r.v <= 1) {
			return fmt.Errorf("%s: want a probability between 0 and 1, got %v", r.name, r.v)
		}
	}
	if f.LatencyMs < 0 || f.LatencyMs > 60_000 {
		return fmt.Errorf("latencyMs: want 0..60000, got %d", f.LatencyMs)
	}
	return nil
}

// faultState is one published configuration and its generator.
type faultState struct {
	settings faultSettings
	active   bool
	mu       sync.Mutex // guards rng
	rng      *rand.Rand
}

// faultInjector decides, per request, whether to misbehave. With no fault
// configured it costs one atomic load.
type faultInjector struct {
	cur atomic.Pointer[faultState]
}

// set publishes new settings and restarts the generator from their seed.
func (fi *faultInjector) set(f faultSettings) {
	fi.cur.Store(&faultState{
		settings: f,
		active:   f.Rate429 > 0 || f.Rate500 > 0 || f.TimeoutRate > 0 || f.ResetRate > 0 || f.LatencyMs > 0,
		rng:      rand.New(rand.NewPCG(f.Seed, 0x9e3779b97f4a7c15)),
	})
}

// get returns the current settings.
func (fi *faultInjector) get() faultSettings {
	return fi.cur.Load().settings
}

type faultKind int

const (
	faultNone faultKind = iota
	faultReset
	faultTimeout
	fault500
	fault429
)

// String is the fault's name in the request log.
func (k faultKind) String() string {
	switch k {
	case faultReset:
		return "reset"
	case faultTimeout:
		return "timeout"
	case fault500:
		return "500"
	case fault429:
		return "429"
	}
	return ""
}

// roll draws the fault of one request.
func (st *faultState) roll() faultKind {
	st.mu.Lock()
	defer st.mu.Unlock()
	f := st.settings
	switch {
	case f.ResetRate > 0 && st.rng.Float64() < f.ResetRate:
		return faultReset
	case f.TimeoutRate > 0 && st.rng.Float64() < f.TimeoutRate:
		return faultTimeout
	case f.Rate500 > 0 && st.rng.Float64() < f.Rate500:
		return fault500
	case f.Rate429 > 0 && st.rng.Float64() < f.Rate429:
		return fault429
	}
	return faultNone
}

// injectFault applies latency and at most one fault to the request. It returns
// true when it answered (or dropped) the request itself.
func (s *Simulator) injectFault(rec *recorder, r *http.Request) bool {
	st := s.faults.cur.Load()
	if !st.active {
		return false
	}
	ctx := r.Context()
	if d := time.Duration(st.settings.LatencyMs) * time.Millisecond; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			rec.status = 499
			return true
		}
	}
	kind := st.roll()
	if kind == faultNone {
		return false
	}
	rec.fault = kind.String()
	// Attribute the faulted request to the token's location in the log.
	var loc *location
	if g := s.authenticate(r); g != nil && g.kind != grantCompany {
		if loc = s.location(g.locationID); loc != nil {
			rec.location = loc.id
		}
	}
	switch kind {
	case faultReset:
		conn, _, err := http.NewResponseController(rec).Hijack()
		if err != nil {
			// The writer cannot hand over its connection (HTTP/2, or a
			// recorder in a test): say what would have happened.
			writeStatus(rec, http.StatusBadGateway, "connection reset (simulated)")
			return true
		}
		_ = conn.Close()
		return true
	case faultTimeout:
		t := time.NewTimer(maxHang)
		defer t.Stop()
		select {
		case <-ctx.Done():
			rec.status = 499
		case <-t.C:
			writeStatus(rec, http.StatusGatewayTimeout, msgGatewayTimeout)
		}
		return true
	case fault500:
		writeStatus(rec, http.StatusInternalServerError, msgInternalError)
		return true
	case fault429:
		// Shaped like a real 429, with the location's headers when the
		// token names one; it consumes no budget.
		if loc != nil {
			d := loc.limiter.peek(s.now(), s.config.Load())
			d.remaining = 0
			d.setHeaders(rec.Header())
		}
		writeTooManyRequests(rec, 1)
		return true
	}
	return false
}
