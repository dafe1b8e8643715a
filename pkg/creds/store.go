package creds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/singleflight"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
)

// AuthKind says how a location authenticates.
type AuthKind string

// The ways a location authenticates.
const (
	// AuthPIT is a Private Integration Token: static, never refreshed.
	AuthPIT AuthKind = "pit"
	// AuthOAuth is an OAuth access token with its rotating refresh token.
	AuthOAuth AuthKind = "oauth"
)

// State is a location's connection state.
type State string

// Location states.
const (
	StateActive      State = "active"
	StateNeedsReauth State = "needs_reauth"
	// StateConnecting is a location registered while its connection is
	// being made (the hosted OAuth flow): its token is not usable yet.
	// Events for it are refused with "retry later", not dead-lettered.
	StateConnecting State = "connecting"
)

// Location is a connected HighLevel location. It holds no secret.
type Location struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Timezone string `json:"timezone,omitempty"`
	// NameFrom and TimezoneFrom say who set Name and Timezone; read them
	// with NameSource and TimezoneSource.
	NameFrom     Source `json:"nameFrom,omitempty"`
	TimezoneFrom Source `json:"timezoneFrom,omitempty"`
	// LearnedAt is when HighLevel was last asked for the name and time
	// zone (LearnDetails); zero until it is, and again after each
	// connection.
	LearnedAt time.Time `json:"learnedAt,omitzero"`
	Auth      AuthKind  `json:"auth"`
	State     State     `json:"state"`
	AddedAt   time.Time `json:"addedAt"`
	// CompanyID is the agency (HighLevel company) the location belongs
	// to, when known: an OAuth location's token names it; a location
	// added with a Private Integration Token has it only when given.
	// A webhook source bound to the company speaks for the location.
	CompanyID string `json:"companyId,omitempty"`
	// Reason says why the location is in its state (needs_reauth only).
	Reason string `json:"reason,omitempty"`
	// StateSince is when the location entered its state.
	StateSince time.Time `json:"stateSince,omitzero"`
	// Disabled are the optional features turned off because the token
	// lacks their scope (DisableFeature); connecting again clears them.
	Disabled []DisabledFeature `json:"disabled,omitempty"`
	// Paused is set while an operator has paused the location (Pause);
	// connecting it again keeps it.
	Paused *Pause `json:"paused,omitempty"`
	// Removing is set once its removal was asked for (MarkRemoving):
	// paused too, it stays so until the removal deletes the record.
	Removing *Removal `json:"removing,omitempty"`
}

