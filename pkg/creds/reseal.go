package creds

import (
	"context"
	"errors"
	"fmt"

	"github.com/socialsync/socialsync/pkg/relations/revision"
)

// Sealing says which key seals a token record. It names the key by its id
// (KeyID), which reveals nothing of the key.
type Sealing struct {
	KeyID string
	// Current is set when the keyring's newest key seals the record.
	Current bool
	// Known is set when the keyring holds the key at all.
	Known bool
	// Described is set when the record keeps its metadata in clear, for a
	// Directory; Reseal writes it into the records stored before.
	Described bool
}

// Sealing returns which key seals loc's token record, without opening it.
func (s *Store) Sealing(ctx context.Context, loc string) (Sealing, error) {
	rec, _, err := s.readSealed(ctx, loc)
	if err != nil {
		return Sealing{}, err
	}
	kid := rec.KeyID
	return Sealing{KeyID: kid, Current: kid == s.keys.current(), Known: s.keys.holds(kid), Described: rec.Meta != nil}, nil
}

// Sealings returns which key seals each token record, by location.
func (s *Store) Sealings(ctx context.Context) (map[string]Sealing, error) {
	keys, err := s.tokenKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Sealing, len(keys))
	for _, loc := range keys {
		sl, err := s.Sealing(ctx, loc)
		if errors.Is(err, ErrNoToken) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out[loc] = sl
	}
	return out, nil
}

// tokenKeys lists the keys of the tokens bucket, ordered.
func (s *Store) tokenKeys(ctx context.Context) ([]string, error) {
	keys, err := revision.Keys(ctx, s.tokens)
	if err != nil {
		return nil, fmt.Errorf("list token records: %w", err)
	}
	return keys, nil
}

// ResealReport is what Reseal did, or would do.
type ResealReport struct {
	// Resealed counts the records sealed again under the newest key, or
	// given their clear metadata (in a dry run, those that would be).
	Resealed int
	// Current counts the records the newest key sealed already, a
	// concurrent writer's included.
	Current int
	// Failed holds one error per record that could not be sealed again;
	// each names its location and none holds a token.
	Failed []error
}

// Reseal seals every token record that an older key of the keyring seals
// under the newest one, so the older keys can be dropped. Each record is
// rewritten as a compare-and-set on the revision it was read at, lease,
// re-authorisation mark and pause unchanged: a refresh or a reconnection
// that wrote in between is never overwritten; the record is read again,
// and left alone when that writer sealed it under the newest key. With
// dryRun, nothing is written: each record is opened and counted. Running
// it again does nothing more. A record the newest key seals already but
// whose metadata is not in clear (stored before records kept it) is
// rewritten too, so a Directory can show it.
func (s *Store) Reseal(ctx context.Context, dryRun bool) (ResealReport, error) {
	keys, err := s.tokenKeys(ctx)
	if err != nil {
		return ResealReport{}, err
	}
	var r ResealReport
	for _, loc := range keys {
		resealed, err := s.reseal(ctx, loc, dryRun)
		switch {
		case errors.Is(err, ErrNoToken):
			// deleted meanwhile
		case err != nil:
			r.Failed = append(r.Failed, err)
		case resealed:
			r.Resealed++
		default:
			r.Current++
		}
	}
	return r, nil
}

// reseal seals loc's record under the newest key unless it already is,
// and reports whether it did (or, with dryRun, would).
func (s *Store) reseal(ctx context.Context, loc string, dryRun bool) (bool, error) {
	for range 10 {
		e, err := s.read(ctx, loc)
		if err != nil {
			return false, err
		}
		meta := metaOf(e.tok)
		if e.rec.KeyID == s.keys.current() && e.rec.Meta.equal(meta) {
			return false, nil
		}
		if dryRun {
			return true, nil
		}
		rec := e.rec
		rec.sealed, rec.Meta = s.keys.seal(loc, e.plain), &meta
		if s.beforeReseal != nil {
			s.beforeReseal(loc)
		}
		_, err = s.update(ctx, loc, rec, e.rev)
		if conflict(err) {
			continue
		}
		if err != nil {
			return false, err
		}
		return true, nil
	}
	return false, fmt.Errorf("reseal token of %s: too many concurrent updates", loc)
}

// CurrentKeyID returns the id (KeyID) of the key that seals new records.
func (s *Store) CurrentKeyID() string { return s.keys.current() }
