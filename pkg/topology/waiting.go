package topology

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
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

// PurgeLocation deletes the unfinished triggers and the pending catalogue
// refresh of location loc, removed: kept for a location that is gone, they
// would only become dead letters ("not registered"). It returns how many
// messages went. Its removal requests (RemoveTriggers) stay: the one
// running this is acknowledged by its worker when it is done.
func PurgeLocation(ctx context.Context, js jetstream.JetStream, loc string) (uint64, error) {
	refresh, err := CatalogueRefreshes.Subject(loc)
	if err != nil {
		return 0, err
	}
	var n uint64
	for stream, filter := range map[string]string{StreamTriggers: "socialsync.trigger.*." + loc, StreamRefresh: refresh} {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return n, fmt.Errorf("open stream %s: %w", stream, err)
		}
		before, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			return n, fmt.Errorf("count the messages of %s in %s: %w", loc, stream, err)
		}
		for subject, c := range before.State.Subjects {
			if f, _, err := bus.ParseSubject(subject); err == nil && f == RemoveTriggers {
				continue
			}
			if err := s.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
				return n, fmt.Errorf("purge the messages of %s from %s: %w", loc, stream, err)
			}
			n += c
		}
	}
	return n, nil
}