// Token is a location's credential. It prints redacted.
type Token struct {
	AccessToken  string    `json:"accessToken"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	ExpiresAt    time.Time `json:"expiresAt,omitzero"` // zero: does not expire (PIT)
	Scope        string    `json:"scope,omitempty"`
	// UserType is ghl.UserTypeLocation or ghl.UserTypeCompany (OAuth only).
	UserType string `json:"userType,omitempty"`
	// CompanyID is the agency the location belongs to, when known.
	CompanyID string `json:"companyId,omitempty"`
	// ClientID is the Marketplace app the tokens were issued to; its
	// secret comes from configuration, never from the store.
	ClientID string `json:"clientId,omitempty"`
	// ObtainedAt is when the token was requested (OAuth only); ExpiresAt
	// counts from then, so it errs on the early side.
	ObtainedAt time.Time `json:"obtainedAt,omitzero"`
}

// String implements fmt.Stringer without revealing the token.
func (t Token) String() string {
	exp := "never"
	if !t.ExpiresAt.IsZero() {
		exp = t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("creds.Token{REDACTED, expires %s}", exp)
}

// GoString implements fmt.GoStringer without revealing the token.
func (t Token) GoString() string { return t.String() }

// LogValue implements slog.LogValuer without revealing the token.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Scopes returns the granted scopes, as the token endpoint listed them.
func (t Token) Scopes() []string { return strings.Fields(t.Scope) }

// TokenFromGHL converts an answer of HighLevel's token endpoints, issued
// to app clientID and requested at issued, to a Token.
func TokenFromGHL(t ghl.Token, clientID string, issued time.Time) Token {
	out := Token{
		AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Scope: t.Scope,
		UserType: t.UserType, CompanyID: t.CompanyID, ClientID: clientID, ObtainedAt: issued.UTC(),
	}
	if t.ExpiresIn > 0 {
		out.ExpiresAt = issued.Add(time.Duration(t.ExpiresIn) * time.Second).UTC()
	}
	return out
}

// Store keeps locations and their sealed tokens in JetStream key-value
// buckets (topology.BucketLocations, topology.BucketTokens), which topology.Ensure creates.
// It is safe for concurrent use, and any number of Stores, in any number of
// processes, may share the buckets.
type Store struct {
	*Directory
	keys   *Keyring
	opts   options
	events *bus.Publisher

	// flight makes the callers of one process share one refresh (or one
	// wait for another process's refresh) per location.
	flight singleflight.Group
	// rejected maps a location to the SHA-256 of an access token HighLevel
	// answered 401 to (see tokenSource.Invalidate).
	rejected sync.Map
	// refreshes counts the calls of refresh, by result.
	refreshes *refreshMetrics
	// beforeReseal, set by tests only, runs between Reseal's read of a
	// record and its compare-and-set.
	beforeReseal func(loc string)
}

// Open returns a Store over the buckets of js, sealing tokens with keys.
func Open(ctx context.Context, js jetstream.JetStream, keys *Keyring, opts ...Option) (*Store, error) {
	if keys == nil {
		return nil, errors.New("creds: no keyring")
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	dir, err := OpenDirectory(ctx, js, opts...)
	if err != nil {
		return nil, err
	}
	events := o.events
	if events == nil {
		events = bus.NewPublisher(js, bus.PublisherOptions{Known: topology.Known})
	}
	refreshes, err := newRefreshMetrics(o.meters)
	if err != nil {
		return nil, fmt.Errorf("creds: metrics: %w", err)
	}
	return &Store{Directory: dir, keys: keys, opts: o, events: events, refreshes: refreshes}, nil
}

// AddPIT registers a location that uses a Private Integration Token,
// replacing what was stored for it. The token is sealed before the location
// record is written, so a registered location always has its token.
func (s *Store) AddPIT(ctx context.Context, loc Location, pit string) error {
	if !ids.ValidHighLevel(loc.ID) {
		return fmt.Errorf("%w: %q", ErrInvalidLocation, loc.ID)
	}
	if pit == "" {
		return errors.New("creds: empty private integration token")
	}
	if err := s.PutToken(ctx, loc.ID, Token{AccessToken: pit}); err != nil {
		return err
	}
	loc.Auth = AuthPIT
	return s.register(ctx, loc)
}

// AddOAuth registers a location that uses OAuth, replacing what was stored
// for it (a location that needed re-authorisation is active again). tok
// holds the access token, its expiry and, so it can be refreshed, the
// refresh token and the client id of the app it was issued to (see
// TokenFromGHL).
func (s *Store) AddOAuth(ctx context.Context, loc Location, tok Token) error {
	switch {
	case !ids.ValidHighLevel(loc.ID):
		return fmt.Errorf("%w: %q", ErrInvalidLocation, loc.ID)
	case tok.AccessToken == "":
		return errors.New("creds: empty access token")
	case tok.RefreshToken != "" && tok.ClientID == "":
		return errors.New("creds: a refresh token needs the client id of the app it was issued to")
	}
	if tok.ObtainedAt.IsZero() {
		tok.ObtainedAt = s.now().UTC()
	}
	if err := s.PutToken(ctx, loc.ID, tok); err != nil {
		return err
	}
	loc.Auth = AuthOAuth
	if loc.CompanyID == "" {
		loc.CompanyID = tok.CompanyID
	}
	return s.register(ctx, loc)
}

// register writes loc as active. Name, time zone, company and first
// registration time that loc leaves empty are kept from the stored record, so
// connecting a location again does not lose its settings. A name or time
// zone loc gives without saying where it came from is the operator's.
func (s *Store) register(ctx context.Context, loc Location) error {
	now := s.now().UTC()
	prev, err := s.Location(ctx, loc.ID)
	switch {
	case errors.Is(err, ErrUnknownLocation), errors.Is(err, errUndecodable):
		prev = Location{} // nothing, or nothing worth keeping
	case err != nil:
		return err
	default:
		if loc.Name == "" {
			loc.Name, loc.NameFrom = prev.Name, prev.NameFrom
		}
		if loc.Timezone == "" {
			loc.Timezone, loc.TimezoneFrom = prev.Timezone, prev.TimezoneFrom
		}
		if loc.AddedAt.IsZero() {
			loc.AddedAt = prev.AddedAt
		}
		if loc.CompanyID == "" {
			loc.CompanyID = prev.CompanyID
		}
		loc.Paused = prev.Paused
	}
	if loc.AddedAt.IsZero() {
		loc.AddedAt = now
	}
	loc.NameFrom, loc.TimezoneFrom = loc.NameSource(), loc.TimezoneSource()
	// Each connection asks HighLevel again (LearnDetails).
	loc.LearnedAt = time.Time{}
	loc.State, loc.Reason, loc.StateSince = StateActive, "", now
	b, err := json.Marshal(loc)
	if err != nil {
		return fmt.Errorf("encode location %s: %w", loc.ID, err)
	}
	rev, err := s.locations.Put(ctx, loc.ID, b)
	if err != nil {
		return fmt.Errorf("store location %s: %w", loc.ID, err)
	}
	if prev.State == StateNeedsReauth {
		s.publishState(ctx, loc.ID, StateActive, StateNeedsReauth, "connected again", now, rev)
	}
	return nil
}

// PutToken seals and stores a location's token, replacing the record: a
// refresh in progress elsewhere will not overwrite it, and a
// re-authorisation mark is cleared.
func (s *Store) PutToken(ctx context.Context, loc string, t Token) error {
	if !ids.ValidHighLevel(loc) {
		return fmt.Errorf("%w: %q", ErrInvalidLocation, loc)
	}
	rec, err := s.sealToken(loc, t)
	if err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode token record of %s: %w", loc, err)
	}
	if _, err := s.tokens.Put(ctx, loc, b); err != nil {
		return fmt.Errorf("store token of %s: %w", loc, err)
	}
	return nil
}

// updateLocation applies change to loc's location record at the revision
// it read, reading again after a concurrent update, and returns the new
// revision. change reports whether it changed anything; when it did not,
// nothing is written and changed is false.
func (d *Directory) updateLocation(ctx context.Context, loc string, change func(*Location) bool) (rev uint64, changed bool, err error) {
	for range 10 {
		l, rev, err := d.location(ctx, loc)
		if err != nil {
			return 0, false, err
		}
		if !change(&l) {
			return rev, false, nil
		}
		b, err := json.Marshal(l)
		if err != nil {
			return 0, false, fmt.Errorf("encode location %s: %w", loc, err)
		}
		next, err := d.locations.Update(ctx, loc, b, rev)
		if conflict(err) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("store location %s: %w", loc, err)
		}
		return next, true, nil
	}
	return 0, false, fmt.Errorf("store location %s: too many concurrent updates", loc)
}

// Token returns a location's token as stored, unsealed. It neither
// refreshes nor checks the re-authorisation mark: TokenSource does.
func (s *Store) Token(ctx context.Context, loc string) (Token, error) {
	e, err := s.read(ctx, loc)
	if err != nil {
		return Token{}, err
	}
	return e.tok, nil
}

// Status describes loc's token without revealing it: from what its
// record says in clear or, for a record stored before it did, by opening
// the token.
func (s *Store) Status(ctx context.Context, loc string) (TokenStatus, error) {
	rec, _, err := s.readSealed(ctx, loc)
	if err != nil {
		return TokenStatus{}, err
	}
	if rec.Meta != nil {
		return s.status(loc, rec, *rec.Meta), nil
	}
	e, err := s.read(ctx, loc)
	if err != nil {
		return TokenStatus{}, err
	}
	return s.status(loc, e.rec, metaOf(e.tok)), nil
}
