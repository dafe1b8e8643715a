package creds_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Overview lists every location with what Status says of its token, and
// says why for a location whose token record is gone.
func TestOverviewAgreesWithStatus(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	store := newStore(t, env, creds.NewKey())
	exp := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	if err := store.AddOAuth(ctx, creds.Location{ID: "Loc2", Name: "Second"}, creds.Token{AccessToken: "at-secret", RefreshToken: "rt-secret",
		ExpiresAt: exp, Scope: "contacts.write", ClientID: "app-x", ObtainedAt: exp.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"Loc1", "Loc3"} {
		if err := store.AddPIT(ctx, creds.Location{ID: id, Name: "Name of " + id}, "pit-secret-"+id); err != nil {
			t.Fatal(err)
		}
	}
	kv, err := env.JS.KeyValue(ctx, topology.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "Loc3"); err != nil {
		t.Fatal(err)
	}
	dir, err := creds.OpenDirectory(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	all, err := dir.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ls := range all {
		ids = append(ids, ls.ID)
		want, werr := dir.Status(ctx, ls.ID)
		if (werr == nil) != (ls.TokenErr == nil) || !ls.Token.ExpiresAt.Equal(want.ExpiresAt) || ls.Token.CanRefresh != want.CanRefresh ||
			!slices.Equal(ls.Token.Scopes, want.Scopes) {
			t.Errorf("%s: overview %+v (%v), status %+v (%v)", ls.ID, ls.Token, ls.TokenErr, want, werr)
		}
	}
	if !slices.Equal(ids, []string{"Loc1", "Loc2", "Loc3"}) || all[1].Name != "Second" {
		t.Errorf("overview lists %v (%+v)", ids, all)
	}
	if !errors.Is(all[2].TokenErr, creds.ErrNoToken) {
		t.Errorf("a location without a token: %v, want ErrNoToken", all[2].TokenErr)
	}
}
