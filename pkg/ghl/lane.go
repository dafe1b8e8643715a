package ghl

import "context"

// Lane is the priority of a HighLevel call in its location's budget (see
// pkg/ratelimit): a call a person waits for goes before background work.
// A call carries its lane in its context (WithLane); the Limiter reads it
// with LaneOf, and the rate-headroom metric reports it as its lane label.
type Lane uint8

const (
	// LaneInteractive is work a person waits for: the contact tags of a
	// post trigger, API and dashboard calls, the test console, a command
	// an operator runs. It is the lane of a context that names none.
	LaneInteractive Lane = iota
	// LaneBackground is work nobody waits for: custom values, reports,
	// reconciliation, backfills, catalogue refreshes, the optional
	// mirror, remapping and renaming, purges.
	LaneBackground
)

// Lanes are every lane, in priority order.
var Lanes = []Lane{LaneInteractive, LaneBackground}

// String is the lane's label: "interactive" or "background".
func (l Lane) String() string {
	if l == LaneBackground {
		return "background"
	}
	return "interactive"
}

type laneKey struct{}

// WithLane returns ctx with the calls made under it in lane l.
func WithLane(ctx context.Context, l Lane) context.Context {
	return context.WithValue(ctx, laneKey{}, l)
}

// LaneOf returns the lane of the calls made under ctx: LaneInteractive
// unless WithLane said otherwise.
func LaneOf(ctx context.Context) Lane {
	if l, ok := ctx.Value(laneKey{}).(Lane); ok && l <= LaneBackground {
		return l
	}
	return LaneInteractive
}

type retryKey struct{}

// WithInMemoryRetry marks the calls made under ctx as a caller's that
// keeps its work in memory and tries again itself when the budget paces
// it (contacttags.Merger's sender), rather than deferring a message: the
// Limiter's answer tells it when the next permit frees and promises it
// none of the permits it spreads the deferred messages' returns over.
func WithInMemoryRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, retryKey{}, true)
}

// RetriesInMemory reports whether WithInMemoryRetry marked ctx.
func RetriesInMemory(ctx context.Context) bool {
	v, _ := ctx.Value(retryKey{}).(bool)
	return v
}
