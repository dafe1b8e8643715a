package creds_test

import (
	"context"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
)

// A pause is kept in the location record until Resume, survives the
// location being connected again, and a location needing
// re-authorisation is held as well (an automatic pause).
func TestPauseResume(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	s := newStore(t, env, creds.NewKey())
	ctx := context.Background()
	if err := s.AddPIT(ctx, creds.Location{ID: "Loc1"}, pit); err != nil {
		t.Fatal(err)
	}
	held := func() (creds.Hold, bool) {
		t.Helper()
		l, err := s.Location(ctx, "Loc1")
		if err != nil {
			t.Fatal(err)
		}
		return l.Held()
	}
	if _, ok := held(); ok {
		t.Fatal("a new location is held")
	}
	if changed, err := s.Pause(ctx, "Loc1", "operator"); err != nil || !changed {
		t.Fatalf("pause: %v, %v", changed, err)
	}
	first, ok := held()
	if !ok || first.Reason != creds.HoldPaused || first.By != "operator" {
		t.Fatalf("paused: %+v %v", first, ok)
	}
	if changed, err := s.Pause(ctx, "Loc1", "key:1"); err != nil || changed {
		t.Fatalf("second pause: %v, %v; want no change", changed, err)
	}
	// Connecting again keeps the pause.
	if err := s.AddPIT(ctx, creds.Location{ID: "Loc1"}, pit+"2"); err != nil {
		t.Fatal(err)
	}
	if h, ok := held(); !ok || !h.Since.Equal(first.Since) || h.By != "operator" {
		t.Fatalf("after connecting again: %+v %v; want the first pause", h, ok)
	}
	if changed, err := s.Resume(ctx, "Loc1"); err != nil || !changed {
		t.Fatalf("resume: %v, %v", changed, err)
	}
	if h, ok := held(); ok {
		t.Fatalf("resumed, still held: %+v", h)
	}
	if changed, err := s.Resume(ctx, "Loc1"); err != nil || changed {
		t.Fatalf("second resume: %v, %v; want no change", changed, err)
	}
	if _, err := s.Pause(ctx, "Nope1", "operator"); err == nil {
		t.Error("pause of an unknown location: no error")
	}
	reauth := creds.Location{ID: "Loc1", State: creds.StateNeedsReauth, StateSince: time.Unix(100, 0)}
	if h, ok := reauth.Held(); !ok || h.Reason != creds.HoldNeedsReauth || !h.Since.Equal(time.Unix(100, 0)) {
		t.Errorf("needs re-authorisation: %+v %v; want held", h, ok)
	}
}
