package ratelimit

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
)

// A location nobody asked a permit for in IdleTTL leaves the process's
// memory (at the next sweep, every half IdleTTL), unless one of its
// permits is open: a process serving many
// locations over time holds the state of the busy ones only.
func TestIdleLocationsAreEvicted(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	var mu sync.Mutex
	now := time.Date(2026, time.March, 11, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g, err := Open(ctx, env.JS, Config{Max: 10, Window: time.Second, IdleTTL: 5 * time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	held := func() []string {
		g.mu.Lock()
		defer g.mu.Unlock()
		var ids []string
		for id := range g.resources {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}
	// settled waits until loc's pump has written its releases.
	settled := func(loc string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			g.mu.Lock()
			r := g.resources[loc]
			g.mu.Unlock()
			r.mu.Lock()
			done := !r.pumping && len(r.pending) == 0
			r.mu.Unlock()
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: releases not written after 5s", loc)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	open, err := g.Acquire(ctx, "locopen")
	if err != nil {
		t.Fatal(err)
	}
	done, err := g.Acquire(ctx, "locdone")
	if err != nil {
		t.Fatal(err)
	}
	done(ghl.ResponseInfo{StatusCode: 200, Attempt: 1})
	settled("locdone")

	advance(4 * time.Minute)
	if err := g.Check("locnew"); err != nil {
		t.Fatal(err)
	}
	if got, want := held(), []string{"locdone", "locnew", "locopen"}; !slices.Equal(got, want) {
		t.Errorf("after 4 minutes: %v in memory, want %v", got, want)
	}
	// Memory is swept every half IdleTTL.
	advance(4 * time.Minute)
	if err := g.Check("locnew"); err != nil {
		t.Fatal(err)
	}
	if got, want := held(), []string{"locnew", "locopen"}; !slices.Equal(got, want) {
		t.Errorf("after 8 minutes: %v in memory, want %v (the idle one evicted, the open one kept)", got, want)
	}

	open(ghl.ResponseInfo{StatusCode: 200, Attempt: 1})
	settled("locopen")
	advance(6 * time.Minute)
	if err := g.Check("locnew"); err != nil {
		t.Fatal(err)
	}
	if got, want := held(), []string{"locnew"}; !slices.Equal(got, want) {
		t.Errorf("6 minutes after the release: %v in memory, want %v", got, want)
	}
	// An evicted location starts again from the bucket.
	h, err := g.Headroom(ctx, "locopen")
	if err != nil {
		t.Fatal(err)
	}
	if h.DailyUsed != 1 {
		t.Errorf("the evicted location's budget: %+v, want its day's one permit", h)
	}
}
