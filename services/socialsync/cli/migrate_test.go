package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// socialsync migrate raises the fleet minimum, rewrites the records of
// schema 1 of the buckets whose records do not expire in schema 2, leaves
// scalar values and expiring buckets as they are, and a second run finds
// nothing left to do.
func TestMigrate(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := bustest.Context(t)
	put := func(bucket, key, value string) {
		t.Helper()
		kv, err := env.JS.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, key, []byte(value)); err != nil {
			t.Fatal(err)
		}
	}
	get := func(bucket, key string) string {
		t.Helper()
		v, _, ok := bustest.Entry(t, env.JS, bucket, key)
		if !ok {
			t.Fatalf("%s %s is gone", bucket, key)
		}
		return string(v)
	}
	put(topology.BucketSettings, "loc1.mapping", `{"contactTag":"social:{tag}"}`)
	put(topology.BucketRelations, "loc1.post.p1", `{"tags":["t1"]}`)
	put(topology.BucketRelations, "loc1.marker", `7`)
	put(topology.BucketContactRefs, "loc1.ref", `{"contact":"c1"}`)

	out, errOut, code := runCLI(t, "migrate", "--status", "--nats", env.URL())
	if code != 0 {
		t.Fatalf("migrate --status: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"fleet minimum: 1 (never raised", topology.BucketSettings + ": schema 1: 1",
		topology.BucketRelations + ": schema 1: 1, unversioned values: 1", topology.BucketContactRefs + ": records expire"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate --status does not say %q:\n%s", want, out)
		}
	}
	if get(topology.BucketSettings, "loc1.mapping") != `{"contactTag":"social:{tag}"}` {
		t.Error("migrate --status changed a record")
	}

	at := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	out, errOut, code = runCLIAt(t, func() time.Time { return at }, "migrate", "--settle", "1ms", "--nats", env.URL())
	if code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "fleet minimum: 2 (raised 2026-06-01T08:00:00Z)") || !strings.Contains(out, "2 records rewritten in schema 2") {
		t.Errorf("migrate:\n%s", out)
	}
	for _, c := range []struct{ bucket, key, want string }{
		{topology.BucketSettings, "loc1.mapping", `{"_schema":2,"contactTag":"social:{tag}"}`},
		{topology.BucketRelations, "loc1.post.p1", `{"_schema":2,"tags":["t1"]}`},
		{topology.BucketRelations, "loc1.marker", `7`},
		{topology.BucketContactRefs, "loc1.ref", `{"contact":"c1"}`},
	} {
		if got := get(c.bucket, c.key); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.bucket, c.key, got, c.want)
		}
	}
	schemaKV, err := env.JS.KeyValue(ctx, bus.BucketSchema)
	if err != nil {
		t.Fatal(err)
	}
	if st, _, err := bus.ReadSchemaState(ctx, schemaKV); err != nil || st.Minimum != 2 {
		t.Errorf("stored minimum: %+v, %v", st, err)
	}

	out, errOut, code = runCLI(t, "migrate", "--settle", "1ms", "--nats", env.URL())
	if code != 0 || !strings.Contains(out, "0 records rewritten") || strings.Contains(out, "waiting") {
		t.Errorf("migrate again: exit %d: %s%s", code, out, errOut)
	}
}
