package creds

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"golang.org/x/oauth2"
)

// readTimeout bounds the read of the tokens bucket on a TokenSource's fast
// path.
const readTimeout = 5 * time.Second

// TokenSource returns the bearer of a location for the HighLevel client. It
// reads the stored record on every call, so a token replaced by another
// process (a rotated PIT, a refresh elsewhere) is used at once. An OAuth
// access token due for refresh is refreshed first, by one process of the
// fleet (see the package documentation); a location that needs
// re-authorisation fails at once with a *NeedsReauthError.
//
// The source also implements Invalidate(token string), which the HighLevel
// client calls after a 401: the next Token refreshes the rejected token.
//
// Errors that a later attempt may not meet (a bucket that did not answer,
// a refresh that another process is still running, a 429 from the token
// endpoint) answer RetryAfter (the method the bus reads to settle a
// message), so a message whose call failed on them is delivered again
// instead of dead-lettered.
func (s *Store) TokenSource(loc string) oauth2.TokenSource {
	return tokenSource{s: s, loc: loc}
}

type tokenSource struct {
	s   *Store
	loc string
}

// Token implements oauth2.TokenSource.
func (ts tokenSource) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	t, err := ts.s.usable(ctx, ts.loc)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: "Bearer", Expiry: t.ExpiresAt}, nil
}

// Invalidate records that HighLevel answered 401 to token: if it is still
// the stored access token on the next call, and older than the
// unauthorized grace, it is refreshed before anything else is handed out.
// Other processes learn of the new token from the store.
func (ts tokenSource) Invalidate(token string) {
	if token != "" {
		ts.s.rejected.Store(ts.loc, sha256.Sum256([]byte(token)))
	}
}

// usable returns loc's access token, refreshing it first when it is due.
func (s *Store) usable(ctx context.Context, loc string) (Token, error) {
	e, err := s.read(ctx, loc)
	if err != nil {
		return Token{}, readFailure(err)
	}
	if m := e.rec.Reauth; m != nil {
		return Token{}, &NeedsReauthError{Location: loc, Reason: m.Reason, Since: m.Since}
	}
	if refresh, _ := s.due(loc, e.tok, s.now()); !refresh {
		return e.tok, nil
	}
	v, err, _ := s.flight.Do(loc, func() (any, error) { return s.renew(loc) })
	if err != nil {
		return Token{}, err
	}
	return v.(Token), nil
}

// due reports whether t should be refreshed now, and whether it may still
// be used meanwhile.
func (s *Store) due(loc string, t Token, now time.Time) (refresh, usable bool) {
	if t.ExpiresAt.IsZero() {
		return false, true // a PIT, or a token that does not expire
	}
	life := lifetime(t)
	skew := min(time.Second, life/8)
	rejected := s.wasRejected(loc, t, now, life)
	usable = !rejected && now.Before(t.ExpiresAt.Add(-skew))
	margin := s.opts.refreshMargin
	if life > 0 {
		margin = min(margin, life/2)
	}
	refresh = rejected || !now.Before(t.ExpiresAt.Add(-margin))
	return refresh, usable
}

// lifetime is how long t was issued for; 0 when unknown.
func lifetime(t Token) time.Duration {
	if t.ObtainedAt.IsZero() || !t.ExpiresAt.After(t.ObtainedAt) {
		return 0
	}
	return t.ExpiresAt.Sub(t.ObtainedAt)
}

// wasRejected reports whether HighLevel answered 401 to t's access token
// (Invalidate) and t is old enough for that to call for a refresh. A mark
// that no longer applies is dropped.
func (s *Store) wasRejected(loc string, t Token, now time.Time, life time.Duration) bool {
	v, ok := s.rejected.Load(loc)
	if !ok {
		return false
	}
	grace := s.opts.unauthorizedGrace
	if life > 0 {
		grace = min(grace, life/4)
	}
	if v.([32]byte) != sha256.Sum256([]byte(t.AccessToken)) || (!t.ObtainedAt.IsZero() && now.Sub(t.ObtainedAt) < grace) {
		s.rejected.CompareAndDelete(loc, v)
		return false
	}
	return true
}

// readFailure marks a failed read of the tokens bucket as retryable, unless
// it is about the record itself (missing, tampered, sealed under a key
// that is gone), which no retry fixes.
func readFailure(err error) error {
	for _, permanent := range []error{ErrNoToken, ErrTampered, ErrUnknownKey, ErrInvalidLocation} {
		if errors.Is(err, permanent) {
			return err
		}
	}
	return retryLater(err, 0)
}
