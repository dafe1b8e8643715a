package contactsync

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// delivery is a decoded post trigger with what the handler needs of its
// delivery: the transport message stops at the edge.
type delivery struct {
	ev  *socialsyncv1.PostEvent
	loc string
	// arrived is when the stream stored the trigger, seq its stream
	// sequence, delivered its delivery count (from 1).
	arrived   time.Time
	seq       uint64
	delivered uint64
	// replay is the item a replayed dead letter names ("contact <id>",
	// "tag <id>"); empty for any other message.
	replay string
}

// DeadLetter is one item of an event given up on for good (a contact
// HighLevel refused, a tag no catalogue holds), with why.
type DeadLetter struct {
	Item, Reason string
}

// Result is what handling one post event leaves for the edge to do: the
// items to dead-letter.
type Result struct {
	DeadLetters []DeadLetter
}

func (r *Result) deadLetter(item, reason string) {
	r.DeadLetters = append(r.DeadLetters, DeadLetter{Item: item, Reason: reason})
}

// edge adapts the handler to the bus: it decodes the message, calls the
// handler and dead-letters the items it gave up on, as items of the
// message; the message's own outcome is the handler's error.
func (h *handler) edge(ctx context.Context, msg jetstream.Msg) error {
	var ev socialsyncv1.PostEvent
	loc, err := bus.DecodePost(msg, &ev)
	if err != nil {
		return err
	}
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("post %s of %s: %w", ev.GetPostId(), loc, err)
	}
	in := delivery{ev: &ev, loc: loc, arrived: meta.Timestamp, seq: meta.Sequence.Stream, delivered: meta.NumDelivered}
	in.replay, _ = bus.ReplayItem(msg.Headers())
	res, err := h.handle(ctx, in)
	if dlErr := h.deadLetter(ctx, msg, res, "post", ev.GetPostId()); dlErr != nil {
		return dlErr
	}
	return err
}

// deadLetter dead-letters the items of res as items of msg, logging each
// with the attribute what (post, tag) naming id.
func (h *handler) deadLetter(ctx context.Context, msg jetstream.Msg, res Result, what, id string) error {
	for _, dl := range res.DeadLetters {
		subject, err := h.w.deps.DeadLetters.DeadLetterItem(ctx, topology.DurableContactSync, msg, dl.Item, bus.ClassPermanent, dl.Reason)
		if err != nil {
			return err
		}
		bus.LoggerFrom(ctx).Warn("item dead-lettered", "item", dl.Item, what, id, "reason", dl.Reason, "dead_letter", subject)
	}
	return nil
}
