package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
)

// A pump that sleeps until its background waiter's permit (a window
// away: recent interactive work keeps the interactive reserve free) is
// woken by an interactive caller whose permit is free now, and serves it
// at once. Its sleeps here never end by themselves (nap), so only that
// wake can serve the caller; before it, a 3-replica backlog's last window
// sat idle for up to a second (maxPumpSleep) while a replica's merged
// writes waited behind a catalogue refresh's background permit.
func TestInteractiveCallerWakesAPumpNappingForTheBackground(t *testing.T) {
	nap = func(time.Duration) <-chan time.Time { return nil }
	t.Cleanup(func() { nap = after })
	be := bustest.Start(t, topology.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := Open(ctx, be.JS, Config{Max: 10, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	const loc = "wakeLoc000000000001"
	interactive, background := ghl.WithLane(ctx, ghl.LaneInteractive), ghl.WithLane(ctx, ghl.LaneBackground)
	// 9 of 10 held by interactive permits: the background may not take
	// the last (the reserve), the interactive lane may.
	for range 9 {
		release, err := g.Acquire(interactive, loc)
		if err != nil {
			t.Fatal(err)
		}
		release(ghl.ResponseInfo{StatusCode: 200})
	}
	bgDone := make(chan error, 1)
	go func() {
		release, err := g.Wait(background, loc)
		if err == nil {
			release(ghl.ResponseInfo{StatusCode: 200})
		}
		bgDone <- err
	}()
	r, err := g.resource(loc)
	if err != nil {
		t.Fatal(err)
	}
	napping := func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.napping && r.napLanes[ghl.LaneBackground] && !r.napLanes[ghl.LaneInteractive]
	}
	for deadline := time.Now().Add(30 * time.Second); !napping(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the pump never slept for the background waiter's permit")
		}
	}
	actx, acancel := context.WithTimeout(interactive, 20*time.Second)
	defer acancel()
	release, err := g.Acquire(actx, loc)
	if err != nil {
		t.Fatalf("interactive caller while the pump sleeps for the background: %v, want its free permit", err)
	}
	release(ghl.ResponseInfo{StatusCode: 200})
	select {
	case err := <-bgDone:
		t.Fatalf("the background waiter was served (%v): the window was full", err)
	default:
	}
}
