package topology

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// WaitingTriggers returns, per location, how many triggers SOCIALSYNC_TRIGGERS
// still holds: those some worker has not finished (interest retention
// drops a trigger once every durable reading it has acked it). For a
// location that needs re-authorisation these are the messages waiting for
// it to be connected again: bus.ClassAuth defers them, it never dead-letters
// them (the stream's MaxAge, 35 days, still drops what waits longer).
func WaitingTriggers(ctx context.Context, js jetstream.JetStream) (map[string]uint64, error) {
	stream, err := js.Stream(ctx, StreamTriggers)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", StreamTriggers, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter("socialsync.trigger.>"))
	if err != nil {
		return nil, fmt.Errorf("count waiting triggers: %w", err)
	}
	out := map[string]uint64{}
	for subject, n := range info.State.Subjects {
		if _, loc, err := ParseSubject(subject); err == nil {
			out[loc] += n
		}
	}
	return out, nil
}

// HeldTriggers returns how many triggers SOCIALSYNC_TRIGGERS holds for
// location loc: for a paused location (or one needing re-authorisation)
// the work kept for when it resumes.
func HeldTriggers(ctx context.Context, js jetstream.JetStream, loc string) (uint64, error) {
	stream, err := js.Stream(ctx, StreamTriggers)
	if err != nil {
		return 0, fmt.Errorf("open stream %s: %w", StreamTriggers, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter("socialsync.trigger.*."+loc))
	if err != nil {
		return 0, fmt.Errorf("count the triggers of %s: %w", loc, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}
