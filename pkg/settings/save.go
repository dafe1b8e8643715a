package settings

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// SaveMapping stores m, a valid mapping, and when its contact-tag
// template differs from the one stored before (or none was), asks
// contactsync to rename the contact tags socialsync gave at the location
// (RemapRequested on socialsync.trigger.remap.<loc>, docs/contact-tags.md
// "When a mapping changes"). by says who saved it ("cli", "api"). It
// reports whether a renaming was asked for. Saving a mapping is this one
// operation wherever it is done, so that no caller stores a new template
// and forgets the contacts.
func SaveMapping(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, m Mapping, by string, now time.Time) (remap bool, err error) {
	old, had, err := GetMapping(ctx, kv, m.Location)
	if err != nil && !errors.Is(err, ErrInvalid) {
		return false, err
	}
	if err := PutMapping(ctx, kv, m); err != nil {
		return false, err
	}
	if had && old.Template() == m.Template() {
		return false, nil
	}
	subject, err := topology.RemapTriggers.Subject(m.Location)
	if err != nil {
		return false, err
	}
	pub := bus.NewPublisher(js, bus.PublisherOptions{Known: topology.Known})
	req := &socialsyncv1.RemapRequested{LocationId: m.Location, RequestedBy: by, RequestedAt: timestamppb.New(now)}
	// An explicit id: the publisher's content hash would drop a second
	// identical request within the duplicate window.
	if _, err := pub.Publish(ctx, subject, req, bus.WithMsgID("remap:"+m.Location+":"+strconv.FormatInt(now.UnixNano(), 36))); err != nil {
		return false, fmt.Errorf("mapping of %s stored, but the renaming of its contact tags was not requested: %w", m.Location, err)
	}
	return true, nil
}
