package creds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
)

// record is a token record at rest: the sealed token and, in clear, the
// refresh coordination. Neither the lease nor the mark holds a secret.
type record struct {
	sealed
	// Lease is set while a process refreshes the token.
	Lease *lease `json:"lease,omitempty"`
	// Reauth is set once the location needs re-authorisation.
	Reauth *reauthMark `json:"reauth,omitempty"`
	// Pause is set after refreshes that failed without settling whether
	// the refresh token is spent (the token endpoint did not answer, or
	// answered 429): no process asks again before it ends.
	Pause *pause `json:"pause,omitempty"`
	// Meta is what the sealed token says that is no secret, in clear for
	// the Directory; nil in records stored before it was kept.
	Meta *tokenMeta `json:"meta,omitempty"`
}

// tokenMeta is what a Directory shows of a token: nothing that
// authenticates.
type tokenMeta struct {
	ExpiresAt  time.Time `json:"expiresAt,omitzero"`
	Scope      string    `json:"scope,omitempty"`
	CanRefresh bool      `json:"canRefresh,omitempty"`
	// Company marks an agency's token, kept under its company id.
	Company bool `json:"company,omitempty"`
}

// metaOf returns the metadata of t.
func metaOf(t Token) tokenMeta {
	return tokenMeta{ExpiresAt: t.ExpiresAt, Scope: t.Scope, CanRefresh: t.RefreshToken != "", Company: t.UserType == ghl.UserTypeCompany}
}

// equal reports whether m (nil for none) says what o says.
func (m *tokenMeta) equal(o tokenMeta) bool {
	return m != nil && m.ExpiresAt.Equal(o.ExpiresAt) && m.Scope == o.Scope && m.CanRefresh == o.CanRefresh && m.Company == o.Company
}

// scopes returns the granted scopes, as Token.Scopes.
func (m tokenMeta) scopes() []string { return Token{Scope: m.Scope}.Scopes() }

// pause holds refreshes back after failures, with a backoff.
type pause struct {
	Until    time.Time `json:"until"`
	Failures int       `json:"failures"`
	Reason   string    `json:"reason"`
}

// active reports whether the pause still holds at now.
func (p *pause) active(now time.Time) bool { return p != nil && now.Before(p.Until) }

// lease is a refresher's claim on a location's refresh.
type lease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

// heldByOther reports whether someone else's unexpired lease is on the
// record. A lease of this very Store is left over from an earlier refresh
// that could not release it: it is taken again.
func (l *lease) heldByOther(owner string, now time.Time) bool {
	return l != nil && l.Owner != owner && now.Before(l.Until)
}

// reauthMark says why and since when a location needs re-authorisation.
type reauthMark struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// entry is a token record as read, at its revision.
type entry struct {
	rec record
	tok Token
	rev uint64
	// plain is the opened token as stored, for Reseal to seal again
	// unchanged.
	plain []byte
}

// read returns the stored record of loc, unsealed.
func (s *Store) read(ctx context.Context, loc string) (entry, error) {
	if !ids.ValidHighLevel(loc) {
		return entry{}, fmt.Errorf("%w: %q", ErrInvalidLocation, loc)
	}
	rec, rev, err := s.readSealed(ctx, loc)
	if err != nil {
		return entry{}, err
	}
	plain, err := s.keys.open(loc, rec.sealed)
	if err != nil {
		return entry{}, fmt.Errorf("open token of %s: %w", loc, err)
	}
	var t Token
	if err := json.Unmarshal(plain, &t); err != nil {
		return entry{}, fmt.Errorf("decode token of %s: %w", loc, ErrTampered)
	}
	return entry{rec: rec, tok: t, rev: rev, plain: plain}, nil
}

// sealToken returns a fresh record holding t, with its metadata in clear,
// no lease and no mark.
func (s *Store) sealToken(loc string, t Token) (record, error) {
	plain, err := json.Marshal(t)
	if err != nil {
		return record{}, fmt.Errorf("encode token of %s: %w", loc, err)
	}
	meta := metaOf(t)
	return record{sealed: s.keys.seal(loc, plain), Meta: &meta}, nil
}

// update writes rec over revision rev of loc's record; a concurrent change
// fails it with jetstream.ErrKeyRevisionMismatch.
func (s *Store) update(ctx context.Context, loc string, rec record, rev uint64) (uint64, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("encode token record of %s: %w", loc, err)
	}
	n, err := s.tokens.Update(ctx, loc, b, rev)
	if err != nil {
		return 0, fmt.Errorf("update token record of %s: %w", loc, err)
	}
	return n, nil
}

// conflict reports a compare-and-set that lost to another writer.
func conflict(err error) bool { return errors.Is(err, jetstream.ErrKeyRevisionMismatch) }
