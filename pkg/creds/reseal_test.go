package creds_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Records sealed under key A, a keyring that became B,A: Reseal leaves
// every record readable with B alone, keeps what a concurrent writer
// stored between its read and its write, and does nothing the second time.
func TestResealMovesEveryRecordToTheNewestKey(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	a, b := creds.NewKey(), creds.NewKey()
	oldStore := newStore(t, env, a)
	for _, loc := range []string{"Loc1", "Loc2", "Loc3"} {
		if err := oldStore.AddPIT(ctx, creds.Location{ID: loc}, pit+loc); err != nil {
			t.Fatal(err)
		}
	}
	exp := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	oauth := creds.Token{AccessToken: "at-Loc4", RefreshToken: "rt-Loc4", ExpiresAt: exp, ClientID: "app-x", ObtainedAt: exp.Add(-time.Hour)}
	if err := oldStore.AddOAuth(ctx, creds.Location{ID: "Loc4"}, oauth); err != nil {
		t.Fatal(err)
	}
	rotated := newStore(t, env, b+","+a)
	newOnly := newStore(t, env, b)

	sealings, err := rotated.Sealings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealings) != 4 {
		t.Fatalf("Sealings() = %v, want 4 records", sealings)
	}
	for loc, sl := range sealings {
		if sl.Current || !sl.Known || sl.KeyID == "" || strings.Contains(a+b, sl.KeyID) {
			t.Errorf("%s: sealing %+v, want old, known, an id that is no part of the key", loc, sl)
		}
	}

	dry, err := rotated.Reseal(ctx, true)
	if err != nil || dry.Resealed != 4 || dry.Current != 0 || len(dry.Failed) != 0 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if sl, _ := rotated.Sealing(ctx, "Loc1"); sl.Current {
		t.Fatal("the dry run wrote")
	}

	// Between the read and the write: Loc1 is refreshed by a process that
	// still holds key A only, Loc2 by one that already seals with B.
	var once sync.Map
	creds.BeforeResealWrite(rotated, func(loc string) {
		if _, done := once.LoadOrStore(loc, true); done {
			return
		}
		switch loc {
		case "Loc1":
			if err := oldStore.PutToken(ctx, loc, creds.Token{AccessToken: "refreshed-Loc1"}); err != nil {
				t.Error(err)
			}
		case "Loc2":
			if err := rotated.PutToken(ctx, loc, creds.Token{AccessToken: "refreshed-Loc2"}); err != nil {
				t.Error(err)
			}
		}
	})
	r, err := rotated.Reseal(ctx, false)
	if err != nil || r.Resealed != 3 || r.Current != 1 || len(r.Failed) != 0 {
		t.Fatalf("Reseal() = %+v, %v; want 3 resealed (Loc1 after its refresh, Loc3, Loc4), 1 current (Loc2)", r, err)
	}
	want := map[string]string{"Loc1": "refreshed-Loc1", "Loc2": "refreshed-Loc2", "Loc3": pit + "Loc3", "Loc4": "at-Loc4"}
	for loc, at := range want {
		tok, err := newOnly.Token(ctx, loc)
		if err != nil || tok.AccessToken != at {
			t.Errorf("%s with key B alone: %v, %v; want access token %q", loc, tok, err, at)
		}
	}
	if tok, _ := newOnly.Token(ctx, "Loc4"); tok.RefreshToken != oauth.RefreshToken || !tok.ExpiresAt.Equal(exp) {
		t.Errorf("Loc4 after reseal: %+v, want its refresh token and expiry kept", tok)
	}

	again, err := rotated.Reseal(ctx, false)
	if err != nil || again.Resealed != 0 || again.Current != 4 || len(again.Failed) != 0 {
		t.Fatalf("second Reseal() = %+v, %v; want all 4 current", again, err)
	}
}

// A record under a key the keyring does not hold fails, named by its
// location and without its token; the others are resealed.
func TestResealReportsRecordsItCannotOpen(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	a, b, lost := creds.NewKey(), creds.NewKey(), creds.NewKey()
	if err := newStore(t, env, lost).AddPIT(ctx, creds.Location{ID: "Lost1"}, pit); err != nil {
		t.Fatal(err)
	}
	if err := newStore(t, env, a).AddPIT(ctx, creds.Location{ID: "Loc1"}, pit+"1"); err != nil {
		t.Fatal(err)
	}
	rotated := newStore(t, env, b+","+a)
	if sl, err := rotated.Sealing(ctx, "Lost1"); err != nil || sl.Known || sl.Current {
		t.Fatalf("Sealing(Lost1) = %+v, %v; want an unknown key", sl, err)
	}
	r, err := rotated.Reseal(ctx, false)
	if err != nil || r.Resealed != 1 || len(r.Failed) != 1 {
		t.Fatalf("Reseal() = %+v, %v", r, err)
	}
	msg := r.Failed[0].Error()
	if !errors.Is(r.Failed[0], creds.ErrUnknownKey) || !strings.Contains(msg, "Lost1") || strings.Contains(msg, pit) {
		t.Fatalf("failure %q: want ErrUnknownKey naming Lost1 without the token", msg)
	}
}
