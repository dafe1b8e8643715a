package bus

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/ids"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// MaxIDsPerList bounds a PostEvent's tag_ids, and its contact_ids with
// its contacts.
const MaxIDsPerList = 1000

// ErrInvalidMessage is a message whose fields break the message contract
// (see CheckPostEvent). It matches ErrBadInput (dead-lettered as bad input); the
// *ids.Error it wraps names the field and the rule.
var ErrInvalidMessage error = &inputError{"bus: invalid message"}

// CheckPostEvent is the one check of a PostEvent's fields that the gateway,
// `socialsync trigger post` and every consumer of post triggers apply, so
// that an event is valid for all of them or refused by all:
//
//   - location_id, tag_ids and contact_ids are HighLevel ids (at most
//     MaxIDsPerList of each);
//   - contacts and contact_ids together name at most MaxIDsPerList
//     contacts, and each reference's value is at most ids.MaxExternalLen
//     bytes of UTF-8 without control characters; the rest of a
//     reference's check (CheckContactRef) fails that reference only;
//   - post_id is the post's id in the sending system and event_id, when
//     given, the source's idempotency key: 1 to 256 bytes of UTF-8
//     without control characters (ids.ValidExternal);
//   - source, when given, is a source name (ids.ValidSource);
//   - change applies to posts;
//   - occurred_at, when given, is a valid time at most ids.MaxAhead ahead
//     of and ids.MaxBehind behind received, the receiving clock.
//
// It fails with ErrInvalidMessage wrapping the *ids.Error of the first
// field found wrong.
func CheckPostEvent(ev *socialsyncv1.PostEvent, received time.Time) error {
	if err := checkPostEvent(ev, received); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	return nil
}

func checkPostEvent(ev *socialsyncv1.PostEvent, received time.Time) error {
	if err := ids.CheckHighLevel("location_id", ev.GetLocationId()); err != nil {
		return err
	}
	if err := ids.CheckExternal("post_id", ev.GetPostId()); err != nil {
		return err
	}
	if s := ev.GetSource(); s != "" {
		if err := ids.CheckSource("source", s); err != nil {
			return err
		}
	}
	if id := ev.GetEventId(); id != "" {
		if err := ids.CheckExternal("event_id", id); err != nil {
			return err
		}
	}
	switch ch := ev.GetChange(); ch {
	case socialsyncv1.Change_CHANGE_UNSPECIFIED, socialsyncv1.Change_CHANGE_CREATED,
		socialsyncv1.Change_CHANGE_UPDATED, socialsyncv1.Change_CHANGE_DELETED:
	default:
		return &ids.Error{Field: "change", Rule: "CHANGE_CREATED, CHANGE_UPDATED, CHANGE_DELETED or none", Value: ch.String()}
	}
	if n := len(ev.GetContactIds()) + len(ev.GetContacts()); n > MaxIDsPerList && len(ev.GetContacts()) > 0 {
		return &ids.Error{Field: "contacts", Rule: "at most " + strconv.Itoa(MaxIDsPerList) + " contacts with contact_ids", Value: strconv.Itoa(n) + " contacts"}
	}
	for i, r := range ev.GetContacts() {
		if err := checkContactRefBounds("contacts["+strconv.Itoa(i)+"]", r); err != nil {
			return err
		}
	}
	for _, l := range []struct {
		field string
		ids   []string
	}{{"tag_ids", ev.GetTagIds()}, {"contact_ids", ev.GetContactIds()}} {
		if len(l.ids) > MaxIDsPerList {
			return &ids.Error{Field: l.field, Rule: "at most " + strconv.Itoa(MaxIDsPerList) + " ids", Value: strconv.Itoa(len(l.ids)) + " ids"}
		}
		for i, id := range l.ids {
			if err := ids.CheckHighLevel(l.field+"["+strconv.Itoa(i)+"]", id); err != nil {
				return err
			}
		}
	}
	if ts := ev.GetOccurredAt(); ts != nil {
		if err := ts.CheckValid(); err != nil {
			return &ids.Error{Field: "occurred_at", Rule: "a valid time", Value: ts.String()}
		}
		if err := ids.CheckOccurredAt("occurred_at", ts.AsTime(), received); err != nil {
			return err
		}
	}
	return nil
}

// DecodePost reads a consumed post trigger into ev, as Decode does, and
// checks it with CheckPostEvent against the time the stream stored it, so
// that every consumer and every redelivery judge occurred_at alike. It
// returns the location.
func DecodePost(msg jetstream.Msg, ev *socialsyncv1.PostEvent) (string, error) {
	loc, err := Decode(msg, ev)
	if err != nil {
		return "", err
	}
	meta, err := msg.Metadata()
	if err != nil {
		return "", fmt.Errorf("post trigger of %s: %w", loc, err)
	}
	if err := CheckPostEvent(ev, meta.Timestamp); err != nil {
		return "", err
	}
	return loc, nil
}

// PostKey returns the key-value key part that stands for ev's post: its
// post_id encoded with its source by ids.Key (an empty source is
// ids.DefaultSource). It fails with ErrInvalidMessage for an event that
// CheckPostEvent refuses.
func PostKey(ev *socialsyncv1.PostEvent) (string, error) {
	k, err := ids.Key(ev.GetSource(), ev.GetPostId())
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	return k, nil
}
