package reconcile

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/relations"
)

func TestCompare(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old, fresh := now.Add(-time.Hour), now.Add(-10*time.Second)
	st := func(applied ...string) relations.ContactState {
		return relations.ContactState{Posts: map[string][]string{"p1": {"Sale"}}, Applied: applied}
	}
	known := map[string]Contact{
		"c1": {ID: "c1", State: st("social:sale"), WrittenAt: old},   // holds it: fine
		"c2": {ID: "c2", State: st("social:sale"), WrittenAt: old},   // removed by hand: missing
		"c3": {ID: "c3", State: st(), WrittenAt: old},                // carries it, not given: stale
		"c4": {ID: "c4", State: st("social:sale"), WrittenAt: fresh}, // just written: left out
		"c5": {ID: "c5", State: relations.ContactState{Removed: map[string]relations.Removal{"social:sale": {}}}, WrittenAt: old},
	}
	drift, recent := Compare("social:sale", known, []string{"c1", "c3", "c5", "x9"}, now.Add(-Lag))
	want := []relations.DriftItem{
		{Kind: Missing, Contact: "c2", Tag: "social:sale"},
		{Kind: Stale, Contact: "c3", Tag: "social:sale"},
		{Kind: Foreign, Contact: "x9", Tag: "social:sale"},
	}
	if d := cmp.Diff(want, drift); d != "" {
		t.Errorf("drift (-want +got):\n%s", d)
	}
	if recent != 1 {
		t.Errorf("recent = %d, want 1", recent)
	}
}

func TestEstimate(t *testing.T) {
	var contacts []Contact
	for range 1200 {
		contacts = append(contacts, Contact{State: relations.ContactState{Applied: []string{"social:a"}}})
	}
	tagOf := func(n string) string { return "social:" + n }
	tags := Tags(contacts, []string{"a", "b"}, tagOf)
	if d := cmp.Diff([]string{"social:a", "social:b"}, tags); d != "" {
		t.Fatalf("tags (-want +got):\n%s", d)
	}
	got := Estimate(contacts, tags, Budget{Max: 100, Window: 10 * time.Second, Daily: 200_000})
	want := relations.ReconcileCost{Tags: 2, Contacts: 1200, SearchCalls: 4, MaxWrites: 1200, AtBudgetSeconds: 10, DailyShare: 4.0 / 200_000}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("estimate (-want +got):\n%s", d)
	}
}
