package bus_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

func TestRecordSchemaMarks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		in       string
		v        int
		stored   string
		readBack string
		readV    int
	}{
		{"version 1 is stored as v0.1.0 stored it", `{"a":1}`, 1, `{"a":1}`, `{"a":1}`, 1},
		{"version 2 marks an object", `{"a":1}`, 2, `{"_schema":2,"a":1}`, `{"a":1}`, 2},
		{"an empty object", `{}`, 2, `{"_schema":2}`, `{}`, 2},
		{"an object with leading space", `{ "a":1}`, 2, `{"_schema":2,"a":1}`, `{"a":1}`, 2},
		{"a counter is no object", `42`, 2, `42`, `42`, 1},
		{"a list is no object", `[1]`, 2, `[1]`, `[1]`, 1},
		{"an unmarked record whose first key looks alike", `{"_schemas":2}`, 1, `{"_schemas":2}`, `{"_schemas":2}`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stored := bus.MarkRecord([]byte(tc.in), tc.v)
			if string(stored) != tc.stored {
				t.Errorf("stored %s, want %s", stored, tc.stored)
			}
			got, v := bus.RecordSchema(stored)
			if string(got) != tc.readBack || v != tc.readV {
				t.Errorf("read %s of schema %d, want %s of %d", got, v, tc.readBack, tc.readV)
			}
		})
	}
	if _, _, err := bus.MigrateRecord([]byte(`{"_schema":3,"a":1}`)); !errors.Is(err, bus.ErrNewerSchema) {
		t.Errorf("a record of schema 3: %v, want ErrNewerSchema", err)
	} else if c, _ := bus.Classify(err); c != bus.ClassDeferred {
		t.Errorf("a record of schema 3 classifies as %v, want deferred", c)
	}
}

