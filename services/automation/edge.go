package automationworker

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// DeadLetter is one item of an event given up on for good (a contact
// HighLevel refused, a workflow action that failed), with why.
type DeadLetter struct {
	Item, Reason string
}

// Result is what handling one event leaves for the edge to do: dead-letter
// its failed items, then run the steps that had to wait for them.
type Result struct {
	DeadLetters []DeadLetter
	// after runs once the dead letters are stored: a workflow action that
	// failed is marked done only then, so that a crash in between fires
	// it again rather than losing its dead letter.
	after []func(context.Context) error
}

// deadLetter adds an item given up on.
func (r *Result) deadLetter(item, reason string) {
	r.DeadLetters = append(r.DeadLetters, DeadLetter{Item: item, Reason: reason})
}

// edge adapts a handler of decoded events to the bus: it decodes the
// message, calls fn, dead-letters the items fn gave up on (under durable,
// as items of the message) and runs what waited for them. The message's
// own outcome is fn's error.
func edge[E any](w *Worker, durable string, decode func(jetstream.Msg) (string, E, error),
	fn func(ctx context.Context, loc string, ev E) (Result, error)) bus.Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		loc, ev, err := decode(msg)
		if err != nil {
			return err
		}
		res, err := fn(ctx, loc, ev)
		for _, dl := range res.DeadLetters {
			subject, dlErr := w.deps.DeadLetters.DeadLetterItem(ctx, durable, msg, dl.Item, bus.ClassPermanent, dl.Reason)
			if dlErr != nil {
				return dlErr
			}
			bus.LoggerFrom(ctx).Warn("item dead-lettered", "item", dl.Item, "reason", dl.Reason, "dead_letter", subject)
		}
		for _, f := range res.after {
			if aErr := f(ctx); aErr != nil {
				return aErr
			}
		}
		return err
	}
}

// decodeRecompute decodes a SegmentsRecompute.
func decodeRecompute(msg jetstream.Msg) (string, *socialsyncv1.SegmentsRecompute, error) {
	var req socialsyncv1.SegmentsRecompute
	loc, err := bus.Decode(msg, &req)
	return loc, &req, err
}

// decodeContactTags decodes a ContactTagsChanged, checking its contact id.
func decodeContactTags(msg jetstream.Msg) (string, *socialsyncv1.ContactTagsChanged, error) {
	var ev socialsyncv1.ContactTagsChanged
	loc, err := bus.Decode(msg, &ev)
	if err != nil {
		return "", nil, err
	}
	if !validKeyPart(ev.GetContactId()) {
		return "", nil, bus.Permanent(fmt.Errorf("contact event of %s: invalid contact_id %.64q", loc, ev.GetContactId()))
	}
	return loc, &ev, nil
}

// decodeEvent decodes a tag, tag details, statistics or segment event into
// the workflows' view of it.
func decodeEvent(msg jetstream.Msg) (string, event, error) {
	family, _, err := topology.ParseSubject(msg.Subject())
	if err != nil {
		return "", event{}, err
	}
	ev, loc, err := toEvent(family, eventID(msg), msg)
	return loc, event{family: family, Event: ev}, err
}

// eventID is what identifies a message on every delivery and replay: the
// Nats-Msg-Id it was first published under, or its stream and sequence.
func eventID(msg jetstream.Msg) string {
	if id := bus.OriginalMsgID(msg.Headers()); id != "" {
		return id
	}
	if meta, err := msg.Metadata(); err == nil {
		return meta.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	return msg.Subject()
}

// validKeyPart reports whether s can be one part of a key: a contact id
// of a key-value key follows the rule of a source name (ids.ValidSource:
// 1 to 64 ASCII letters, digits, '-' and '_').
func validKeyPart(s string) bool { return ids.ValidSource(s) }
