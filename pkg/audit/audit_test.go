package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Entries are listed newest first, a page at a time, all of them or one
// location's; an entry without who or what is refused.
func TestRecordAndList(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	log := audit.New(env.JS, func() time.Time { return at })
	for i, e := range []audit.Entry{
		{Who: audit.ByOperator, Action: audit.ActionConnect, Location: "Loc1"},
		{Who: "key:0011aabb", Action: audit.ActionPause, Location: "Loc2"},
		{Who: audit.ByOperator, Action: audit.ActionPause, Location: "Loc1"},
		{Who: "key:0011aabb", Action: audit.ActionReplay},
		{Who: audit.ByOperator, Action: audit.ActionResume, Location: "Loc1"},
	} {
		at = at.Add(time.Minute)
		if err := log.Record(ctx, e); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	if err := log.Record(ctx, audit.Entry{Action: audit.ActionPause}); err == nil {
		t.Error("an entry without who was recorded")
	}

	page, next, err := log.List(ctx, audit.Filter{Limit: 2})
	if err != nil || len(page) != 2 || page[0].Action != audit.ActionResume || page[1].Action != audit.ActionReplay || next == 0 {
		t.Fatalf("first page: %+v, next %d, %v", page, next, err)
	}
	if !page[0].At.Equal(time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC)) || page[0].Seq == 0 {
		t.Errorf("newest entry: %+v", page[0])
	}
	page, next, err = log.List(ctx, audit.Filter{Limit: 2, Before: next})
	if err != nil || len(page) != 2 || page[0].Location != "Loc1" || page[1].Location != "Loc2" || next == 0 {
		t.Fatalf("second page: %+v, next %d, %v", page, next, err)
	}
	page, next, err = log.List(ctx, audit.Filter{Location: "Loc1", Limit: 10})
	if err != nil || len(page) != 3 || next != 0 {
		t.Fatalf("Loc1's entries: %+v, next %d, %v", page, next, err)
	}
	for i, want := range []string{audit.ActionResume, audit.ActionPause, audit.ActionConnect} {
		if page[i].Action != want || page[i].Location != "Loc1" {
			t.Errorf("Loc1's entry %d: %+v, want %s", i, page[i], want)
		}
	}
}
