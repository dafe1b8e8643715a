package automationworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Stores are the automation worker's stores on JetStream:
// socialsync_segments, socialsync_relations, socialsync_workflow_runs,
// the definitions it watches in socialsync_segments and
// socialsync_workflows, the workflows' outbox and the dead letters.
type Stores struct {
	Segments    Records
	Relations   Records
	Runs        Records
	SegmentDefs Watcher
	Workflows   Watcher
	Mappings    Mappings
	Outbox      Outbox
	DeadLetters DeadLetters
	Notices     DeadLetterFeed
}

// OpenStores opens the automation worker's buckets, which the process's
// topology declared.
func OpenStores(ctx context.Context, js jetstream.JetStream) (Stores, error) {
	var rel, seg, wf, runs, set jetstream.KeyValue
	if err := bus.OpenBuckets(ctx, js, map[string]*jetstream.KeyValue{
		topology.BucketRelations: &rel, topology.BucketSegments: &seg,
		topology.BucketWorkflows: &wf, topology.BucketWorkflowRuns: &runs, topology.BucketSettings: &set,
	}); err != nil {
		return Stores{}, err
	}
	return Stores{Segments: kvRecords{seg}, Relations: kvRecords{rel}, Runs: kvRecords{runs},
		SegmentDefs: seg, Workflows: wf, Mappings: kvMappings{set}, Outbox: outbox{js}, DeadLetters: jsDeadLetters{js},
		Notices: &deadLetterFeed{js: js}}, nil
}

// kvMappings reads the locations' mappings from socialsync_settings.
type kvMappings struct{ kv jetstream.KeyValue }

func (m kvMappings) ContactTagNaming(ctx context.Context, loc string, fallback func(string) string, log *slog.Logger) (func(string) string, error) {
	return settings.ContactTagNaming(ctx, m.kv, loc, fallback, log)
}

type kvRecords struct{ kv jetstream.KeyValue }

func (r kvRecords) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	return revision.Get(ctx, r.kv, key)
}

func (r kvRecords) Put(ctx context.Context, key string, data []byte, rev uint64) (uint64, error) {
	return revision.Put(ctx, r.kv, key, data, rev)
}

func (r kvRecords) Delete(ctx context.Context, key string, rev uint64) error {
	return revision.Delete(ctx, r.kv, key, rev)
}

func (r kvRecords) Keys(ctx context.Context, prefix string) ([]string, error) {
	l, err := r.kv.ListKeysFiltered(ctx, prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("list %s*: %w", prefix, err)
	}
	defer func() { _ = l.Stop() }()
	var out []string
	for k := range l.Keys() {
		out = append(out, strings.TrimPrefix(k, prefix))
	}
	return out, nil
}

// load reads the JSON value of key into v and returns its revision; 0
// (and v untouched) when there is none (revision.Load on Records).
func load(ctx context.Context, r Records, key string, v any) (uint64, error) {
	data, rev, err := r.Get(ctx, key)
	if err != nil || data == nil {
		return rev, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return rev, nil
}

type outbox struct{ js jetstream.JetStream }

// PublishRaw looks the stream up first: a JetStream publish to a subject
// no stream captures would wait for an acknowledgement that a plain
// subscriber never sends. Through JetStream, the stream's duplicate
// window drops a redelivered action's copy, which carries the same
// Nats-Msg-Id.
func (o outbox) PublishRaw(ctx context.Context, subject string, payload []byte, headers map[string]string) error {
	m := nats.NewMsg(subject)
	m.Data = payload
	for k, v := range headers {
		m.Header.Set(k, v)
	}
	_, err := o.js.StreamNameBySubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if err := o.js.Conn().PublishMsg(m); err != nil {
			return fmt.Errorf("publish to %s: %w", subject, err)
		}
		return o.js.Conn().FlushWithContext(ctx)
	case err != nil:
		return fmt.Errorf("find the stream of %s: %w", subject, err)
	}
	if _, err := o.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publish to %s: %w", subject, err)
	}
	return nil
}

type jsDeadLetters struct{ js jetstream.JetStream }

func (d jsDeadLetters) DeadLetterItem(ctx context.Context, worker string, msg jetstream.Msg, item string, class bus.Class, reason string) (string, error) {
	return bus.DeadLetterItem(ctx, d.js, worker, msg, item, class, reason)
}

// deadLetterFeed pulls the notifier durable of SOCIALSYNC_DLQ; one loop
// calls Next at a time.
type deadLetterFeed struct {
	js   jetstream.JetStream
	cons jetstream.Consumer // bound on the first Next that could
}

func (f *deadLetterFeed) Next(ctx context.Context, n int, wait time.Duration) ([]bus.StoredDeadLetter, func(context.Context) error, error) {
	if f.cons == nil {
		cons, err := f.js.Consumer(ctx, bus.StreamDLQ, topology.DurableNotifier)
		if err != nil {
			return nil, nil, fmt.Errorf("open durable %s on %s: %w", topology.DurableNotifier, bus.StreamDLQ, err)
		}
		f.cons = cons
	}
	batch, err := f.cons.Fetch(n, jetstream.FetchMaxWait(wait))
	if err != nil {
		return nil, nil, fmt.Errorf("fetch new dead letters: %w", err)
	}
	var (
		out  []bus.StoredDeadLetter
		msgs []jetstream.Msg
	)
	for msg := range batch.Messages() {
		msgs = append(msgs, msg)
		meta, err := msg.Metadata()
		if err != nil {
			continue
		}
		dl, err := bus.ParseDeadLetter(msg.Subject(), msg.Headers(), nil)
		if err != nil {
			continue // not a dead letter of ours: acknowledged with the batch, not notified
		}
		out = append(out, bus.StoredDeadLetter{Seq: meta.Sequence.Stream, DeadLetter: dl})
	}
	if err := batch.Error(); err != nil && len(msgs) == 0 {
		return nil, nil, fmt.Errorf("fetch new dead letters: %w", err)
	}
	ack := func(ctx context.Context) error {
		var errs []error
		for _, m := range msgs {
			errs = append(errs, m.DoubleAck(ctx))
		}
		return errors.Join(errs...)
	}
	if len(out) == 0 && len(msgs) > 0 {
		return nil, nil, ack(ctx)
	}
	return out, ack, nil
}
