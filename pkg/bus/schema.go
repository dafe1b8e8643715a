package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Schema versions of the messages and stored records (docs/operations.md,
// "Upgrading"). A release reads the records and messages of its own
// version and of the one before, and writes the newest version every
// replica of the fleet can read: SchemaGate tells which.
const (
	// SchemaCurrent is the version this release writes once the fleet
	// minimum allows it.
	SchemaCurrent = 2
	// SchemaOldest is the oldest version this release reads: the
	// previous release's.
	SchemaOldest = SchemaCurrent - 1
	// SchemaUnmarked is the version of a message without HeaderSchema and
	// of a record without a schema mark: what v0.1.0 wrote.
	SchemaUnmarked = 1

	// HeaderSchema carries the schema version of a message. Absent, the
	// message is of SchemaUnmarked.
	HeaderSchema = "Socialsync-Schema"

	// BucketSchema holds the fleet's schema state: the minimum version
	// (SchemaMinimumKey) every replica reads, raised by `socialsync migrate`.
	BucketSchema = "socialsync_schema"
	// SchemaMinimumKey is the key of the fleet minimum in BucketSchema.
	SchemaMinimumKey = "minimum"

	// schemaMark opens a marked JSON record: {"_schema":N,...}.
	schemaMark = `{"_schema":`
)

// ErrNewerSchema is the error of a message or record written by a newer
// release than this one reads. A consumer defers such a message (it never
// counts toward a dead letter): a replica of the newer release takes it.
var ErrNewerSchema = errors.New("bus: schema newer than this release reads")

// ErrOlderSchema is the error of a record older than SchemaOldest: one a
// migration was skipped for (`socialsync migrate` rewrites them).
var ErrOlderSchema = errors.New("bus: schema older than this release reads")

// schemaDefer is how long a consumer waits before a message of a newer
// schema is offered again.
const schemaDefer = 5 * time.Second

// MessageSchema returns the schema version of a message's headers. A
// version newer than SchemaCurrent fails with ErrNewerSchema, deferred; a
// header that is no version fails with ErrBadInput.
func MessageSchema(h nats.Header) (int, error) {
	v := h.Get(HeaderSchema)
	if v == "" {
		return SchemaUnmarked, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: header %s %q is no schema version", ErrUndecodable, HeaderSchema, truncate(v, 16))
	}
	if n > SchemaCurrent {
		return 0, Defer(fmt.Errorf("%w: message of schema %d, this release reads %d to %d", ErrNewerSchema, n, SchemaOldest, SchemaCurrent), schemaDefer)
	}
	return n, nil
}

// MarkRecord returns data marked with schema version v. Only JSON objects
// carry a mark, and only from version 2 on: a version 1 record is written
// as v0.1.0 wrote it. Scalar values (counters, markers) and non-JSON
// values are returned as they are.
func MarkRecord(data []byte, v int) []byte {
	if v <= SchemaUnmarked || len(data) < 2 || data[0] != '{' {
		return data
	}
	out := make([]byte, 0, len(data)+len(schemaMark)+4)
	out = append(out, schemaMark...)
	out = strconv.AppendInt(out, int64(v), 10)
	rest := bytes.TrimLeft(data[1:], " \t\r\n")
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}

// RecordSchema returns a stored record without its schema mark and its
// version: SchemaUnmarked when it carries none.
func RecordSchema(data []byte) ([]byte, int) {
	if !bytes.HasPrefix(data, []byte(schemaMark)) {
		return data, SchemaUnmarked
	}
	rest := data[len(schemaMark):]
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(string(rest[:i]))
	if err != nil || i == len(rest) {
		return data, SchemaUnmarked
	}
	switch rest[i] {
	case ',':
		return append([]byte{'{'}, rest[i+1:]...), n
	case '}':
		return append([]byte{'{'}, rest[i:]...), n
	}
	return data, SchemaUnmarked
}

// migrateFrom turns the payload of a record of version v into one of
// version v+1. Version 2 only marks records: the payload of version 1 is
// unchanged. A release that changes a record's form adds its case here.
func migrateFrom(v int, payload []byte) ([]byte, error) {
	switch v {
	case 1:
		return payload, nil
	}
	return nil, fmt.Errorf("no migration from schema %d", v)
}

// MigrateRecord returns a stored record in the form of SchemaCurrent,
// without its mark, and the version it was stored in. A record newer than
// SchemaCurrent fails with ErrNewerSchema, one older than SchemaOldest
// with ErrOlderSchema.
func MigrateRecord(data []byte) ([]byte, int, error) {
	payload, v := RecordSchema(data)
	switch {
	case v > SchemaCurrent:
		return nil, v, Defer(fmt.Errorf("%w: record of schema %d, this release reads %d to %d", ErrNewerSchema, v, SchemaOldest, SchemaCurrent), schemaDefer)
	case v < SchemaOldest:
		return nil, v, fmt.Errorf("%w: record of schema %d, this release reads %d to %d", ErrOlderSchema, v, SchemaOldest, SchemaCurrent)
	}
	for from := v; from < SchemaCurrent; from++ {
		var err error
		if payload, err = migrateFrom(from, payload); err != nil {
			return nil, v, fmt.Errorf("migrate record from schema %d: %w", from, err)
		}
	}
	return payload, v, nil
}

// SchemaState is the value of SchemaMinimumKey.
type SchemaState struct {
	// Minimum is the oldest schema version a replica of the fleet may
	// read: writers write min(Minimum, SchemaCurrent).
	Minimum int `json:"minimum"`
	// Raised is when `socialsync migrate` raised it.
	Raised time.Time `json:"raised"`
}

// SchemaGate tells a process which schema version to write: the fleet
// minimum, read from BucketSchema, capped at SchemaCurrent. Until the
// minimum is first read, and when the bucket does not exist, it is
// SchemaOldest: what the previous release reads. The zero value and a nil
// *SchemaGate write SchemaOldest.
type SchemaGate struct {
	kv      jetstream.KeyValue
	minimum atomic.Int64
}

// OpenSchemaGate opens the gate on js's BucketSchema and reads the minimum
// once; Run keeps it current.
func OpenSchemaGate(ctx context.Context, js jetstream.JetStream) (*SchemaGate, error) {
	kv, err := js.KeyValue(ctx, BucketSchema)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", BucketSchema, err)
	}
	g := &SchemaGate{kv: kv}
	if err := g.Refresh(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// Refresh reads the fleet minimum.
func (g *SchemaGate) Refresh(ctx context.Context) error {
	st, _, err := ReadSchemaState(ctx, g.kv)
	if err != nil {
		return err
	}
	g.minimum.Store(int64(st.Minimum))
	return nil
}

// Run refreshes the minimum every interval until ctx ends. A failed read
// keeps the version it had: the minimum only ever rises.
func (g *SchemaGate) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_ = g.Refresh(ctx)
		}
	}
}

