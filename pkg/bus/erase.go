package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// DeleteDeadLetter deletes the dead letter stored at seq, as erasing a
// contact's personal data does (the dead letter keeps the original event,
// which may carry an email or a phone number). A sequence that holds
// nothing any more is not an error: erasing twice erases nothing the
// second time.
func DeleteDeadLetter(ctx context.Context, js jetstream.JetStream, seq uint64) error {
	stream, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", StreamDLQ, err)
	}
	if err := stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("delete dead letter %d: %w", seq, err)
	}
	return nil
}

// PurgeKey removes every revision of key from bucket, its delete marker
// included: a deleted key leaves a marker that still names it, and the
// key of a contact's record holds the contact's id. A key that holds
// nothing is not an error.
func PurgeKey(ctx context.Context, js jetstream.JetStream, bucket, key string) error {
	stream, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject("$KV."+bucket+"."+key)); err != nil {
		return fmt.Errorf("purge %s of %s: %w", key, bucket, err)
	}
	return nil
}
