package bus

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// VersionedJetStream returns js with its key-value buckets versioned: a
// record is written marked with gate's version (MarkRecord) and read
// migrated to SchemaCurrent with its mark removed (MigrateRecord), so the
// stores above read and write the current form and never see a mark. It is
// the one place records get their version.
//
// BucketSchema itself is not versioned. A record of a newer schema than
// this release reads fails Get with ErrNewerSchema (deferred); a watcher
// passes it on unchanged.
func VersionedJetStream(js jetstream.JetStream, gate *SchemaGate) jetstream.JetStream {
	return &versionedJS{JetStream: js, gate: gate}
}

type versionedJS struct {
	jetstream.JetStream
	gate *SchemaGate
}

func (v *versionedJS) wrap(kv jetstream.KeyValue, err error) (jetstream.KeyValue, error) {
	if err != nil || kv.Bucket() == BucketSchema {
		return kv, err
	}
	return &versionedKV{KeyValue: kv, gate: v.gate}, nil
}

func (v *versionedJS) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	return v.wrap(v.JetStream.KeyValue(ctx, bucket))
}

func (v *versionedJS) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return v.wrap(v.JetStream.CreateKeyValue(ctx, cfg))
}

func (v *versionedJS) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return v.wrap(v.JetStream.UpdateKeyValue(ctx, cfg))
}

func (v *versionedJS) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return v.wrap(v.JetStream.CreateOrUpdateKeyValue(ctx, cfg))
}

type versionedKV struct {
	jetstream.KeyValue
	gate *SchemaGate
}

func (k *versionedKV) mark(value []byte) []byte { return MarkRecord(value, k.gate.Write()) }

func (k *versionedKV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	return k.KeyValue.Put(ctx, key, k.mark(value))
}

func (k *versionedKV) PutString(ctx context.Context, key string, value string) (uint64, error) {
	return k.KeyValue.Put(ctx, key, k.mark([]byte(value)))
}

func (k *versionedKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	return k.KeyValue.Create(ctx, key, k.mark(value), opts...)
}

func (k *versionedKV) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	return k.KeyValue.Update(ctx, key, k.mark(value), revision)
}

func (k *versionedKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	return migrated(k.KeyValue.Get(ctx, key))
}

func (k *versionedKV) GetRevision(ctx context.Context, key string, revision uint64) (jetstream.KeyValueEntry, error) {
	return migrated(k.KeyValue.GetRevision(ctx, key, revision))
}

func (k *versionedKV) History(ctx context.Context, key string, opts ...jetstream.WatchOpt) ([]jetstream.KeyValueEntry, error) {
	es, err := k.KeyValue.History(ctx, key, opts...)
	if err != nil {
		return nil, err
	}
	out := make([]jetstream.KeyValueEntry, len(es))
	for i, e := range es {
		out[i] = lenient(e)
	}
	return out, nil
}

func (k *versionedKV) Watch(ctx context.Context, keys string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	return watched(k.KeyValue.Watch(ctx, keys, opts...))
}

func (k *versionedKV) WatchAll(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	return watched(k.KeyValue.WatchAll(ctx, opts...))
}

func (k *versionedKV) WatchFiltered(ctx context.Context, keys []string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	return watched(k.KeyValue.WatchFiltered(ctx, keys, opts...))
}

// migratedEntry is an entry whose value is in the current form.
type migratedEntry struct {
	jetstream.KeyValueEntry
	value []byte
}

func (e migratedEntry) Value() []byte { return e.value }

func migrated(e jetstream.KeyValueEntry, err error) (jetstream.KeyValueEntry, error) {
	if err != nil || e == nil || e.Operation() != jetstream.KeyValuePut {
		return e, err
	}
	v, _, err := MigrateRecord(e.Value())
	if err != nil {
		return nil, err
	}
	return migratedEntry{KeyValueEntry: e, value: v}, nil
}

// lenient is migrated, passing on unchanged a record it cannot read.
func lenient(e jetstream.KeyValueEntry) jetstream.KeyValueEntry {
	if m, err := migrated(e, nil); err == nil {
		return m
	}
	return e
}

type versionedWatcher struct {
	jetstream.KeyWatcher
	updates chan jetstream.KeyValueEntry
	done    chan struct{}
	stop    sync.Once
}

func watched(w jetstream.KeyWatcher, err error) (jetstream.KeyWatcher, error) {
	if err != nil {
		return w, err
	}
	vw := &versionedWatcher{KeyWatcher: w, updates: make(chan jetstream.KeyValueEntry, 256), done: make(chan struct{})}
	go func() {
		defer close(vw.updates)
		for e := range w.Updates() {
			if e != nil {
				e = lenient(e)
			}
			select {
			case vw.updates <- e:
			case <-vw.done:
				return
			}
		}
	}()
	return vw, nil
}

func (w *versionedWatcher) Updates() <-chan jetstream.KeyValueEntry { return w.updates }

func (w *versionedWatcher) Stop() error {
	w.stop.Do(func() { close(w.done) })
	return w.KeyWatcher.Stop()
}