// Write returns the schema version to write.
func (g *SchemaGate) Write() int {
	if g == nil {
		return SchemaOldest
	}
	return min(max(int(g.minimum.Load()), SchemaOldest), SchemaCurrent)
}

// ReadSchemaState returns the fleet's schema state in kv (BucketSchema)
// and its revision: Minimum SchemaUnmarked and revision 0 when none was
// ever written.
func ReadSchemaState(ctx context.Context, kv jetstream.KeyValue) (SchemaState, uint64, error) {
	e, err := kv.Get(ctx, SchemaMinimumKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return SchemaState{Minimum: SchemaUnmarked}, 0, nil
	}
	if err != nil {
		return SchemaState{}, 0, fmt.Errorf("read schema minimum: %w", err)
	}
	var st SchemaState
	if err := json.Unmarshal(e.Value(), &st); err != nil || st.Minimum < 1 {
		return SchemaState{}, 0, fmt.Errorf("%w: schema minimum %q", ErrBadInput, truncate(string(e.Value()), 64))
	}
	return st, e.Revision(), nil
}

// RaiseSchemaMinimum sets the fleet minimum in kv (BucketSchema) to v,
// never lowering it, and returns the state stored.
func RaiseSchemaMinimum(ctx context.Context, kv jetstream.KeyValue, v int, now time.Time) (SchemaState, error) {
	if v > SchemaCurrent {
		return SchemaState{}, fmt.Errorf("%w: schema %d is newer than this release's %d", ErrBadInput, v, SchemaCurrent)
	}
	for {
		st, rev, err := ReadSchemaState(ctx, kv)
		if err != nil {
			return SchemaState{}, err
		}
		if st.Minimum >= v {
			return st, nil
		}
		next := SchemaState{Minimum: v, Raised: now.UTC()}
		b, _ := json.Marshal(next)
		if rev == 0 {
			_, err = kv.Create(ctx, SchemaMinimumKey, b)
		} else {
			_, err = kv.Update(ctx, SchemaMinimumKey, b, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return SchemaState{}, fmt.Errorf("raise schema minimum: %w", err)
		}
		return next, nil
	}
}
