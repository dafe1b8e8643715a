package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// deliveries keeps, per durable and message, what the server does not say
// about a message's earlier deliveries: which of them ran the handler and
// ended without a settle (the process died), for the crash-loop guard, and
// how many ended in a retryable failure, for the backoff.
//
// The server counts every delivery (NumDelivered), including those a
// process pulled but never started before it died, and those it deferred.
// Neither may count toward a crash loop: a replica killed with messages in
// its pull buffer, or one whose long handler is interrupted by a restart,
// has done nothing wrong with them. So the consumer writes, in
// BucketDeliveries, a history of the message:
//
//   - when a redelivery starts its handler, the delivery's number as the
//     open one (a first delivery writes nothing: the common path stays free);
//   - when a delivery is nakked, no open delivery, and one more failure when
//     it failed retryably.
//
// Once the handler has run for CrashWindow, the open delivery is marked
// alive (one more put, for long runs only). A later delivery that finds an
// open one knows that delivery started and never settled: one crash, unless
// it was marked alive (its process was killed from outside in a long run;
// such deaths end only at the retry horizon). At CrashLimit crashes the
// message is dead-lettered without running the handler again. A first
// delivery's crash is not seen, so a message that kills every process
// handling it runs at most CrashLimit+1 times.
//
// Cost: one KV get and one put per redelivery, one put per nak; a first
// delivery that is acked costs nothing. The record is written whole (no
// read-modify-write race): the durable hands one message to one replica at
// a time.
//
// Failure modes: a record that cannot be read leaves the history unknown
// for that delivery: it neither trips the guard nor is written back, so
// the record stays as it was. A start that cannot be written means a crash
// of that run goes unseen; a nak that cannot be written leaves the open
// delivery in place, which the next delivery counts as a crash (one step of
// CrashLimit). The bucket's TTL (DeliveriesTTL) outlives the longest gap
// between two deliveries of one message (a nak asks for at most a day), and
// every put restarts it.
type deliveries struct {
	kv jetstream.KeyValue
}

// history is what the consumer knows of a message's earlier deliveries.
type history struct {
	// crashes counts the deliveries that ran the handler and ended
	// without a settle.
	crashes uint64
	// open is the delivery whose handler started and that has not been
	// settled; 0 when none.
	open uint64
	// failures counts the deliveries nakked after a retryable failure:
	// the backoff's attempt (deferrals do not lengthen it).
	failures uint64
	// alive says the open delivery's handler ran for CrashWindow: should
	// its process die after that, it was no crash.
	alive bool
	// diedLate says, as a delivery finds the history, that the one before
	// died after its crash window (not counted as a crash).
	diedLate bool
	// unknown says the record could not be read: nothing is decided from
	// it or written back.
	unknown bool
}

// begin returns the history as delivery n (n ≥ 2) finds it: an open
// earlier delivery is one more crash.
func (h history) begin(n uint64) history {
	if !h.unknown && h.open != 0 && h.open < n {
		if h.alive {
			h.diedLate = true
		} else {
			h.crashes++
		}
		h.open, h.alive = 0, false
	}
	return h
}

// CrashWindow is how soon after its handler started a delivery must die
// to count as a crash. A message that kills its process does so at once,
// or nearly: decoding it, or the first thing done with it. A process
// killed from outside (a restart, an eviction, a soak's SIGKILL) stops
// handlers at random points of long runs, which must not add up to a
// crash loop; those are bounded by the retry horizon instead.
const CrashWindow = 2 * time.Second

// deliveriesKey names the history of the message at stream sequence seq
// for durable: "<stream>.<durable>.<seq>".
func deliveriesKey(meta *jetstream.MsgMetadata) string {
	return meta.Stream + "." + meta.Consumer + "." + strconv.FormatUint(meta.Sequence.Stream, 10)
}

// The record's text: "h <crashes> <open> <failures> <alive: 0 or 1>". An
// earlier version stored the number of nakked deliveries alone; it reads
// as a history without crashes, open delivery or failures.
const historyPrefix = "h "

// read returns the message's history, empty when none was written.
func (d *deliveries) read(ctx context.Context, meta *jetstream.MsgMetadata) (history, error) {
	e, err := d.kv.Get(ctx, deliveriesKey(meta))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return history{}, nil
	}
	if err != nil {
		return history{}, fmt.Errorf("read delivery history: %w", err)
	}
	return parseHistory(string(e.Value()))
}

func parseHistory(s string) (history, error) {
	if !strings.HasPrefix(s, historyPrefix) {
		if _, err := strconv.ParseUint(s, 10, 64); err != nil {
			return history{}, fmt.Errorf("read delivery history %q: %w", s, err)
		}
		return history{}, nil
	}
	f := strings.Fields(strings.TrimPrefix(s, historyPrefix))
	var v [4]uint64
	if len(f) != len(v) {
		return history{}, fmt.Errorf("read delivery history %q: want 4 numbers", s)
	}
	for i := range v {
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return history{}, fmt.Errorf("read delivery history %q: %w", s, err)
		}
		v[i] = n
	}
	if v[3] > 1 {
		return history{}, fmt.Errorf("read delivery history %q: alive is 0 or 1", s)
	}
	return history{crashes: v[0], open: v[1], failures: v[2], alive: v[3] == 1}, nil
}

// write stores h as the message's history; an unknown history is not
// written.
func (d *deliveries) write(ctx context.Context, meta *jetstream.MsgMetadata, h history) error {
	if h.unknown {
		return nil
	}
	alive := 0
	if h.alive {
		alive = 1
	}
	v := fmt.Sprintf("%s%d %d %d %d", historyPrefix, h.crashes, h.open, h.failures, alive)
	if _, err := d.kv.Put(ctx, deliveriesKey(meta), []byte(v)); err != nil {
		return fmt.Errorf("record delivery history: %w", err)
	}
	return nil
}
