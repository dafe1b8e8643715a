// Package revision is the revision-checked read-modify-write on a KV bucket
// that every worker uses: Put and Delete (one write at the revision read,
// ErrConflict when someone else wrote first) and Update (read, apply,
// write, again on a conflict). It is apart from pkg/relations, whose
// records and keys the workers' domain packages use, so that those stay
// free of NATS.
package revision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrConflict is a revision-checked write that lost a race: the key
// changed since it was read.
var ErrConflict = errors.New("key changed since it was read")

// MaxUpdateRounds bounds the rounds of Update that lose a race.
const MaxUpdateRounds = 10

// Get returns the value at key and its revision; nil and 0 when absent.
func Get(ctx context.Context, kv jetstream.KeyValue, key string) ([]byte, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	return e.Value(), e.Revision(), nil
}

// Load reads the JSON value of key into v and returns its revision; 0 (and
// v untouched) when there is none. A value that does not decode is an
// error.
func Load(ctx context.Context, kv jetstream.KeyValue, key string, v any) (uint64, error) {
	data, rev, err := Get(ctx, kv, key)
	if err != nil || data == nil {
		return rev, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return rev, nil
}

// Put writes data at key if key is still at revision rev (0: absent), and
// returns the new revision; an error matching ErrConflict when it is not.
func Put(ctx context.Context, kv jetstream.KeyValue, key string, data []byte, rev uint64) (uint64, error) {
	var err error
	if rev == 0 {
		rev, err = kv.Create(ctx, key, data)
	} else {
		rev, err = kv.Update(ctx, key, data, rev)
	}
	if isConflict(err) {
		return 0, fmt.Errorf("store %s: %w", key, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", key, err)
	}
	return rev, nil
}

// Save writes v as JSON at key under Put's revision check.
func Save(ctx context.Context, kv jetstream.KeyValue, key string, v any, rev uint64) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	return Put(ctx, kv, key, data, rev)
}

// Delete deletes key if it is still at revision rev; an error matching
// ErrConflict when it is not.
func Delete(ctx context.Context, kv jetstream.KeyValue, key string, rev uint64) error {
	err := kv.Delete(ctx, key, jetstream.LastRevision(rev))
	if isConflict(err) {
		return fmt.Errorf("delete %s: %w", key, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// Update applies fn to the JSON value of key (the zero T and false when
// there is none) and stores the result under a revision check, reading and
// applying again when someone else changed key meanwhile, at most
// MaxUpdateRounds times. It returns the stored revision. fn's error stops
// it and is returned.
func Update[T any](ctx context.Context, kv jetstream.KeyValue, key string, fn func(*T, bool) error) (uint64, error) {
	return UpdateValues(ctx, bucketValues{kv}, key, fn)
}

// Values are JSON values under revisions: Load and Save on a bucket, or
// a worker's own store of them (a fake in its tests).
type Values interface {
	// Load reads the value at key into v and returns its revision; 0 (and
	// v untouched) when there is none.
	Load(ctx context.Context, key string, v any) (uint64, error)
	// Save writes v at key if its revision is still rev (absent when 0)
	// and returns the new revision; an error matching ErrConflict when it
	// is not.
	Save(ctx context.Context, key string, v any, rev uint64) (uint64, error)
}

// UpdateValues is Update on Values.
func UpdateValues[T any](ctx context.Context, s Values, key string, fn func(*T, bool) error) (uint64, error) {
	for range MaxUpdateRounds {
		var v T
		rev, err := s.Load(ctx, key, &v)
		if err != nil {
			return 0, err
		}
		if err := fn(&v, rev != 0); err != nil {
			return 0, err
		}
		stored, err := s.Save(ctx, key, v, rev)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return stored, err
	}
	return 0, fmt.Errorf("store %s: %w %d times", key, ErrConflict, MaxUpdateRounds)
}

type bucketValues struct{ kv jetstream.KeyValue }

func (b bucketValues) Load(ctx context.Context, key string, v any) (uint64, error) {
	return Load(ctx, b.kv, key, v)
}

func (b bucketValues) Save(ctx context.Context, key string, v any, rev uint64) (uint64, error) {
	return Save(ctx, b.kv, key, v, rev)
}

// isConflict reports a failed revision check. Create reports it as
// ErrKeyExists; Update and Delete as ErrKeyRevisionMismatch, which on a
// single server also matches ErrKeyExists but on a replicated (R3) bucket
// does not (the server answers 10164 there, not 10071).
func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// Keys returns the keys of kv, sorted: what a listing of every record
// reads first (each record is then read by its key, so one deleted
// meanwhile is the caller's to skip).
func Keys(ctx context.Context, kv jetstream.KeyValue) ([]string, error) {
	return KeysMatching(ctx, kv, ">")
}
