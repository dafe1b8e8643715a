package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
)

func migrateCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "migrate", "After every replica of the fleet runs this release (docs/operations.md, \"Upgrading\"): raise the\n"+
		"fleet's minimum schema version to this release's, so that every replica writes records and messages in it,\n"+
		"and rewrite the stored records of an older version in it. It can be run again: it carries on where it stopped.\n"+
		"Buckets whose records expire (a TTL) are not rewritten: their old records expire. With --status it changes nothing\n"+
		"and shows the fleet minimum and how many stored records each version has.")
	url := natsFlag(fs)
	status := fs.Bool("status", false, "show the fleet minimum and the stored records per schema version; change nothing")
	settle := fs.Duration("settle", 15*time.Second, "after raising the minimum, wait this long for every replica to read it (they do every 10s) before rewriting records")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	topo, err := operatorTopology()
	if err != nil {
		return err
	}
	schemaKV, err := c.raw.KeyValue(ctx, bus.BucketSchema)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bus.BucketSchema, err)
	}
	if *status {
		st, _, err := bus.ReadSchemaState(ctx, schemaKV)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "this release reads schema %d to %d and writes %d once the fleet minimum is %d\n",
			bus.SchemaOldest, bus.SchemaCurrent, bus.SchemaCurrent, bus.SchemaCurrent)
		fmt.Fprintf(env.Stdout, "fleet minimum: %d%s\n", st.Minimum, raisedAt(st))
		for _, cfg := range topo.KeyValues {
			if cfg.Bucket == bus.BucketSchema {
				continue
			}
			n, err := migrateBucket(ctx, c.raw, cfg, false)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s\n", n.line(cfg))
		}
		return nil
	}
	before, _, err := bus.ReadSchemaState(ctx, schemaKV)
	if err != nil {
		return err
	}
	st, err := bus.RaiseSchemaMinimum(ctx, schemaKV, bus.SchemaCurrent, env.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "fleet minimum: %d%s\n", st.Minimum, raisedAt(st))
	if before.Minimum < st.Minimum {
		// A record a replica writes in the old version after it was
		// rewritten would stay old: rewrite once every replica writes
		// the new one.
		fmt.Fprintf(env.Stdout, "waiting %v for every replica to read it\n", *settle)
		select {
		case <-time.After(*settle):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var total int
	for _, cfg := range topo.KeyValues {
		if cfg.Bucket == bus.BucketSchema {
			continue
		}
		n, err := migrateBucket(ctx, c.raw, cfg, true)
		if err != nil {
			return err
		}
		total += n.rewritten
		fmt.Fprintf(env.Stdout, "%s\n", n.line(cfg))
	}
	fmt.Fprintf(env.Stdout, "%d records rewritten in schema %d\n", total, bus.SchemaCurrent)
	return nil
}

func raisedAt(st bus.SchemaState) string {
	if st.Raised.IsZero() {
		return " (never raised: the first release's)"
	}
	return " (raised " + st.Raised.Format(time.RFC3339) + ")"
}

// bucketSchemas counts a bucket's records.
type bucketSchemas struct {
	// versions counts the JSON records per schema version.
	versions map[int]int
	// other counts the values that are no JSON object (counters,
	// markers): they carry no version.
	other     int
	rewritten int
}

func (n bucketSchemas) line(cfg jetstream.KeyValueConfig) string {
	vs := make([]int, 0, len(n.versions))
	for v := range n.versions {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	var parts []string
	for _, v := range vs {
		parts = append(parts, fmt.Sprintf("schema %d: %d", v, n.versions[v]))
	}
	if n.other > 0 {
		parts = append(parts, fmt.Sprintf("unversioned values: %d", n.other))
	}
	if n.rewritten > 0 {
		parts = append(parts, fmt.Sprintf("rewritten: %d", n.rewritten))
	}
	switch {
	case cfg.TTL > 0:
		parts = []string{"records expire (TTL): not counted, not rewritten"}
	case len(parts) == 0:
		parts = append(parts, "empty")
	}
	return cfg.Bucket + ": " + strings.Join(parts, ", ")
}

// migrateBucket counts the records of the bucket cfg names by schema
// version and, when rewrite is set, rewrites those older than
// bus.SchemaCurrent in it. A bucket whose records expire is left alone:
// rewriting would keep them (personal data among them) past their TTL. A record written meanwhile is
// left as its writer wrote it: after the minimum is raised, in the current
// version.
func migrateBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig, rewrite bool) (bucketSchemas, error) {
	n := bucketSchemas{versions: map[int]int{}}
	if cfg.TTL > 0 {
		return n, nil
	}
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if err != nil {
		return n, fmt.Errorf("open bucket %s: %w", cfg.Bucket, err)
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return n, fmt.Errorf("list %s: %w", cfg.Bucket, err)
	}
	defer func() { _ = lister.Stop() }()
	for key := range lister.Keys() {
		v, rewritten, err := migrateRecord(ctx, kv, key, rewrite)
		if err != nil {
			return n, fmt.Errorf("%s: %w", cfg.Bucket, err)
		}
		switch {
		case v < 0:
			n.other++
		case v > 0:
			n.versions[v]++
		}
		if rewritten {
			n.rewritten++
		}
	}
	return n, ctx.Err()
}

// migrateRecord returns the schema version of the record at key (0: none,
// deleted meanwhile; -1: a value that is no JSON object) and, when rewrite
// is set, rewrites it in bus.SchemaCurrent if it is older. A record
// written meanwhile is read again.
func migrateRecord(ctx context.Context, kv jetstream.KeyValue, key string, rewrite bool) (int, bool, error) {
	for {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("read a record: %w", err)
		}
		if len(e.Value()) == 0 || e.Value()[0] != '{' {
			return -1, false, nil
		}
		_, v := bus.RecordSchema(e.Value())
		if !rewrite || v >= bus.SchemaCurrent {
			return v, false, nil
		}
		payload, _, err := bus.MigrateRecord(e.Value())
		if err != nil {
			return v, false, fmt.Errorf("migrate a record: %w", err)
		}
		_, err = kv.Update(ctx, key, bus.MarkRecord(payload, bus.SchemaCurrent), e.Revision())
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return v, false, fmt.Errorf("rewrite a record: %w", err)
		}
		return bus.SchemaCurrent, true, nil
	}
}
