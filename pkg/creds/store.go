package creds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/bus"
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
)

// Location is a connected HighLevel location. It holds no secret.
type Location struct {
	ID       string    `json:"id"`
	Name     string    `json:"name,omitempty"`
	Timezone string    `json:"timezone,omitempty"`
	Auth     AuthKind  `json:"auth"`
	State    State     `json:"state"`
	AddedAt  time.Time `json:"addedAt"`
}

// Token is a location's credential. It prints redacted.
type Token struct {
	AccessToken  string    `json:"accessToken"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	ExpiresAt    time.Time `json:"expiresAt,omitzero"` // zero: does not expire (PIT)
	Scope        string    `json:"scope,omitempty"`
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

// Store keeps locations and their sealed tokens in JetStream key-value
// buckets (bus.BucketLocations, bus.BucketTokens), which bus.Ensure creates.
type Store struct {
	locations jetstream.KeyValue
	tokens    jetstream.KeyValue
	keys      *Keyring
	now       func() time.Time
}

// Open returns a Store over the buckets of js, sealing tokens with keys.
func Open(ctx context.Context, js jetstream.JetStream, keys *Keyring) (*Store, error) {
	if keys == nil {
		return nil, errors.New("creds: no keyring")
	}
	locs, err := js.KeyValue(ctx, bus.BucketLocations)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bus.BucketLocations, err)
	}
	toks, err := js.KeyValue(ctx, bus.BucketTokens)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bus.BucketTokens, err)
	}
	return &Store{locations: locs, tokens: toks, keys: keys, now: time.Now}, nil
}

// AddPIT registers a location that uses a Private Integration Token,
// replacing what was stored for it. The token is sealed before the location
// record is written, so a registered location always has its token.
func (s *Store) AddPIT(ctx context.Context, loc Location, pit string) error {
	if !bus.ValidLocationID(loc.ID) {
		return fmt.Errorf("%w: %q", ErrInvalidLocation, loc.ID)
	}
	if pit == "" {
		return errors.New("creds: empty private integration token")
	}
	if err := s.PutToken(ctx, loc.ID, Token{AccessToken: pit}); err != nil {
		return err
	}
	loc.Auth, loc.State = AuthPIT, StateActive
	if loc.AddedAt.IsZero() {
		loc.AddedAt = s.now().UTC()
	}
	return s.putLocation(ctx, loc)
}

func (s *Store) putLocation(ctx context.Context, loc Location) error {
	b, err := json.Marshal(loc)
	if err != nil {
		return fmt.Errorf("encode location %s: %w", loc.ID, err)
	}
	if _, err := s.locations.Put(ctx, loc.ID, b); err != nil {
		return fmt.Errorf("store location %s: %w", loc.ID, err)
	}
	return nil
}

// PutToken seals and stores a location's token.
func (s *Store) PutToken(ctx context.Context, loc string, t Token) error {
	if !bus.ValidLocationID(loc) {
		return fmt.Errorf("%w: %q", ErrInvalidLocation, loc)
	}
	plain, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode token of %s: %w", loc, err)
	}
	rec, err := json.Marshal(s.keys.seal(loc, plain))
	if err != nil {
		return fmt.Errorf("encode token record of %s: %w", loc, err)
	}
	if _, err := s.tokens.Put(ctx, loc, rec); err != nil {
		return fmt.Errorf("store token of %s: %w", loc, err)
	}
	return nil
}

// Location returns a registered location.
func (s *Store) Location(ctx context.Context, id string) (Location, error) {
	if !bus.ValidLocationID(id) {
		return Location{}, fmt.Errorf("%w: %q", ErrInvalidLocation, id)
	}
	e, err := s.locations.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Location{}, fmt.Errorf("%w: %s", ErrUnknownLocation, id)
	}
	if err != nil {
		return Location{}, fmt.Errorf("read location %s: %w", id, err)
	}
	var loc Location
	if err := json.Unmarshal(e.Value(), &loc); err != nil {
		return Location{}, fmt.Errorf("decode location %s: %w", id, err)
	}
	return loc, nil
}

// Locations returns every registered location, ordered by id.
func (s *Store) Locations(ctx context.Context) ([]Location, error) {
	lister, err := s.locations.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list locations: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	var out []Location
	for id := range lister.Keys() {
		loc, err := s.Location(ctx, id)
		if errors.Is(err, ErrUnknownLocation) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, loc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Token returns a location's token, unsealed.
func (s *Store) Token(ctx context.Context, loc string) (Token, error) {
	if !bus.ValidLocationID(loc) {
		return Token{}, fmt.Errorf("%w: %q", ErrInvalidLocation, loc)
	}
	e, err := s.tokens.Get(ctx, loc)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Token{}, fmt.Errorf("%w: %s", ErrNoToken, loc)
	}
	if err != nil {
		return Token{}, fmt.Errorf("read token of %s: %w", loc, err)
	}
	var rec sealed
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return Token{}, fmt.Errorf("decode token record of %s: %w", loc, ErrTampered)
	}
	plain, err := s.keys.open(loc, rec)
	if err != nil {
		return Token{}, fmt.Errorf("open token of %s: %w", loc, err)
	}
	var t Token
	if err := json.Unmarshal(plain, &t); err != nil {
		return Token{}, fmt.Errorf("decode token of %s: %w", loc, ErrTampered)
	}
	return t, nil
}

// tokenTimeout bounds one read of the tokens bucket by a TokenSource.
const tokenTimeout = 5 * time.Second

// TokenSource returns the bearer of a location for the HighLevel client. It
// reads the stored record on every call, so a token replaced by another
// process (a rotated PIT, a refresh elsewhere) is used at once.
func (s *Store) TokenSource(loc string) oauth2.TokenSource {
	return tokenSource{s: s, loc: loc}
}

type tokenSource struct {
	s   *Store
	loc string
}

func (ts tokenSource) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	t, err := ts.s.Token(ctx, ts.loc)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: "Bearer", Expiry: t.ExpiresAt}, nil
}
