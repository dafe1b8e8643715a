package creds

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// markNeedsReauth marks loc, whose lease e holds, as needing
// re-authorisation: in its token record (which releases the lease), in its
// location record, and with a LocationStateChanged. It returns the
// *NeedsReauthError every later TokenSource call returns, without calling
// HighLevel. When the location was connected again meanwhile, it returns
// the new token instead.
func (s *Store) markNeedsReauth(ctx context.Context, loc string, e entry, reason string) (Token, error) {
	now := s.now().UTC()
	mark := &NeedsReauthError{Location: loc, Reason: reason, Since: now}
	e.rec.Lease, e.rec.Pause, e.rec.Reauth = nil, nil, &reauthMark{Reason: reason, Since: now}
	for rev := e.rev; ; {
		_, err := s.update(ctx, loc, e.rec, rev)
		if err == nil {
			break
		}
		if !conflict(err) {
			// The lease expires on its own; the next refresher meets the
			// same refusal and marks the location then.
			s.opts.log.Error("mark location as needing re-authorisation", "location", loc, "err", err)
			return Token{}, mark
		}
		cur, err := s.read(ctx, loc)
		switch {
		case err != nil:
			return Token{}, mark
		case cur.rec.Reauth != nil:
			return Token{}, &NeedsReauthError{Location: loc, Reason: cur.rec.Reauth.Reason, Since: cur.rec.Reauth.Since}
		case cur.tok.RefreshToken != e.tok.RefreshToken:
			return cur.tok, nil // connected again meanwhile
		}
		rev = cur.rev // a lease taken over meanwhile: the refresh token is spent all the same
	}
	s.opts.log.Warn("location needs re-authorisation", "location", loc, "reason", reason)
	s.setState(ctx, loc, StateNeedsReauth, reason)
	return Token{}, mark
}

// setState moves loc's location record to state, and publishes the change.
// A location already in state is left alone, so one transition makes one
// event however many processes observe it.
func (s *Store) setState(ctx context.Context, loc string, state State, reason string) {
	ctx = context.WithoutCancel(ctx)
	var prev State
	now := s.now().UTC()
	rev, changed, err := s.updateLocation(ctx, loc, func(l *Location) bool {
		if l.State == state {
			return false
		}
		prev = l.State
		l.State, l.Reason, l.StateSince = state, reason, now
		if state == StateActive {
			l.Reason = ""
		}
		return true
	})
	if err != nil {
		s.opts.log.Warn("update location state", "location", loc, "err", err)
		return
	}
	if changed {
		s.publishState(ctx, loc, state, prev, reason, now, rev)
	}
}

// publishState publishes a LocationStateChanged. rev, the location
// record's revision after the change, makes its Nats-Msg-Id.
func (s *Store) publishState(ctx context.Context, loc string, state, prev State, reason string, at time.Time, rev uint64) {
	subject, err := topology.LocationEvents.Subject(loc)
	if err != nil {
		return
	}
	msg := &socialsyncv1.LocationStateChanged{
		LocationId: loc, State: stateToProto(state), PreviousState: stateToProto(prev),
		Reason: reason, Timestamp: timestamppb.New(at),
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
	defer cancel()
	if _, err := s.events.Publish(ctx, subject, msg, bus.WithMsgID(fmt.Sprintf("creds.%s.%s.%d", loc, state, rev))); err != nil {
		s.opts.log.Warn("publish location state", "location", loc, "state", string(state), "err", err)
	}
}

func stateToProto(st State) socialsyncv1.LocationState {
	switch st {
	case StateActive:
		return socialsyncv1.LocationState_LOCATION_STATE_ACTIVE
	case StateNeedsReauth:
		return socialsyncv1.LocationState_LOCATION_STATE_NEEDS_REAUTH
	}
	return socialsyncv1.LocationState_LOCATION_STATE_UNSPECIFIED
}
