package creds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Refresher trades a refresh token for new tokens at HighLevel's token
// endpoint. clientID names the Marketplace app the token was issued to;
// the Refresher holds that app's secret (configuration, never the store).
type Refresher interface {
	Refresh(ctx context.Context, clientID, refreshToken, userType string) (ghl.Token, error)
}

// NewRefresher returns a Refresher calling c.RefreshToken with the
// credentials of apps. c needs no token source: POST /oauth/token takes
// none. A token of another app fails with ErrUnknownApp.
func NewRefresher(c *ghl.Client, apps ...ghl.AppCredentials) Refresher {
	r := ghlRefresher{c: c, apps: map[string]ghl.AppCredentials{}}
	for _, a := range apps {
		if a.ClientID != "" && a.ClientSecret != "" {
			r.apps[a.ClientID] = a
		}
	}
	return r
}

type ghlRefresher struct {
	c    *ghl.Client
	apps map[string]ghl.AppCredentials
}

func (r ghlRefresher) Refresh(ctx context.Context, clientID, refreshToken, userType string) (ghl.Token, error) {
	app, ok := r.apps[clientID]
	if !ok {
		return ghl.Token{}, fmt.Errorf("%w (client id %q)", ErrUnknownApp, clientID)
	}
	return r.c.RefreshToken(ctx, app, refreshToken, userType)
}

// pollInterval is how often a process waiting for another's refresh reads
// the record again.
const pollInterval = 50 * time.Millisecond

// renew is the slow path of a TokenSource: loc's token is due. It takes
// the lease and refreshes, or uses the current token while another
// process refreshes, or waits for that refresh when the current token is
// no longer usable. Callers of one process share one renew per location.
func (s *Store) renew(loc string) (Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.waitTimeout+3*s.opts.refreshTimeout)
	defer cancel()
	waitUntil := s.now().Add(s.opts.waitTimeout)
	// The loop is no retry of one operation but a state machine: every
	// turn reads the record again and decides anew. Only its two waits are
	// backoffs: for another process's refresh, and after losing the race
	// for the lease.
	polls, races := pollBackOff(pollInterval), pollBackOff(pollInterval/5)
	for {
		e, err := s.read(ctx, loc)
		if err != nil {
			return Token{}, readFailure(err)
		}
		if m := e.rec.Reauth; m != nil {
			return Token{}, &NeedsReauthError{Location: loc, Reason: m.Reason, Since: m.Since}
		}
		now := s.now()
		refresh, usable := s.due(loc, e.tok, now)
		switch {
		case !refresh:
			return e.tok, nil
		case s.opts.refresher == nil && usable:
			return e.tok, nil
		case s.opts.refresher == nil:
			return Token{}, fmt.Errorf("refresh token of %s: %w", loc, ErrNoRefresher)
		case e.rec.Pause.active(now) && usable:
			return e.tok, nil
		case e.rec.Pause.active(now):
			p := e.rec.Pause
			return Token{}, retryLater(fmt.Errorf("token of %s expired and its refresh is paused until %s after %d failures: %s",
				loc, p.Until.Format(time.RFC3339), p.Failures, p.Reason), p.Until.Sub(now))
		case e.rec.Lease.heldByOther(s.opts.owner, now) && usable:
			return e.tok, nil
		case e.rec.Lease.heldByOther(s.opts.owner, now):
			if now.After(waitUntil) {
				return Token{}, retryLater(fmt.Errorf("token of %s expired and %s is still refreshing it", loc, e.rec.Lease.Owner), time.Second)
			}
			if err := sleep(ctx, polls.NextBackOff()); err != nil {
				return Token{}, retryLater(fmt.Errorf("wait for the refresh of %s's token: %w", loc, err), time.Second)
			}
			continue
		}
		held := e
		held.rec.Lease = &lease{Owner: s.opts.owner, Until: now.Add(s.opts.leaseTTL).UTC()}
		held.rev, err = s.update(ctx, loc, held.rec, e.rev)
		switch {
		case err == nil:
			tok, err := s.refresh(ctx, loc, held)
			s.refreshes.count(err)
			return tok, err
		case conflict(err) && usable:
			return e.tok, nil // another process got there first
		case conflict(err):
			if err := sleep(ctx, races.NextBackOff()); err != nil {
				return Token{}, retryLater(fmt.Errorf("wait for the refresh of %s's token: %w", loc, err), time.Second)
			}
		default:
			return Token{}, retryLater(err, 0)
		}
	}
}

// outcome sorts the result of a call to the token endpoint.
type outcome int

const (
	refreshed   outcome = iota
	rejected            // invalid_grant or another definitive 4xx: the refresh token is dead
	unprocessed         // 429, no connection, or a configuration problem: the refresh token is intact
	lost                // sent, but no usable answer (timeout, reset, 5xx): the refresh token may be spent
)

