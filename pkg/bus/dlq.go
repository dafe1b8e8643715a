package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The dead-letter operations below serve every reader of SOCIALSYNC_DLQ:
// `socialsync dlq` and the gateway's API list, inspect and replay with the
// same code.

// ErrNoDeadLetter is returned for a sequence of SOCIALSYNC_DLQ that holds no
// dead letter (never did, was replayed, or aged out).
var ErrNoDeadLetter = errors.New("no such dead letter")

// ErrNotReplayable is returned for a dead letter that cannot be published
// again: its payload was too large to keep, or its original subject is not
// one of socialsync's.
var ErrNotReplayable = errors.New("dead letter cannot be replayed")

// StoredDeadLetter is a dead letter with its sequence in SOCIALSYNC_DLQ,
// which names it for Inspect and Replay.
type StoredDeadLetter struct {
	Seq uint64
	DeadLetter
}

// DeadLetterFilter returns the subject filter of the dead letters of worker
// at location loc; an empty worker or location matches every one.
func DeadLetterFilter(worker, loc string) string {
	if worker == "" {
		worker = "*"
	}
	if loc == "" {
		loc = "*"
	}
	return DeadLetterPrefix + "." + worker + "." + loc
}

// CountDeadLetters returns how many dead letters match filter, by subject.
func CountDeadLetters(ctx context.Context, js jetstream.JetStream, filter string) (map[string]uint64, uint64, error) {
	stream, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return nil, 0, fmt.Errorf("open stream %s: %w", StreamDLQ, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, 0, fmt.Errorf("count dead letters %s: %w", filter, err)
	}
	var total uint64
	for _, n := range info.State.Subjects {
		total += n
	}
	return info.State.Subjects, total, nil
}

// ListDeadLetters returns up to limit dead letters matching filter (see
// DeadLetterFilter) whose sequence is above after, oldest first, and
// whether more follow. A stored message that is not a readable dead letter
// is returned with its sequence and subject and the parse error as Reason.
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, filter string, after uint64, limit int) ([]StoredDeadLetter, bool, error) {
	if limit < 1 {
		return nil, false, nil
	}
	_, total, err := CountDeadLetters(ctx, js, filter)
	if err != nil || total == 0 {
		return nil, false, err
	}
	stream, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return nil, false, fmt.Errorf("open stream %s: %w", StreamDLQ, err)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}}
	if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, false, fmt.Errorf("read dead letters %s: %w", filter, err)
	}
	var out []StoredDeadLetter
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return out, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("read dead letters %s: %w", filter, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return nil, false, fmt.Errorf("read dead letters %s: %w", filter, err)
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, storedDeadLetter(meta.Sequence.Stream, msg.Subject(), msg.Headers(), msg.Data()))
		if meta.NumPending == 0 {
			return out, false, nil
		}
	}
}

// InspectDeadLetter returns the dead letter stored at seq.
func InspectDeadLetter(ctx context.Context, js jetstream.JetStream, seq uint64) (StoredDeadLetter, error) {
	stream, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return StoredDeadLetter{}, fmt.Errorf("open stream %s: %w", StreamDLQ, err)
	}
	raw, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return StoredDeadLetter{}, fmt.Errorf("%w: sequence %d", ErrNoDeadLetter, seq)
	}
	if err != nil {
		return StoredDeadLetter{}, fmt.Errorf("read dead letter %d: %w", seq, err)
	}
	return storedDeadLetter(seq, raw.Subject, raw.Header, raw.Data), nil
}

func storedDeadLetter(seq uint64, subject string, h nats.Header, data []byte) StoredDeadLetter {
	dl, err := ParseDeadLetter(subject, h, data)
	if err != nil {
		dl = DeadLetter{Subject: subject, Reason: "unreadable dead letter: " + err.Error(), Data: data}
	}
	return StoredDeadLetter{Seq: seq, DeadLetter: dl}
}

// Replayed is the outcome of replaying one dead letter.
type Replayed struct {
	// Seq is the dead letter's sequence in SOCIALSYNC_DLQ.
	Seq uint64
	// Subject and Sequence locate the message published again.
	Subject  string
	Sequence uint64
	// Consumer is the durable the replay is for.
	Consumer string
}

