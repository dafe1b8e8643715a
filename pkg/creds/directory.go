package creds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Directory reads the registered locations and what their token records
// say in clear: expiry, scopes, whether the token can be refreshed, the
// re-authorisation mark and the refresh in progress. It holds no key and
// opens no token, so a process that only shows locations (the gateway)
// is given no SOCIALSYNC_TOKEN_KEY and no client secret. A Store is a
// Directory that also holds the keys.
type Directory struct {
	locations jetstream.KeyValue
	tokens    jetstream.KeyValue
	now       func() time.Time
}

// OpenDirectory returns a Directory over the buckets of js. Of the
// options, only WithClock applies.
func OpenDirectory(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Directory, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	locs, err := js.KeyValue(ctx, topology.BucketLocations)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", topology.BucketLocations, err)
	}
	toks, err := js.KeyValue(ctx, topology.BucketTokens)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", topology.BucketTokens, err)
	}
	return &Directory{locations: locs, tokens: toks, now: o.now}, nil
}

// errUndecodable is the cause of a location record that is not JSON.
var errUndecodable = errors.New("undecodable record")

// Location returns a registered location.
func (d *Directory) Location(ctx context.Context, id string) (Location, error) {
	loc, _, err := d.location(ctx, id)
	return loc, err
}

// Registered reports whether location id is registered (bus.Registry), or
// is an agency whose token is kept (its syncs are keyed by its company
// id). A location uninstalled in HighLevel is not, and its
// *UninstalledError has the bus ack its messages unhandled. It reads the
// record and caches nothing.
func (d *Directory) Registered(ctx context.Context, id string) (bool, error) {
	loc, _, err := d.location(ctx, id)
	switch {
	case errors.Is(err, ErrUnknownLocation):
		// An agency's syncs are keyed by its company id.
		return d.Agency(ctx, id)
	case errors.Is(err, ErrInvalidLocation):
		return false, nil
	case err == nil && loc.State == StateUninstalled:
		return false, &UninstalledError{Location: id, Since: loc.StateSince}
	case errors.Is(err, errUndecodable):
		// A record that exists but cannot be read is still registered:
		// its handler reports the decode failure.
		return true, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func (d *Directory) location(ctx context.Context, id string) (Location, uint64, error) {
	if !ids.ValidHighLevel(id) {
		return Location{}, 0, fmt.Errorf("%w: %q", ErrInvalidLocation, id)
	}
	e, err := d.locations.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Location{}, 0, fmt.Errorf("%w: %s", ErrUnknownLocation, id)
	}
	if err != nil {
		return Location{}, 0, fmt.Errorf("read location %s: %w", id, err)
	}
	var loc Location
	if err := json.Unmarshal(e.Value(), &loc); err != nil {
		return Location{}, 0, fmt.Errorf("decode location %s: %w: %v", id, errUndecodable, err)
	}
	return loc, e.Revision(), nil
}

// Locations returns every registered location, ordered by id, from one
// watch of the bucket: a fixed number of requests whatever the number of
// locations (a read per location took seconds at 10,000, and the
// reconciliation scheduler and the state metrics list them every minute).
// An invalid id or a record that does not decode fails the listing, as
// Location does.
func (d *Directory) Locations(ctx context.Context) ([]Location, error) {
	var out []Location
	var bad error
	err := bus.EachCurrent(ctx, d.locations, nil, func(e jetstream.KeyValueEntry) {
		if bad != nil {
			return
		}
		id := e.Key()
		if !ids.ValidHighLevel(id) {
			bad = fmt.Errorf("%w: %q", ErrInvalidLocation, id)
			return
		}
		var loc Location
		if err := json.Unmarshal(e.Value(), &loc); err != nil {
			bad = fmt.Errorf("decode location %s: %w: %v", id, errUndecodable, err)
			return
		}
		out = append(out, loc)
	})
	if err != nil {
		return nil, fmt.Errorf("list locations: %w", err)
	}
	if bad != nil {
		return nil, bad
	}
	slices.SortFunc(out, func(a, b Location) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// readSealed returns the stored record of loc and its revision, sealed.
func (d *Directory) readSealed(ctx context.Context, loc string) (record, uint64, error) {
	if !ids.ValidHighLevel(loc) {
		return record{}, 0, fmt.Errorf("%w: %q", ErrInvalidLocation, loc)
	}
	e, err := d.tokens.Get(ctx, loc)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return record{}, 0, fmt.Errorf("%w: %s", ErrNoToken, loc)
	}
	if err != nil {
		return record{}, 0, fmt.Errorf("read token of %s: %w", loc, err)
	}
	var rec record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return record{}, 0, fmt.Errorf("decode token record of %s: %w", loc, ErrTampered)
	}
	return rec, e.Revision(), nil
}

// TokenStatus is what `socialsync locations list` and the gateway show of
// a token.
type TokenStatus struct {
	ExpiresAt time.Time // zero: never expires
	Scopes    []string
	// CanRefresh reports a stored refresh token.
	CanRefresh bool
	// NeedsReauth is set, with its reason, for a marked location.
	NeedsReauth *NeedsReauthError
	// Refreshing names the process refreshing the token right now.
	Refreshing string
}

// Status describes loc's token from what its record says in clear. A
// record stored before the record kept its metadata in clear fails with
// ErrNoMetadata until `socialsync locations reseal` (or the next refresh
// or connection) writes it.
func (d *Directory) Status(ctx context.Context, loc string) (TokenStatus, error) {
	rec, _, err := d.readSealed(ctx, loc)
	if err != nil {
		return TokenStatus{}, err
	}
	return d.recordStatus(loc, rec)
}

// recordStatus is the TokenStatus of loc's record rec, or ErrNoMetadata.
func (d *Directory) recordStatus(loc string, rec record) (TokenStatus, error) {
	if rec.Meta == nil {
		return TokenStatus{}, fmt.Errorf("%w: %s", ErrNoMetadata, loc)
	}
	return d.status(loc, rec, *rec.Meta), nil
}

// status is the TokenStatus of loc's record rec whose token meta describes.
func (d *Directory) status(loc string, rec record, meta tokenMeta) TokenStatus {
	st := TokenStatus{ExpiresAt: meta.ExpiresAt, Scopes: meta.scopes(), CanRefresh: meta.CanRefresh}
	if m := rec.Reauth; m != nil {
		st.NeedsReauth = &NeedsReauthError{Location: loc, Reason: m.Reason, Since: m.Since}
	}
	if rec.Lease.heldByOther("", d.now()) {
		st.Refreshing = rec.Lease.Owner
	}
	return st
}
