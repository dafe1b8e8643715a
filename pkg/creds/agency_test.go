package creds_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
)

// An agency's token is kept, sealed and refreshable: a sub-account added
// later connects without a person (ConnectInstalled, SyncAgency), and an
// uninstall disconnects a location and removes its token.
func TestAgencyStaysCurrent(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	s := startSim(t, "", nil)
	p := openProcess(t, env, keyring(t), creds.WithRefresher(creds.NewRefresher(s.client(t), s.App)))
	ctx := context.Background()
	agency := s.authorize(t, "", "", ghl.UserTypeCompany)
	if _, err := p.store.ConnectAgency(ctx, s.client(t), agency); err != nil {
		t.Fatal(err)
	}
	company := agency.CompanyID
	if ok, err := p.store.Agency(ctx, company); err != nil || !ok {
		t.Fatalf("Agency(%s) = %v, %v; want the agency token kept", company, ok, err)
	}
	if got, err := p.store.Agencies(ctx); err != nil || !slices.Equal(got, []string{company}) {
		t.Fatalf("Agencies = %v, %v", got, err)
	}
	// Kept sealed, under the company's key: what Directory shows of it
	// holds no token.
	if st, err := p.store.Directory.Status(ctx, company); err != nil || !st.CanRefresh {
		t.Fatalf("agency token status: %+v, %v", st, err)
	}
	if ok, err := p.store.Registered(ctx, company); err != nil || !ok {
		t.Fatalf("Registered(company) = %v, %v; want true: its syncs are keyed by it", ok, err)
	}

	// A new sub-account: connected from the kept token alone.
	var created struct {
		ID string `json:"id"`
	}
	s.admin(t, http.MethodPost, "/_sandbox/locations", map[string]any{"name": "Added Later", "timezone": "Europe/Paris"}, &created)
	l, err := p.store.ConnectInstalled(ctx, s.client(t), company, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if l.State != creds.StateActive || l.CompanyID != company {
		t.Fatalf("installed location: %+v", l)
	}
	tok, err := p.store.TokenSource(created.ID).Token()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.accepts(t, created.ID, tok.AccessToken); err != nil {
		t.Fatal(err)
	}

	// A second one whose INSTALL never came: the sync connects it, and
	// only it.
	s.admin(t, http.MethodPost, "/_sandbox/locations", map[string]any{"name": "Missed"}, &created)
	locs, err := p.store.SyncAgency(ctx, s.client(t), company)
	if err != nil {
		t.Fatal(err)
	}
	if len(locs) != 1 || locs[0].ID != created.ID || locs[0].Name != "Missed" {
		t.Fatalf("sync connected %+v, want only %s", locs, created.ID)
	}
	if locs, err := p.store.SyncAgency(ctx, s.client(t), company); err != nil || len(locs) != 0 {
		t.Fatalf("second sync connected %+v, %v; want nothing", locs, err)
	}

	// Uninstalled: token gone, state uninstalled, not registered (the bus
	// drops its messages), and the sync does not bring it back while
	// HighLevel does not list it.
	s.admin(t, http.MethodPost, "/_sandbox/locations/"+created.ID+"/uninstall", nil, nil)
	if _, err := p.store.Uninstall(ctx, company, created.ID); err != nil {
		t.Fatal(err)
	}
	got, err := p.store.Location(ctx, created.ID)
	if err != nil || got.State != creds.StateUninstalled {
		t.Fatalf("after uninstall: %+v, %v", got, err)
	}
	if _, err := p.store.Token(ctx, created.ID); !errors.Is(err, creds.ErrNoToken) {
		t.Fatalf("token after uninstall: %v, want ErrNoToken", err)
	}
	ok, err := p.store.Registered(ctx, created.ID)
	var ue *creds.UninstalledError
	if ok || !errors.As(err, &ue) {
		t.Fatalf("Registered(uninstalled) = %v, %v; want an UninstalledError", ok, err)
	}
	if locs, err := p.store.SyncAgency(ctx, s.client(t), company); err != nil || len(locs) != 0 {
		t.Fatalf("sync after uninstall connected %+v, %v", locs, err)
	}

	// The agency's own uninstall: its token goes, every location of it
	// is uninstalled, and a sync has nothing to use.
	if _, err := p.store.Uninstall(ctx, company, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.SyncAgency(ctx, s.client(t), company); !errors.Is(err, creds.ErrNoAgency) {
		t.Fatalf("sync of an uninstalled agency: %v, want ErrNoAgency", err)
	}
	all, err := p.store.Locations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		if l.State != creds.StateUninstalled {
			t.Errorf("location %s is %s after the agency's uninstall", l.ID, l.State)
		}
	}
}

// A location-level install whose webhook comes before its callback is
// recorded as connecting, and its callback connects it.
func TestInstallWaitsForItsCallback(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	s := startSim(t, "", nil)
	p := openProcess(t, env, keyring(t))
	ctx := context.Background()
	loc := s.Locations()[1].ID
	c := &creds.Connector{Store: p.store, Client: s.client(t), App: s.App}
	reply := c.Handle(ctx, creds.ConnectRequest{Kind: creds.ConnectInstall, CompanyID: s.Apps()[0].CompanyID, LocationID: loc})
	if reply.Error != "" || !reply.Pending {
		t.Fatalf("install before the callback: %+v", reply)
	}
	if l, err := p.store.Location(ctx, loc); err != nil || l.State != creds.StateConnecting {
		t.Fatalf("recorded %+v, %v; want connecting", l, err)
	}
	tok := s.authorize(t, loc, "", ghl.UserTypeLocation)
	if err := p.store.AddOAuth(ctx, creds.Location{ID: loc}, tok); err != nil {
		t.Fatal(err)
	}
	if l, err := p.store.Location(ctx, loc); err != nil || l.State != creds.StateActive {
		t.Fatalf("after the callback: %+v, %v; want active", l, err)
	}
	// A second INSTALL (HighLevel's retry) leaves the connected location be.
	if reply := c.Handle(ctx, creds.ConnectRequest{Kind: creds.ConnectInstall, LocationID: loc}); reply.Error != "" {
		t.Fatal(reply.Error)
	}
	if l, _ := p.store.Location(ctx, loc); l.State != creds.StateActive {
		t.Fatalf("a repeated INSTALL made it %s", l.State)
	}
}

// An issued state is taken once; a state never issued is refused.
func TestAuthRequestsAreSingleUse(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	reqs, err := creds.OpenAuthRequests(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	state, err := reqs.Issue(ctx, creds.AuthRequest{UserType: ghl.UserTypeLocation, Location: "loc1", RedirectURI: "https://x.test/oauth/callback"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := reqs.Take(ctx, state)
	if err != nil || got.Location != "loc1" || got.RedirectURI != "https://x.test/oauth/callback" {
		t.Fatalf("Take = %+v, %v", got, err)
	}
	if _, err := reqs.Take(ctx, state); !errors.Is(err, creds.ErrUnknownState) {
		t.Fatalf("second Take: %v, want ErrUnknownState", err)
	}
	if _, err := reqs.Take(ctx, "never-issued"); !errors.Is(err, creds.ErrUnknownState) {
		t.Fatalf("unknown state: %v, want ErrUnknownState", err)
	}
}

// The kept agency token is refreshed under the lease like a location's:
// a sync after it expired refreshes it first and goes on.
func TestAgencyTokenIsRefreshed(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	s := startSim(t, "", nil)
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	p := openProcess(t, env, keyring(t), creds.WithRefresher(creds.NewRefresher(s.client(t), s.App)), creds.WithClock(clock))
	ctx := context.Background()
	agency := s.authorize(t, "", "", ghl.UserTypeCompany)
	if _, err := p.store.ConnectAgency(ctx, s.client(t), agency); err != nil {
		t.Fatal(err)
	}
	before := s.tokenCalls(t)[http.StatusOK]
	// A day and a minute later, for both clocks.
	offset.Store(int64(25 * time.Hour))
	s.admin(t, http.MethodPut, "/_sandbox/clock", map[string]any{"offset": "25h"}, nil)
	if _, err := p.store.SyncAgency(ctx, s.client(t), agency.CompanyID); err != nil {
		t.Fatalf("sync with an expired agency token: %v", err)
	}
	if after := s.tokenCalls(t)[http.StatusOK]; after != before+1 {
		t.Fatalf("token endpoint answered 200 %d times more, want one refresh", after-before)
	}
	tok, err := p.store.Token(ctx, agency.CompanyID)
	if err != nil || tok.AccessToken == agency.AccessToken || !tok.ExpiresAt.After(clock()) || tok.UserType != ghl.UserTypeCompany {
		t.Fatalf("stored agency token after the refresh: %v, %v", tok, err)
	}
}