// Until the fleet minimum is raised, a versioned bucket stores what the
// previous release stored; after, it stores marked records, and readers of
// this release read both in the same form.
func TestSchemaGateOnJetStream(t *testing.T) {
	t.Parallel()
	raw, _ := bustest.Setup(t)
	ctx := bustest.Context(t)
	gate, err := bus.OpenSchemaGate(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	js := bus.VersionedJetStream(raw, gate)
	kv, err := js.KeyValue(ctx, topology.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	if gate.Write() != bus.SchemaOldest {
		t.Fatalf("a fleet never migrated writes schema %d, want %d", gate.Write(), bus.SchemaOldest)
	}
	if _, err := kv.Put(ctx, "old", []byte(`{"a":"old"}`)); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := bustest.Entry(t, raw, topology.BucketSettings, "old"); string(v) != `{"a":"old"}` {
		t.Errorf("at minimum 1 the stored record is %s, want the previous release's form", v)
	}

	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()

	schemaKV, err := raw.KeyValue(ctx, bus.BucketSchema)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	if _, err := bus.RaiseSchemaMinimum(ctx, schemaKV, bus.SchemaCurrent+1, now); !errors.Is(err, bus.ErrBadInput) {
		t.Errorf("raise beyond this release: %v, want ErrBadInput", err)
	}
	st, err := bus.RaiseSchemaMinimum(ctx, schemaKV, bus.SchemaCurrent, now)
	if err != nil || st.Minimum != bus.SchemaCurrent || !st.Raised.Equal(now) {
		t.Fatalf("raise: %+v, %v", st, err)
	}
	if gate.Write() != bus.SchemaOldest {
		t.Errorf("the gate moved before it read the minimum")
	}
	if err := gate.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if gate.Write() != bus.SchemaCurrent {
		t.Fatalf("after the raise the gate writes %d, want %d", gate.Write(), bus.SchemaCurrent)
	}
	if st, _ := bus.RaiseSchemaMinimum(ctx, schemaKV, 1, now.Add(time.Hour)); st.Minimum != bus.SchemaCurrent || !st.Raised.Equal(now) {
		t.Errorf("a lower raise changed the minimum: %+v", st)
	}

	if _, err := kv.Put(ctx, "new", []byte(`{"a":"new"}`)); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := bustest.Entry(t, raw, topology.BucketSettings, "new"); string(v) != `{"_schema":2,"a":"new"}` {
		t.Errorf("at minimum 2 the stored record is %s, want it marked", v)
	}
	e, rev := mustGet(t, kv, "new")
	if e != `{"a":"new"}` {
		t.Errorf("read back %s", e)
	}
	if _, err := kv.Update(ctx, "new", []byte(`{"a":"newer"}`), rev); err != nil {
		t.Fatalf("update by the revision read: %v", err)
	}
	if e, _ := mustGet(t, kv, "old"); e != `{"a":"old"}` {
		t.Errorf("the previous release's record read back as %s", e)
	}

	got := map[string]string{}
	deadline := time.After(10 * time.Second)
	for len(got) < 2 || got["new"] != `{"a":"newer"}` {
		select {
		case e := <-w.Updates():
			if e != nil {
				got[e.Key()] = string(e.Value())
			}
		case <-deadline:
			t.Fatalf("watched %v", got)
		}
	}
	if diff := cmp.Diff(map[string]string{"old": `{"a":"old"}`, "new": `{"a":"newer"}`}, got); diff != "" {
		t.Errorf("watched records (-want +got):\n%s", diff)
	}

	// A record a newer release wrote: deferred, never a bad record.
	rawKV, _ := raw.KeyValue(ctx, topology.BucketSettings)
	if _, err := rawKV.Put(ctx, "future", []byte(`{"_schema":3,"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "future"); !errors.Is(err, bus.ErrNewerSchema) {
		t.Errorf("get a record of schema 3: %v, want ErrNewerSchema", err)
	}
}

func mustGet(t *testing.T, kv jetstream.KeyValue, key string) (string, uint64) {
	t.Helper()
	e, err := kv.Get(bustest.Context(t), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(e.Value()), e.Revision()
}

// Messages carry the schema version the gate allows; a consumer of this
// release defers one of a newer schema and reads the others.
func TestMessageSchema(t *testing.T) {
	t.Parallel()
	js, _ := bustest.Setup(t)
	ctx := bustest.Context(t)
	gate, err := bus.OpenSchemaGate(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	pub := bus.NewPublisher(js, bus.PublisherOptions{Schema: gate})
	subject, _ := topology.TagEvents.Subject("loc1")
	stream := mustStream(t, js, subject)
	publish := func(name string) string {
		t.Helper()
		ack, err := pub.Publish(ctx, subject, &socialsyncv1.TagChanged{LocationId: "loc1", TagId: name, TagName: name})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := js.Stream(ctx, stream)
		m, err := s.GetMsg(ctx, ack.Sequence)
		if err != nil {
			t.Fatal(err)
		}
		return m.Header.Get(bus.HeaderSchema)
	}
	if h := publish("before"); h != "" {
		t.Errorf("before the raise a message carries %s %q, want none (the previous release's form)", bus.HeaderSchema, h)
	}
	schemaKV, _ := js.KeyValue(ctx, bus.BucketSchema)
	if _, err := bus.RaiseSchemaMinimum(ctx, schemaKV, bus.SchemaCurrent, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := gate.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if h := publish("after"); h != "2" {
		t.Errorf("after the raise a message carries %s %q, want 2", bus.HeaderSchema, h)
	}
	bustest.PublishRaw(t, js, subject, bustest.Marshal(t, &socialsyncv1.TagChanged{LocationId: "loc1", TagId: "future"}), bus.HeaderSchema, "3")
	bustest.PublishRaw(t, js, subject, bustest.Marshal(t, &socialsyncv1.TagChanged{LocationId: "loc1", TagId: "junk"}), bus.HeaderSchema, "x")

	c, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{FilterSubject: subject, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(4, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bus.Class{}
	for m := range batch.Messages() {
		var tc socialsyncv1.TagChanged
		_, err := bus.Decode(m, &tc)
		class, _ := bus.Classify(err)
		if err != nil {
			_ = bus.Unmarshal(nats.Header{}, m.Data(), &tc)
		}
		if err == nil {
			class = bus.ClassNone
		}
		got[tc.GetTagId()] = class
	}
	want := map[string]bus.Class{"before": bus.ClassNone, "after": bus.ClassNone, "future": bus.ClassDeferred, "junk": bus.ClassBadInput}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}