// refresh calls the token endpoint under the lease held on e and stores
// the result. A lost answer is followed by one more call with the same
// refresh token: it succeeds if the first call never reached HighLevel,
// and is rejected if it did, which settles whether the token is spent. A
// rejection marks the location as needing re-authorisation; a failure
// that settles nothing (a 429, no connection, no answer twice) pauses
// refreshes of the location with a backoff, so the fleet does not hammer
// the token endpoint, and the next attempt after the pause settles it.
func (s *Store) refresh(ctx context.Context, loc string, e entry) (Token, error) {
	old := e.tok
	if old.RefreshToken == "" {
		return s.markNeedsReauth(ctx, loc, e, "no refresh token is stored for the location")
	}
	t, out, err := s.callRefresh(ctx, old)
	if out == lost {
		first := describe(err)
		s.opts.log.Warn("token refresh answer lost; asking once more", "location", loc, "err", first)
		if e, err = s.extendLease(ctx, loc, e); err != nil {
			return Token{}, retryLater(fmt.Errorf("refresh token of %s: %w", loc, err), time.Second)
		}
		t, out, err = s.callRefresh(ctx, old)
		switch out {
		case rejected:
			return s.markNeedsReauth(ctx, loc, e, "the answer to a token refresh was lost ("+first+") and the refresh token is spent")
		case lost:
			// The token endpoint is not answering: whether the refresh
			// token is spent is unknown, and marking every location that
			// comes due during an outage would be wrong. A later attempt,
			// after a pause, settles it.
			reason := "no answer from the token endpoint (" + first + ", then " + describe(err) + ")"
			return Token{}, s.pause(ctx, loc, e, reason, 0, err)
		}
	}
	switch out {
	case refreshed:
		return s.persist(ctx, loc, e, t)
	case rejected:
		return s.markNeedsReauth(ctx, loc, e, "HighLevel rejected the refresh token ("+describe(err)+")")
	}
	return Token{}, s.pause(ctx, loc, e, describe(err), retryAfter(err), err)
}

// Backoff of the pauses after failed refreshes: pauseBase, doubling with
// every failure up to pauseMax. It is a function of the failure count, not
// a backoff/v4 BackOff: the count lives in the location's record, shared
// by every process, and the next refresh after a pause may be another
// process's, while a BackOff keeps its state in one process.
const (
	pauseBase = 5 * time.Second
	pauseMax  = 5 * time.Minute
)

// pause releases the lease on e and holds further refreshes of loc back,
// for wait or the backoff of the failures so far, whichever is longer. It
// returns cause, wrapped: for a retry after the pause, unless the app's
// credentials were refused, which calls for the operator.
func (s *Store) pause(ctx context.Context, loc string, e entry, reason string, wait time.Duration, cause error) error {
	failures := 1
	if e.rec.Pause != nil {
		failures = e.rec.Pause.Failures + 1
	}
	backoff := pauseMax
	if failures <= 6 {
		backoff = min(pauseBase<<(failures-1), pauseMax)
	}
	until := s.now().Add(max(wait, backoff)).UTC()
	e.rec.Lease, e.rec.Pause = nil, &pause{Until: until, Failures: failures, Reason: reason}
	if _, err := s.update(context.WithoutCancel(ctx), loc, e.rec, e.rev); err != nil {
		s.opts.log.Warn("pause token refreshes", "location", loc, "err", err)
	}
	err := fmt.Errorf("refresh token of %s (paused until %s): %w", loc, until.Format(time.RFC3339), cause)
	if errors.Is(cause, ErrUnknownApp) || ghl.IsAuth(cause) {
		s.opts.log.Error("token refresh refused: check the app credentials", "location", loc, "err", err)
		return err
	}
	s.opts.log.Warn("token refresh failed; paused", "location", loc, "reason", reason, "until", until, "failures", failures)
	return retryLater(err, until.Sub(s.now()))
}

// callRefresh asks the Refresher once, bounded by the refresh timeout and
// detached from the caller's cancellation: a refresh abandoned midway may
// have spent the refresh token.
func (s *Store) callRefresh(ctx context.Context, old Token) (Token, outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.refreshTimeout)
	defer cancel()
	issued := s.now()
	gt, err := s.opts.refresher.Refresh(ctx, old.ClientID, old.RefreshToken, old.UserType)
	if err != nil {
		return Token{}, classifyRefresh(err), err
	}
	if gt.AccessToken == "" || gt.RefreshToken == "" {
		return Token{}, lost, errors.New("token endpoint answered without a token")
	}
	t := TokenFromGHL(gt, old.ClientID, issued)
	if t.UserType == "" {
		t.UserType = old.UserType
	}
	if t.CompanyID == "" {
		t.CompanyID = old.CompanyID
	}
	if t.Scope == "" {
		t.Scope = old.Scope
	}
	return t, refreshed, nil
}

