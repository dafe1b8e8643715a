package automation_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// ApplyWithin replaces and prunes only the stored definitions its caller
// may touch, and never overwrites one that changed after it was checked.
func TestApplyWithin(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	parse := func(yaml string) automation.Parsed {
		t.Helper()
		p, err := automation.Segments.Parse("test", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	seg := func(name, locs string) string {
		return fmt.Sprintf("  - name: %s\n    anyTags: [\"social:a\"]\n    locations: [%s]\n", name, locs)
	}
	if _, err := parse("segments:\n"+seg("theirs", "L2")+seg("mine", "L1")+seg("old", "L1")).Apply(ctx, env.JS, false); err != nil {
		t.Fatal(err)
	}
	onlyL1 := func(locs []string) bool {
		return len(locs) > 0 && !slices.ContainsFunc(locs, func(l string) bool { return l != "L1" })
	}
	names := func() string {
		t.Helper()
		stored, err := automation.Segments.List(ctx, env.JS)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range stored {
			out = append(out, s.Name+"@"+fmt.Sprint(s.Locations))
		}
		return fmt.Sprint(out)
	}

	// Replacing another location's definition: refused, nothing stored.
	_, err := parse("segments:\n"+seg("theirs", "L1")).ApplyWithin(ctx, env.JS, false, onlyL1)
	if !errors.Is(err, automation.ErrOutside) {
		t.Errorf("replace theirs: %v; want ErrOutside", err)
	}
	// A prune within L1 deletes old, not theirs.
	applied, err := parse("segments:\n"+seg("mine", "L1")).ApplyWithin(ctx, env.JS, true, onlyL1)
	var actions []string
	for _, a := range applied {
		actions = append(actions, a.Name+" "+a.Action)
	}
	if err != nil || fmt.Sprint(actions) != "[mine unchanged old deleted]" {
		t.Errorf("prune within L1: %v %v", applied, err)
	}
	if got := names(); got != "[mine@[L1] theirs@[L2]]" {
		t.Errorf("stored: %s", got)
	}
	// A definition written by someone else between the check and the
	// write (here, inside the check) is not overwritten.
	_, err = parse("segments:\n"+seg("mine", "L1")+"    postedWithinDays: 3\n").ApplyWithin(ctx, env.JS, false, func(locs []string) bool {
		if _, err := parse("segments:\n"+seg("mine", "L2")).Apply(ctx, env.JS, false); err != nil {
			t.Fatal(err)
		}
		return onlyL1(locs)
	})
	if !errors.Is(err, automation.ErrChanged) {
		t.Errorf("concurrent change: %v; want ErrChanged", err)
	}
	if got := names(); got != "[mine@[L2] theirs@[L2]]" {
		t.Errorf("stored after the lost race: %s", got)
	}
}
