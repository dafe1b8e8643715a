package creds_test

import (
	"context"
	"slices"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
)

// A feature turned off stays off (once), leaves the location active, and
// is back on when the location is connected again.
func TestDisableFeature(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	s := newStore(t, env, creds.NewKey())
	ctx := context.Background()
	if err := s.AddPIT(ctx, creds.Location{ID: "Loc1", Name: "One"}, pit); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.DisableFeature(ctx, "Loc1", creds.FeatureLocationTags, "locations/tags.readonly"); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.Location(ctx, "Loc1")
	if err != nil {
		t.Fatal(err)
	}
	d, off := l.FeatureDisabled(creds.FeatureLocationTags)
	if !off || d.Scope != "locations/tags.readonly" || d.Since.IsZero() || len(l.Disabled) != 1 || l.State != creds.StateActive || l.Name != "One" {
		t.Fatalf("location %+v", l)
	}
	if _, off := l.FeatureDisabled(creds.FeatureCustomValues); off {
		t.Errorf("custom values off too: %+v", l.Disabled)
	}
	if err := s.AddPIT(ctx, creds.Location{ID: "Loc1"}, pit); err != nil {
		t.Fatal(err)
	}
	if l, _ = s.Location(ctx, "Loc1"); len(l.Disabled) != 0 {
		t.Errorf("after connecting again: disabled %+v", l.Disabled)
	}
	if f, ok := creds.FeatureOf("locations/customValues.write"); !ok || f != creds.FeatureCustomValues {
		t.Errorf("FeatureOf(customValues.write) = %q, %v", f, ok)
	}
	if _, ok := creds.FeatureOf("contacts.write"); ok {
		t.Error("contacts.write is no optional feature's scope")
	}
}

// Every optional feature's scopes are scopes connect asks for.
func TestFeatureScopesAreAskedFor(t *testing.T) {
	for _, f := range creds.Features() {
		if len(f.Scopes()) == 0 {
			t.Errorf("%s needs no scope", f)
		}
		for _, s := range f.Scopes() {
			if !slices.Contains(ghl.LocationScopes(), s) {
				t.Errorf("%s needs %s, which connect does not ask for", f, s)
			}
		}
	}
}
