package creds

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrUnknownLocation is returned for a location that was never added.
	ErrUnknownLocation = errors.New("creds: unknown location")
	// ErrRemoving is returned for a change a location being removed
	// cannot take (Resume).
	ErrRemoving = errors.New("creds: location is being removed")
	// ErrInvalidLocation is returned for a location id that is not letters
	// and digits.
	ErrInvalidLocation = errors.New("creds: invalid location id")
	// ErrNoToken is returned for a location whose token record is missing.
	ErrNoToken = errors.New("creds: no token stored for location")
	// ErrNoMetadata is returned by Directory.Status for a token record
	// stored before records kept their metadata in clear.
	ErrNoMetadata = errors.New("creds: token record predates its clear metadata (run socialsync locations reseal)")
	// ErrBadKey is returned for a token key that is not 32 bytes of base64.
	ErrBadKey = errors.New("creds: token key must be 32 bytes, base64-encoded")
	// ErrUnknownKey is returned for a record sealed under a key the keyring
	// does not hold.
	ErrUnknownKey = errors.New("creds: token record sealed under an unknown key")
	// ErrTampered is returned for a record that fails authentication: it was
	// changed, or moved from another location's key.
	ErrTampered = errors.New("creds: token record failed authentication")
	// ErrNeedsReauth matches every *NeedsReauthError.
	ErrNeedsReauth = errors.New("creds: location needs re-authorisation")
	// ErrNoRefresher is returned when an OAuth access token has expired and
	// the Store was opened without a Refresher (no app credentials).
	ErrNoRefresher = errors.New("creds: no OAuth app credentials to refresh tokens with (SOCIALSYNC_GHL_CLIENT_ID, SOCIALSYNC_GHL_CLIENT_SECRET)")
	// ErrUnknownApp is returned by a Refresher that holds no secret for the
	// app a token was issued to.
	ErrUnknownApp = errors.New("creds: no client secret for the app the token was issued to")
	// ErrStateMismatch is matched by Callback.Wait's error when it gave up
	// after refusing callbacks whose state is not the one the
	// authorization URL carried.
	ErrStateMismatch = errors.New("creds: OAuth callback state does not match the request")
)

// NeedsReauthError is the error of a location that needs re-authorisation:
// its refresh token was rejected or spent. The TokenSource returns it
// without calling HighLevel until the location is connected again. It
// carries no token.
type NeedsReauthError struct {
	Location string
	// Reason says why, in words safe to log.
	Reason string
	// Since is when the location was marked.
	Since time.Time
}

// Error names the location, the reason and the way out.
func (e *NeedsReauthError) Error() string {
	return fmt.Sprintf("creds: location %s needs re-authorisation (since %s): %s; connect it again with socialsync connect",
		e.Location, e.Since.UTC().Format(time.RFC3339), e.Reason)
}

// Is makes errors.Is(err, ErrNeedsReauth) true.
func (e *NeedsReauthError) Is(target error) bool { return target == ErrNeedsReauth }

// retryError is a transient failure (a token another process is
// refreshing, a paused refresh, a failed read of the tokens bucket) that
// asks for another try after after, or after the caller's backoff when it
// is 0, whatever the errors it wraps say. Its RetryAfter method is what
// pkg/bus asks of an error to redeliver the message for that wait.
type retryError struct {
	err   error
	after time.Duration
}

// retryLater marks err as transient, to be tried again after d.
// retryLater(nil, d) is nil.
func retryLater(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryError{err: err, after: d}
}

func (e *retryError) Error() string { return e.err.Error() }

func (e *retryError) Unwrap() error { return e.err }

// RetryAfter returns how long to wait before the next try.
func (e *retryError) RetryAfter() time.Duration { return e.after }

// ErrUnknownState is returned by AuthRequests.Take for a state that was
// never issued, was already used, or is older than
// topology.OAuthStateTTL.
var ErrUnknownState = errors.New("creds: unknown, used or expired OAuth state")

// ErrNoAgency is returned for a company whose agency token socialsync
// does not keep: it was never connected with --user-type Company (or the
// app was uninstalled from it).
var ErrNoAgency = errors.New("creds: no agency token kept for the company (connect it with socialsync connect --user-type Company)")
