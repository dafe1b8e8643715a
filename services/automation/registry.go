package automationworker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// registry holds the definitions stored under a key prefix of a bucket,
// kept current by a KV watch: a definition applied while the worker runs
// is used from its next message on, with no restart. Every stored value
// is checked again as it arrives; one that fails is not loaded (the
// definition's previous revision, if any, stays in force) and the error is
// logged naming it.
type registry[T any] struct {
	kv     Watcher
	prefix string // "def." or ""
	what   string // "segment", "workflow", for logs
	decode func(data []byte) (T, error)
	log    *slog.Logger
	// changed, when set, is called for every put or delete the watch
	// delivers, initial values included, after the registry took it in.
	changed func(ctx context.Context, name string, rev uint64, deleted bool)

	ready chan struct{}
	mu    sync.RWMutex
	items map[string]T
	// broken are definitions stored in a form that does not load and
	// that have no loaded revision.
	broken map[string]bool
}

func newRegistry[T any](kv Watcher, prefix, what string, decode func([]byte) (T, error), log *slog.Logger) *registry[T] {
	return &registry[T]{kv: kv, prefix: prefix, what: what, decode: decode, log: log,
		ready: make(chan struct{}), items: map[string]T{}, broken: map[string]bool{}}
}

// run watches the bucket until ctx ends.
func (r *registry[T]) run(ctx context.Context) error {
	filter := ">"
	if r.prefix != "" {
		filter = r.prefix + ">"
	}
	w, err := r.kv.Watch(ctx, filter)
	if err != nil {
		return fmt.Errorf("watch %s definitions: %w", r.what, err)
	}
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("watch %s definitions: stopped", r.what)
			}
			if e == nil {
				if initial {
					initial = false
					close(r.ready)
					r.log.Info("definitions loaded", "kind", r.what, "count", len(r.names()))
				}
				continue
			}
			r.take(ctx, e)
		}
	}
}

// take loads or drops one watched entry.
func (r *registry[T]) take(ctx context.Context, e jetstream.KeyValueEntry) {
	name := strings.TrimPrefix(e.Key(), r.prefix)
	deleted := e.Operation() != jetstream.KeyValuePut
	if deleted {
		r.mu.Lock()
		delete(r.items, name)
		delete(r.broken, name)
		r.mu.Unlock()
		r.log.Info("definition deleted", "kind", r.what, "name", name, "revision", e.Revision())
	} else {
		v, err := r.decode(e.Value())
		r.mu.Lock()
		_, had := r.items[name]
		if err == nil {
			r.items[name] = v
			delete(r.broken, name)
		} else if !had {
			r.broken[name] = true
		}
		r.mu.Unlock()
		if err != nil {
			r.log.Error("definition refused: not loaded", "kind", r.what, "name", name, "revision", e.Revision(),
				"kept_previous", had, "err", err)
			return
		}
		r.log.Info("definition loaded", "kind", r.what, "name", name, "revision", e.Revision())
	}
	if r.changed != nil {
		r.changed(ctx, name, e.Revision(), deleted)
	}
}

// wait blocks until the initial definitions are loaded.
func (r *registry[T]) wait(ctx context.Context) error {
	select {
	case <-r.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// snapshot returns the loaded definitions sorted by name, and the names
// of the broken ones.
func (r *registry[T]) snapshot() ([]T, map[string]bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.items))
	for n := range r.items {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]T, 0, len(names))
	for _, n := range names {
		out = append(out, r.items[n])
	}
	broken := make(map[string]bool, len(r.broken))
	for n := range r.broken {
		broken[n] = true
	}
	return out, broken
}

func (r *registry[T]) names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.items))
	for n := range r.items {
		out = append(out, n)
	}
	return out
}
