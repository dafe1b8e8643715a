package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// deliveries tells a delivery that ended in a settle from one that did
// not, for the crash-loop guard.
//
// The server counts every delivery of a message (NumDelivered) but does not
// say how the earlier ones ended: nakked by a handler that deferred or
// failed, or never settled because the process died or hung past the ack
// wait. So the consumer records, in BucketDeliveries, how many deliveries
// of a message (per durable and stream sequence) it nakked, writing the new
// count just before each nak. Then, on delivery n,
//
//	unsettled = n - 1 - settled
//
// and once unsettled reaches the crash limit the message is dead-lettered
// without running its handler again.
//
// Cost: one KV put per nak and one KV get per redelivery; a first delivery
// and an ack cost nothing, which is the common path. No cheaper scheme is
// correct: whatever marks "this delivery was settled" must be written once
// per settle that leaves the message alive, that is per nak. The count is
// written whole (no read-modify-write at nak time): the redelivery already
// read it, and the durable hands one message to one replica at a time.
//
// Failure modes: a record that fails before a nak makes that delivery look
// unsettled (one step of CrashLimit toward a dead letter); a read that
// fails counts every earlier delivery as settled (Consumer.settledOf), so
// it neither trips the guard nor lowers the record the next nak writes. The bucket's TTL (DeliveriesTTL) outlives the
// longest gap between two deliveries of one message (a nak asks for at
// most a day), and every put restarts it, so a live count never expires.
type deliveries struct {
	kv jetstream.KeyValue
}

// deliveriesKey names the settled-delivery count of the message at stream
// sequence seq for durable: "<stream>.<durable>.<seq>".
func deliveriesKey(meta *jetstream.MsgMetadata) string {
	return meta.Stream + "." + meta.Consumer + "." + strconv.FormatUint(meta.Sequence.Stream, 10)
}

// settled returns how many deliveries of the message were nakked, 0 when
// none was.
func (d *deliveries) settled(ctx context.Context, meta *jetstream.MsgMetadata) (uint64, error) {
	e, err := d.kv.Get(ctx, deliveriesKey(meta))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read settled deliveries: %w", err)
	}
	n, err := strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read settled deliveries: %w", err)
	}
	return n, nil
}

// record stores n as the number of nakked deliveries of the message.
func (d *deliveries) record(ctx context.Context, meta *jetstream.MsgMetadata, n uint64) error {
	if _, err := d.kv.Put(ctx, deliveriesKey(meta), []byte(strconv.FormatUint(n, 10))); err != nil {
		return fmt.Errorf("record settled delivery: %w", err)
	}
	return nil
}
