package contactsync

import (
	"context"
	"errors"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"sync"
	"time"

	"github.com/socialsync/socialsync/pkg/contacttags"
)

// Cross-event batching. The handlers of one location's post triggers
// write their contacts' tag changes through the worker's
// contacttags.Merger: when the location's budget is free and nothing
// waits, a handler's write leaves at once, as it always did; while a call
// of the location waits for its permit (the governor paces it) or other
// handlers' writes are being sent, the writes that arrive meanwhile wait
// in the location's pool and the next call covers as many of them as
// their tag sets allow (one bulk call per tag for a backlog of many
// events). Each handler waits for its own contacts' outcomes, then
// records the removals made and stores each contact's state as before,
// so that its message is acknowledged only after every change it
// contributed is committed; a crash mid-batch redelivers every message of
// the batch, which plans again from the stored states (the removal
// records keep a removal HighLevel confirmed from being repeated). A
// contact HighLevel refuses fails alone.
//
// For the pool to fill while a location is paced, its messages are not
// all handed back to JetStream: as long as fewer than three quarters of
// the post trigger slots (SOCIALSYNC_CONTACTSYNC_TRIGGER_CONCURRENCY)
// hold messages of paced locations, and the location's permit is at most
// contacttags.MaxPause away, a paced location's message stays and joins
// the pool (merging). The last quarter stays free for other locations.

// merging admits the handlers of paced locations that wait for their
// writes to be merged, up to limit at once in the process.
type merging struct {
	limit int

	mu      sync.Mutex
	waiting int
}

func newMerging(limit int) *merging { return &merging{limit: limit} }

// admit reports whether a handler whose location is paced (paced is the
// Pacer's error) may stay to have its writes merged, and returns the
// function that ends its stay.
func (m *merging) admit(paced error) (leave func(), ok bool) {
	var d interface{ DeferFor() time.Duration }
	if !errors.As(paced, &d) || d.DeferFor() > contacttags.MaxPause {
		return nil, false
	}
	return m.take()
}

// take takes one of the places, when one is free, and returns the
// function that gives it back.
func (m *merging) take() (leave func(), ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.waiting >= m.limit {
		return nil, false
	}
	m.waiting++
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			m.waiting--
			m.mu.Unlock()
		})
	}, true
}

// stay decides whether a post trigger's handler goes on for loc in ctx's
// lane: a paced location's handler stays to have its writes merged when
// merging admits it (within its places, its permit at most
// contacttags.MaxPause away), and goes back with the Pacer's error
// otherwise; any other handler goes on (join decides, before it writes,
// whether it waits in the location's pool). The returned context marks an
// admitted handler (isMerging); call leave when the handler is done.
func (h *handler) stay(ctx context.Context, loc string) (_ context.Context, leave func(), err error) {
	if err := h.w.deps.Pacer.CheckLane(loc, ghl.LaneOf(ctx)); err != nil {
		leave, ok := h.merging.admit(err)
		if !ok {
			return ctx, nil, err
		}
		return withMerging(ctx), leave, nil
	}
	if ghl.LaneOf(ctx) != ghl.LaneInteractive {
		return ctx, func() {}, nil
	}
	return h.join(ctx, loc)
}

// join takes a merging place for a handler about to write loc's contact
// tags, when one is free: a handler with a place holds its contacts
// shared with the other merged handlers (apply). Without a free place, a
// handler whose location already has writes waiting in the Merger's pool
// goes back for bus.BusyDeferral instead of waiting there: every handler
// that waits behind a location's pool holds a place, so that the pool of
// a location far over its budget takes at most the places, never every
// slot (and its backlog the other locations' turns).
func (h *handler) join(ctx context.Context, loc string) (_ context.Context, leave func(), err error) {
	if leave, ok := h.merging.take(); ok {
		return withMerging(ctx), leave, nil
	}
	if h.w.merger.Waiting(loc, ghl.LaneOf(ctx)) > 0 {
		return ctx, nil, bus.Defer(bus.ErrBusy, bus.BusyDeferral)
	}
	return ctx, func() {}, nil
}

type mergingKey struct{}

// withMerging marks ctx as a handler's admitted to wait for its writes
// to be merged.
func withMerging(ctx context.Context) context.Context {
	return context.WithValue(ctx, mergingKey{}, true)
}

// isMerging reports whether ctx is a handler's admitted by merging.admit.
func isMerging(ctx context.Context) bool {
	v, _ := ctx.Value(mergingKey{}).(bool)
	return v
}