// classifyRefresh sorts a failed refresh by what it did to the refresh
// token.
func classifyRefresh(err error) outcome {
	var ge *ghl.Error
	switch {
	case errors.Is(err, ErrUnknownApp):
		return unprocessed
	case errors.As(err, &ge):
		switch ge.Kind {
		case ghl.KindRateLimited:
			return unprocessed
		case ghl.KindAuth:
			if ge.Code == "invalid_grant" {
				return rejected
			}
			return unprocessed // invalid_client: the app's credentials, not the location's
		case ghl.KindRetryable:
			if ge.StatusCode == 0 && notSent(ge.Err) {
				return unprocessed
			}
			return lost
		default:
			return rejected
		}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return lost
	}
	return unprocessed
}

// notSent reports a transport error from before the request could reach
// the server.
func notSent(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED)
}

// describe names a refresh failure in words safe to store and log: a
// status and an OAuth error code, never a message the server wrote.
func describe(err error) string {
	var ge *ghl.Error
	switch {
	case errors.As(err, &ge) && ge.StatusCode != 0 && ge.Code != "":
		return fmt.Sprintf("%d %s", ge.StatusCode, ge.Code)
	case errors.As(err, &ge) && ge.StatusCode != 0:
		return fmt.Sprintf("%d %s", ge.StatusCode, http.StatusText(ge.StatusCode))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer within the refresh timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer"
	}
	return "no usable answer"
}

// retryAfter is the wait a 429 from the token endpoint asked for.
func retryAfter(err error) time.Duration {
	if d, ok := ghl.IsRateLimited(err); ok && d > 0 {
		return d
	}
	return time.Second
}

// persist stores t, the refreshed token, over the leased record e. Only
// once it is stored is it handed out. If the lease was lost meanwhile (the
// refresh outlived it and another process took over), t is stored anyway
// when the record still holds the refresh token t replaced: that token is
// spent, so nothing stored is better than t.
func (s *Store) persist(ctx context.Context, loc string, e entry, t Token) (Token, error) {
	rec, err := s.sealToken(loc, t)
	if err != nil {
		return Token{}, err
	}
	rev, healed, superseded := e.rev, false, false
	// store tries until the record is written, reading it again at once
	// after a lost race; any other failure is tried again after a wait.
	store := func() error {
		for {
			_, err := s.update(ctx, loc, rec, rev)
			if !conflict(err) {
				return err
			}
			cur, err := s.read(ctx, loc)
			if err != nil {
				return err
			}
			if cur.tok.RefreshToken != e.tok.RefreshToken {
				superseded = true // connected again meanwhile: the stored pair wins
				return nil
			}
			// A process that took over the lease may have found the refresh
			// token spent (by this refresh) and marked the location: t heals it.
			rev, healed = cur.rev, cur.rec.Reauth != nil
		}
	}
	if err := backoff.Retry(store, backoff.WithContext(pollBackOff(pollInterval), ctx)); err != nil {
		s.opts.log.Error("refreshed token could not be stored; the location will need re-authorisation", "location", loc, "err", err)
		return Token{}, retryLater(fmt.Errorf("store refreshed token of %s: %w", loc, err), time.Second)
	}
	if superseded {
		return t, nil
	}
	s.opts.log.Info("token refreshed", "location", loc, "expires_at", t.ExpiresAt)
	if healed {
		s.setState(ctx, loc, StateActive, "the lost refresh was stored after all")
	}
	s.recordCompany(ctx, loc, t.CompanyID)
	return t, nil
}

// recordCompany writes company into loc's location record when the record
// names none: a location connected before records carried their company
// gets it from its next refresh, for webhook sources bound to the company.
// A failure is logged; the next refresh tries again.
func (s *Store) recordCompany(ctx context.Context, loc, company string) {
	if company == "" || company == loc { // an agency's own token
		return
	}
	_, _, err := s.updateLocation(ctx, loc, func(l *Location) bool {
		if l.CompanyID != "" {
			return false
		}
		l.CompanyID = company
		return true
	})
	if err != nil {
		s.opts.log.Warn("record the company of a location", "location", loc, "err", err)
	}
}

// extendLease renews the lease on e before a second call to the token
// endpoint; it fails when the lease was lost.
func (s *Store) extendLease(ctx context.Context, loc string, e entry) (entry, error) {
	e.rec.Lease = &lease{Owner: s.opts.owner, Until: s.now().Add(s.opts.leaseTTL).UTC()}
	rev, err := s.update(ctx, loc, e.rec, e.rev)
	if err != nil {
		return e, fmt.Errorf("extend refresh lease: %w", err)
	}
	e.rev = rev
	return e, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pollBackOff waits d ± 50% every time (the jitter keeps processes out of
// step), without end: the caller's context bounds it.
func pollBackOff(d time.Duration) backoff.BackOff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(d),
		backoff.WithMaxInterval(d),
		backoff.WithMultiplier(1),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0),
	)
	b.Reset()
	return b
}
