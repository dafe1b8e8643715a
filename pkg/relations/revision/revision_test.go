package revision_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/topology"
)

type counter struct {
	N int `json:"n"`
}

func bucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	env := bustest.Start(t, topology.Options{})
	kv, err := env.JS.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "revision_test"})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// A write at a revision someone else moved past is refused with
// ErrConflict, whether it creates, updates or deletes.
func TestPutAndDeleteRefuseAStaleRevision(t *testing.T) {
	ctx := context.Background()
	kv := bucket(t)
	rev, err := revision.Put(ctx, kv, "k", []byte("1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		write func() error
	}{
		{"create over an existing key", func() error { _, err := revision.Put(ctx, kv, "k", []byte("x"), 0); return err }},
		{"update at an old revision", func() error { _, err := revision.Put(ctx, kv, "k", []byte("x"), rev+7); return err }},
		{"delete at an old revision", func() error { return revision.Delete(ctx, kv, "k", rev+7) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.write(); !errors.Is(err, revision.ErrConflict) {
				t.Errorf("err = %v, want ErrConflict", err)
			}
		})
	}
	data, got, err := revision.Get(ctx, kv, "k")
	if err != nil || got != rev || string(data) != "1" {
		t.Errorf("after refused writes: %q at %d (%v), want %q at %d", data, got, err, "1", rev)
	}
}

// Update applies fn to what is stored when it writes: a write that
// slipped in between its read and its write is read again, not lost.
func TestUpdateRereadsAfterAConflict(t *testing.T) {
	ctx := context.Background()
	kv := bucket(t)
	calls := 0
	_, err := revision.Update(ctx, kv, "c", func(c *counter, exists bool) error {
		calls++
		if calls == 1 {
			if exists {
				t.Error("a missing key reported as existing")
			}
			// Another writer creates the key meanwhile.
			if _, err := revision.Save(ctx, kv, "c", counter{N: 10}, 0); err != nil {
				t.Fatal(err)
			}
		}
		c.N++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var c counter
	if _, err := revision.Load(ctx, kv, "c", &c); err != nil {
		t.Fatal(err)
	}
	if c.N != 11 || calls != 2 {
		t.Errorf("stored %d after %d calls, want 11 after 2", c.N, calls)
	}
	stop := errors.New("stop")
	if _, err := revision.Update(ctx, kv, "c", func(*counter, bool) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("fn's error: got %v", err)
	}
}
