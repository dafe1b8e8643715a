package bus_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
)

// EachCurrent delivers the current value of each matching key once,
// skipping deleted keys, and metadata only when asked.
func TestEachCurrentReadsTheCurrentEntries(t *testing.T) {
	t.Parallel()
	js := bustest.Connect(t, bustest.StartServer(t))
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "scan", History: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, kvp := range [][2]string{{"a.1", "old"}, {"a.1", "new"}, {"a.2", "x"}, {"b.1", "y"}, {"a.3", "gone"}} {
		if _, err := kv.PutString(ctx, kvp[0], kvp[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := kv.Delete(ctx, "a.3"); err != nil {
		t.Fatal(err)
	}
	read := func(keys []string, opts ...jetstream.WatchOpt) map[string]string {
		t.Helper()
		out := map[string]string{}
		if err := bus.EachCurrent(ctx, kv, keys, func(e jetstream.KeyValueEntry) { out[e.Key()] = string(e.Value()) }, opts...); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if diff := cmp.Diff(map[string]string{"a.1": "new", "a.2": "x", "b.1": "y"}, read(nil)); diff != "" {
		t.Errorf("every key (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a.1": "new", "a.2": "x"}, read([]string{"a.*"})); diff != "" {
		t.Errorf("a.* (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a.2": "", "b.1": ""}, read([]string{"a.2", "b.>"}, jetstream.MetaOnly())); diff != "" {
		t.Errorf("metadata only (-want +got):\n%s", diff)
	}
}