// ReplayDeadLetter publishes the original of the dead letter at seq again
// and then removes the dead letter. The replay
//
//   - goes to the original subject with the kept headers and the original
//     bytes;
//   - carries Socialsync-Replay-For naming the durable that dead-lettered
//     it: the other durables of the subject ack it unhandled, so work that
//     they finished is not done twice;
//   - carries Socialsync-Original-Msg-Id, the original's Nats-Msg-Id (kept
//     from an earlier replay), for idempotency records (OriginalMsgID);
//   - carries Socialsync-Replay-Item when the dead letter is one item's
//     (DeadLetterItem): the handler redoes that item only;
//   - is published under its own Nats-Msg-Id, "replay:<seq>" of the dead
//     letter: never the original's (seen within the stream's duplicate
//     window, it would make the server drop the replay), and the same for
//     a replay repeated within the window (the dead letter's removal
//     failed, two operators at once), which the server then stores once.
//
// A dead letter whose payload was truncated, or whose original subject is
// not socialsync's, fails with ErrNotReplayable and stays.
func ReplayDeadLetter(ctx context.Context, js jetstream.JetStream, seq uint64) (Replayed, error) {
	dl, err := InspectDeadLetter(ctx, js, seq)
	if err != nil {
		return Replayed{}, err
	}
	if dl.Truncated {
		return Replayed{}, fmt.Errorf("%w: sequence %d: its payload was too large to keep", ErrNotReplayable, seq)
	}
	if _, _, err := ParseSubject(dl.OriginalSubject); err != nil {
		return Replayed{}, fmt.Errorf("%w: sequence %d: original subject: %v", ErrNotReplayable, seq, err)
	}
	msg := nats.NewMsg(dl.OriginalSubject)
	for k, vs := range dl.Header {
		if k == HeaderReplayFor || k == HeaderReplayItem {
			continue
		}
		for _, v := range vs {
			msg.Header.Add(k, v)
		}
	}
	if dl.Consumer != "" {
		msg.Header.Set(HeaderReplayFor, dl.Consumer)
	}
	if msg.Header.Get(HeaderOriginalMsgID) == "" && dl.MsgID != "" {
		msg.Header.Set(HeaderOriginalMsgID, dl.MsgID)
	}
	if dl.Item != "" {
		msg.Header.Set(HeaderReplayItem, dl.Item)
	}
	msg.Header.Set(HeaderMsgID, "replay:"+strconv.FormatUint(seq, 10))
	msg.Data = dl.Data
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		return Replayed{}, fmt.Errorf("replay dead letter %d to %s: %w", seq, dl.OriginalSubject, asFull(dl.OriginalSubject, err))
	}
	// ack.Duplicate: this dead letter was replayed moments ago and its
	// removal did not happen; the replay is stored once, remove it now.
	stream, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return Replayed{}, fmt.Errorf("open stream %s: %w", StreamDLQ, err)
	}
	if err := stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return Replayed{}, fmt.Errorf("replayed dead letter %d, but could not remove it: %w", seq, err)
	}
	return Replayed{Seq: seq, Subject: dl.OriginalSubject, Sequence: ack.Sequence, Consumer: dl.Consumer}, nil
}

// ReplayFailure is a dead letter ReplayDeadLetters could not replay.
type ReplayFailure struct {
	Seq uint64
	Err error
}

// ReplayDeadLetters replays every dead letter matching filter, oldest
// first, and reports those it could not replay; they stay in the stream.
// It stops early only when ctx ends or the stream cannot be read.
func ReplayDeadLetters(ctx context.Context, js jetstream.JetStream, filter string) ([]Replayed, []ReplayFailure, error) {
	var done []Replayed
	var failed []ReplayFailure
	var after uint64
	for {
		page, more, err := ListDeadLetters(ctx, js, filter, after, 256)
		if err != nil {
			return done, failed, err
		}
		for _, dl := range page {
			after = dl.Seq
			r, err := ReplayDeadLetter(ctx, js, dl.Seq)
			if err != nil {
				if ctx.Err() != nil {
					return done, failed, ctx.Err()
				}
				failed = append(failed, ReplayFailure{Seq: dl.Seq, Err: err})
				continue
			}
			done = append(done, r)
		}
		if !more {
			return done, failed, nil
		}
	}
}
