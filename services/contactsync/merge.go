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
// the pool (merging). The same places bound every handler that waits
// behind a location's pool: one without a place goes back, unless its
// location's pool was idle when it came to write (join). The last
// quarter of the slots stays free for other locations.

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

// free reports whether a place is free now (a hint: take decides).
func (m *merging) free() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.waiting < m.limit
}

// errPlacesTaken is why a post trigger whose location's writes already
// wait in the Merger's pool goes back when every merging place of the
// replica is taken.
var errPlacesTaken = errors.New("contactsync: this location's contact tag writes already wait to be sent and every merging place of this replica is taken")

// stay decides whether a post trigger's handler goes on for loc in ctx's
// lane, before any read: a paced location's handler stays to have its
// writes merged when merging admits it (within its places, the
// location's next permit at most contacttags.MaxPause away: PeekLane,
// which promises the handler no permit of those the deferred messages'
// returns are spread over), and goes back with the Pacer's error
// otherwise (comeBackEarly); an interactive handler whose location's
// writes already wait in the pool, with no place free, goes back for
// bus.BusyDeferral (join would send it back anyway, after its reads).
// The returned context marks an admitted handler (isMerging); call leave
// when the handler is done.
func (h *handler) stay(ctx context.Context, loc string) (_ context.Context, leave func(), err error) {
	lane := ghl.LaneOf(ctx)
	if err := h.w.deps.Pacer.PeekLane(loc, lane); err != nil {
		if leave, ok := h.merging.admit(err); ok {
			return withMerging(ctx), leave, nil
		}
		// Handed back: told when to come back (CheckLane's promise),
		// unless a permit freed meanwhile.
		if err := h.w.deps.Pacer.CheckLane(loc, lane); err != nil {
			return ctx, nil, comeBackEarly(err)
		}
	}
	if lane == ghl.LaneInteractive && !h.merging.free() && h.w.merger.Waiting(loc, lane) > 0 {
		return ctx, nil, bus.Defer(errPlacesTaken, bus.BusyDeferral)
	}
	return ctx, func() {}, nil
}

// returnEarly is how much sooner than its promised permit a post trigger
// handed back for a paced location comes back (half its wait, when that
// is shorter): back before the permit, it stays in its location's pool
// (a merging place, PeekLane) and its write leaves the moment the window
// allows, instead of the moment JetStream brings it back. With replicas
// each spreading their own deferred messages over the permits to come,
// the returns bunch on the first permits and trail on the last: a
// backlog's last window was sent over 1.5 s where its permits freed over
// 1 s.
const returnEarly = time.Second

// comeBackEarly returns the Pacer's error err with its wait shortened by
// returnEarly.
func comeBackEarly(err error) error {
	var d interface{ DeferFor() time.Duration }
	if !errors.As(err, &d) {
		return err
	}
	wait := d.DeferFor()
	return bus.Defer(err, wait-min(wait/2, returnEarly))
}

// join admits a handler about to write loc's contact tags in the
// interactive lane, which its location's pool may make wait: it takes a
// merging place when one is free (a handler with a place holds its
// contacts shared with the other merged handlers, apply); without one, it
// writes alone when its location's pool is idle and no other handler
// without a place has its turn (contacttags.Merger.Alone), and goes back
// for bus.BusyDeferral otherwise. So every handler that waits behind a
// location's pool holds a place, but for one: a location far over its
// budget takes at most the places and that one slot, never every slot
// (and its backlog the other locations' turns).
func (h *handler) join(ctx context.Context, loc string) (_ context.Context, leave func(), err error) {
	if leave, ok := h.merging.take(); ok {
		return withMerging(ctx), leave, nil
	}
	if release, ok := h.w.merger.Alone(ctx, loc); ok {
		return ctx, release, nil
	}
	return ctx, nil, bus.Defer(errPlacesTaken, bus.BusyDeferral)
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
