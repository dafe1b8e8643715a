package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// EachCurrent calls fn with the current entry of every key of kv that
// matches one of keys (subject wildcards; every key when none), in one
// pass over the bucket's stream rather than a request per key, and
// returns once all of them are delivered. Deleted keys are skipped; opts
// add to that (jetstream.MetaOnly() reads no value).
func EachCurrent(ctx context.Context, kv jetstream.KeyValue, keys []string, fn func(jetstream.KeyValueEntry), opts ...jetstream.WatchOpt) error {
	if len(keys) == 0 {
		keys = []string{">"}
	}
	w, err := kv.WatchFiltered(ctx, keys, append([]jetstream.WatchOpt{jetstream.IgnoreDeletes()}, opts...)...)
	if err != nil {
		return fmt.Errorf("read bucket %s: %w", kv.Bucket(), err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("read bucket %s: %w", kv.Bucket(), ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("read bucket %s: %w", kv.Bucket(), errors.New("watcher stopped"))
			}
			if e == nil { // the current entries are all delivered
				return nil
			}
			fn(e)
		}
	}
}
