package creds_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
)

// A Directory, which holds no key, shows what a Store shows of each
// token: expiry, scopes, whether it can be refreshed (the
// re-authorisation mark and the lease were in clear already). The clear part of a record holds nothing that
// authenticates.
func TestDirectoryShowsTokensWithoutKey(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	store := newStore(t, env, creds.NewKey())
	exp := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	oauth := creds.Token{AccessToken: "at-secret-Loc2", RefreshToken: "rt-secret-Loc2", ExpiresAt: exp,
		Scope: "socialplanner/tag.readonly contacts.write", ClientID: "app-x", ObtainedAt: exp.Add(-time.Hour)}
	if err := store.AddPIT(ctx, creds.Location{ID: "Loc1"}, "pit-secret-Loc1"); err != nil {
		t.Fatal(err)
	}
	if err := store.AddOAuth(ctx, creds.Location{ID: "Loc2"}, oauth); err != nil {
		t.Fatal(err)
	}
	dir, err := creds.OpenDirectory(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{"Loc1", "Loc2"} {
		want, err := store.Status(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dir.Status(ctx, loc)
		if err != nil {
			t.Fatalf("Directory.Status(%s): %v", loc, err)
		}
		if !got.ExpiresAt.Equal(want.ExpiresAt) || !slices.Equal(got.Scopes, want.Scopes) || got.CanRefresh != want.CanRefresh ||
			(got.NeedsReauth == nil) != (want.NeedsReauth == nil) {
			t.Errorf("%s: the directory shows %+v, the store %+v", loc, got, want)
		}
	}
	if st, _ := dir.Status(ctx, "Loc2"); !st.CanRefresh || len(st.Scopes) != 2 || !st.ExpiresAt.Equal(exp) {
		t.Errorf("Loc2 as the directory shows it: %+v", st)
	}
	if locs, err := dir.Locations(ctx); err != nil || len(locs) != 2 {
		t.Errorf("Directory.Locations() = %v, %v", locs, err)
	}
	if ok, err := dir.Registered(ctx, "Loc1"); !ok || err != nil {
		t.Errorf("Directory.Registered(Loc1) = %v, %v", ok, err)
	}
	kv, err := env.JS.KeyValue(ctx, topology.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{"Loc1", "Loc2"} {
		e, err := kv.Get(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(e.Value()), "secret") {
			t.Errorf("the record of %s holds a token in clear: %s", loc, e.Value())
		}
	}
}

// A record stored before records kept their metadata in clear is shown
// by a Store (which opens it) but not by a Directory, which names the way
// out; Reseal writes the metadata, once, even under the current key.
func TestResealDescribesOldRecords(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	store := newStore(t, env, creds.NewKey())
	if err := store.AddPIT(ctx, creds.Location{ID: "Loc1"}, "pit-Loc1"); err != nil {
		t.Fatal(err)
	}
	kv, err := env.JS.KeyValue(ctx, topology.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "Loc1")
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec["meta"]; !ok {
		t.Fatalf("a new record keeps no metadata: %s", e.Value())
	}
	delete(rec, "meta")
	old, _ := json.Marshal(rec)
	if _, err := kv.Put(ctx, "Loc1", old); err != nil {
		t.Fatal(err)
	}

	dir, err := creds.OpenDirectory(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Status(ctx, "Loc1"); !errors.Is(err, creds.ErrNoMetadata) || !strings.Contains(err.Error(), "reseal") {
		t.Fatalf("Directory.Status of an old record: %v, want ErrNoMetadata naming reseal", err)
	}
	if _, err := store.Status(ctx, "Loc1"); err != nil {
		t.Fatalf("Store.Status of an old record: %v", err)
	}
	if sl, err := store.Sealing(ctx, "Loc1"); err != nil || !sl.Current || sl.Described {
		t.Fatalf("Sealing of an old record: %+v, %v", sl, err)
	}
	r, err := store.Reseal(ctx, false)
	if err != nil || r.Resealed != 1 || len(r.Failed) != 0 {
		t.Fatalf("Reseal() = %+v, %v; want the old record rewritten", r, err)
	}
	if _, err := dir.Status(ctx, "Loc1"); err != nil {
		t.Fatalf("Directory.Status after Reseal: %v", err)
	}
	if tok, err := store.Token(ctx, "Loc1"); err != nil || tok.AccessToken != "pit-Loc1" {
		t.Fatalf("the token after Reseal: %v", err)
	}
	if r, err := store.Reseal(ctx, false); err != nil || r.Resealed != 0 || r.Current != 1 {
		t.Fatalf("Reseal() again = %+v, %v; want nothing to do", r, err)
	}
}

// Locations lists every location from one watch of the bucket, not a read
// per location: its requests do not grow with the number of locations
// (issue 18: a read each took seconds at 10,000, every minute). The
// listing is ordered by id, and a record that does not decode fails it.
func TestLocationsInFixedRequests(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	store := newStore(t, env, creds.NewKey())
	const n = 300
	for i := range n {
		if err := store.AddPIT(ctx, creds.Location{ID: fmt.Sprintf("LocFixed%012d", n-i)}, "pit"); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := creds.OpenDirectory(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	before := env.Conn.Stats().OutMsgs
	locs, err := dir.Locations(ctx)
	sent := env.Conn.Stats().OutMsgs - before
	if err != nil || len(locs) != n {
		t.Fatalf("Locations() = %d locations, %v; want %d", len(locs), err, n)
	}
	if !slices.IsSortedFunc(locs, func(a, b creds.Location) int { return strings.Compare(a.ID, b.ID) }) || locs[0].ID != fmt.Sprintf("LocFixed%012d", 1) {
		t.Errorf("Locations() not ordered by id: first %s", locs[0].ID)
	}
	if sent > 20 {
		t.Errorf("Locations() sent %d messages for %d locations: want a fixed few (one watch)", sent, n)
	}
	kv, err := env.JS.KeyValue(ctx, topology.BucketLocations)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "LocFixed000000000007", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Locations(ctx); err == nil || !strings.Contains(err.Error(), "LocFixed000000000007") {
		t.Errorf("Locations() with an undecodable record: %v, want an error naming it", err)
	}
}
