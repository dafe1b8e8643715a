package creds_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
)

// A location without the operator's time zone gets HighLevel's, once per
// connection; the operator's values are never replaced; a token without
// locations.readonly turns the feature off and keeps the location working
// in UTC.
func TestLearnDetails(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	s := startSim(t, "", nil)
	p := openProcess(t, env, keyring(t))
	ctx := context.Background()
	sims := s.Locations()
	reader := func(loc, token string) creds.LocationReader {
		return s.client(t).ForLocation(loc, staticToken(token))
	}
	learn := func(loc, token string) creds.Location {
		t.Helper()
		l, err := p.store.LearnDetails(ctx, loc, reader(loc, token))
		if err != nil {
			t.Fatalf("LearnDetails(%s): %v", loc, err)
		}
		return l
	}

	// Nothing given: both from HighLevel.
	a := sims[0]
	if err := p.store.AddPIT(ctx, creds.Location{ID: a.ID}, a.Token); err != nil {
		t.Fatal(err)
	}
	l, _ := p.store.Location(ctx, a.ID)
	if !l.NeedsDetails() || l.TimezoneSource() != creds.SourceDefault {
		t.Fatalf("fresh location %+v: want it to need details, time zone default", l)
	}
	l = learn(a.ID, a.Token)
	if l.Timezone != a.Timezone || l.Name != a.Name || l.TimezoneSource() != creds.SourceHighLevel || l.NameSource() != creds.SourceHighLevel || l.NeedsDetails() {
		t.Errorf("learned %+v; want %s, %s from highlevel", l, a.Timezone, a.Name)
	}
	before := len(s.requests(t))
	learn(a.ID, a.Token)
	if n := len(s.requests(t)) - before; n != 0 {
		t.Errorf("learning again asked HighLevel %d times; want none until the next connection", n)
	}
	// Connecting again keeps HighLevel's values and asks again.
	if err := p.store.AddPIT(ctx, creds.Location{ID: a.ID}, a.Token); err != nil {
		t.Fatal(err)
	}
	if l, _ = p.store.Location(ctx, a.ID); !l.NeedsDetails() || l.TimezoneSource() != creds.SourceHighLevel {
		t.Errorf("connected again: %+v", l)
	}

	// The operator's time zone stays; the name comes from HighLevel.
	b := sims[1]
	if err := p.store.AddPIT(ctx, creds.Location{ID: b.ID, Timezone: "Asia/Tokyo"}, b.Token); err != nil {
		t.Fatal(err)
	}
	l = learn(b.ID, b.Token)
	if l.Timezone != "Asia/Tokyo" || l.TimezoneSource() != creds.SourceOperator || l.Name != b.Name || l.NameSource() != creds.SourceHighLevel {
		t.Errorf("operator's zone: learned %+v", l)
	}

	// A token that was not granted locations.readonly.
	c := sims[2]
	var scopes []string
	for _, sc := range ghl.LocationScopes() {
		if sc != "locations.readonly" {
			scopes = append(scopes, sc)
		}
	}
	tok := s.authorize(t, c.ID, strings.Join(scopes, " "), ghl.UserTypeLocation)
	if slices.Contains(tok.Scopes(), "locations.readonly") {
		t.Fatalf("token scopes %v", tok.Scopes())
	}
	if err := p.store.AddOAuth(ctx, creds.Location{ID: c.ID}, tok); err != nil {
		t.Fatal(err)
	}
	l = learn(c.ID, tok.AccessToken)
	d, off := l.FeatureDisabled(creds.FeatureLocationDetails)
	if !off || d.Scope != "locations.readonly" || l.State != creds.StateActive || l.Timezone != "" || l.TimezoneSource() != creds.SourceDefault || l.NeedsDetails() {
		t.Errorf("without the scope: %+v; want active, default time zone, location_details off", l)
	}
}
