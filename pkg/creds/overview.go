package creds

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ids"
)

// LocationStatus is a registered location with what its token record
// says in clear, or why that could not be read.
type LocationStatus struct {
	Location
	Token TokenStatus
	// TokenErr is Status's error for the location (ErrNoToken,
	// ErrNoMetadata, ErrTampered); nil when Token is set.
	TokenErr error
}

// Overview returns every registered location with its token status,
// ordered by id, in one pass over each bucket (two watches) instead of two
// reads per location: a view across hundreds of locations answers in one
// round trip per bucket. A location record that does not decode is left
// out, as Locations does not (it fails); the error names it and comes with
// the rest. The two buckets are read at once: at 10,000 locations each
// watch takes a few hundred milliseconds, mostly waiting on delivery.
func (d *Directory) Overview(ctx context.Context) ([]LocationStatus, error) {
	var locs, toks map[string][]byte
	var eg errgroup.Group
	eg.Go(func() (err error) {
		if locs, err = current(ctx, d.locations); err != nil {
			return fmt.Errorf("list locations: %w", err)
		}
		return nil
	})
	eg.Go(func() (err error) {
		if toks, err = current(ctx, d.tokens); err != nil {
			return fmt.Errorf("list tokens: %w", err)
		}
		return nil
	})
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	out := make([]LocationStatus, 0, len(locs))
	var bad []string
	for id, data := range locs {
		if !ids.ValidHighLevel(id) {
			continue
		}
		var ls LocationStatus
		if err := json.Unmarshal(data, &ls.Location); err != nil {
			bad = append(bad, id)
			continue
		}
		ls.Token, ls.TokenErr = d.statusOf(id, toks[id])
		out = append(out, ls)
	}
	slices.SortFunc(out, func(a, b LocationStatus) int { return strings.Compare(a.ID, b.ID) })
	if len(bad) > 0 {
		slices.Sort(bad)
		return out, fmt.Errorf("decode location %s: %w", strings.Join(bad, ", "), errUndecodable)
	}
	return out, nil
}

// statusOf is Status of loc's stored record data (nil: none).
func (d *Directory) statusOf(loc string, data []byte) (TokenStatus, error) {
	if data == nil {
		return TokenStatus{}, fmt.Errorf("%w: %s", ErrNoToken, loc)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return TokenStatus{}, fmt.Errorf("decode token record of %s: %w", loc, ErrTampered)
	}
	return d.recordStatus(loc, rec)
}

// current returns the current value of every key of kv, from one watch.
func current(ctx context.Context, kv jetstream.KeyValue) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := bus.EachCurrent(ctx, kv, nil, func(e jetstream.KeyValueEntry) { out[e.Key()] = e.Value() })
	return out, err
}
