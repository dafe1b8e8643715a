package creds

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
)

// AuthRequest is an authorization socialsync started for the hosted OAuth
// flow (`socialsync connect --hosted`): what the callback that carries its
// state connects. It holds no secret; the state itself is not stored, only
// its SHA-256, so reading the bucket does not let anyone answer for it.
type AuthRequest struct {
	// UserType is ghl.UserTypeLocation or ghl.UserTypeCompany.
	UserType string `json:"userType"`
	// Location is the location asked for; empty lets HighLevel's page
	// choose.
	Location string `json:"locationId,omitempty"`
	Name     string `json:"name,omitempty"`
	Timezone string `json:"timezone,omitempty"`
	// RedirectURI is the redirect URI of the authorization URL, which the
	// code exchange repeats.
	RedirectURI string    `json:"redirectUri"`
	IssuedAt    time.Time `json:"issuedAt"`
}

// AuthRequests keeps the hosted OAuth flow's pending authorizations in
// topology.BucketOAuthStates, each for topology.OAuthStateTTL and used at
// most once. The operator CLI issues them; the gateway takes them.
type AuthRequests struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// OpenAuthRequests returns the pending authorizations of js's bucket. Of
// the options, only WithClock applies.
func OpenAuthRequests(ctx context.Context, js jetstream.JetStream, opts ...Option) (*AuthRequests, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, topology.BucketOAuthStates)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", topology.BucketOAuthStates, err)
	}
	return &AuthRequests{kv: kv, now: o.now}, nil
}

// Issue stores r and returns the state its authorization URL carries: 256
// random bits (crypto/rand.Text, twice).
func (a *AuthRequests) Issue(ctx context.Context, r AuthRequest) (string, error) {
	if r.UserType != ghl.UserTypeLocation && r.UserType != ghl.UserTypeCompany {
		return "", fmt.Errorf("creds: user type: want Location or Company, got %q", r.UserType)
	}
	state := rand.Text() + rand.Text()
	r.IssuedAt = a.now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode authorization request: %w", err)
	}
	if _, err := a.kv.Create(ctx, stateKey(state), b); err != nil {
		return "", fmt.Errorf("store authorization request: %w", err)
	}
	return state, nil
}

// Take returns the request state was issued for and forgets it: a second
// Take of the same state, even a concurrent one, fails with
// ErrUnknownState, as does a state never issued or issued more than
// topology.OAuthStateTTL ago.
func (a *AuthRequests) Take(ctx context.Context, state string) (AuthRequest, error) {
	if state == "" || len(state) > 256 {
		return AuthRequest{}, ErrUnknownState
	}
	key := stateKey(state)
	e, err := a.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return AuthRequest{}, ErrUnknownState
	}
	if err != nil {
		return AuthRequest{}, fmt.Errorf("read authorization request: %w", err)
	}
	// The delete at the revision read is the single use: of two callbacks
	// with one state, one deletes, the other fails here.
	err = a.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
	if errors.Is(err, jetstream.ErrKeyExists) || conflict(err) {
		return AuthRequest{}, ErrUnknownState
	}
	if err != nil {
		return AuthRequest{}, fmt.Errorf("use authorization request: %w", err)
	}
	var r AuthRequest
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return AuthRequest{}, fmt.Errorf("decode authorization request: %w", ErrUnknownState)
	}
	if a.now().Sub(r.IssuedAt) > topology.OAuthStateTTL {
		return AuthRequest{}, ErrUnknownState // the bucket's TTL had not swept it yet
	}
	return r, nil
}

// stateKey is the key of a state: the hex SHA-256 of it.
func stateKey(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}
