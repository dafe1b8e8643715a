package creds_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
)

const pit = "pit-8f14e45f-ceea-467f-a0e6-0b8a8f5e1c2d"

func newStore(t *testing.T, env *bustest.Env, keys string) *creds.Store {
	t.Helper()
	kr, err := creds.ParseKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	s, err := creds.Open(context.Background(), env.JS, kr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAddPITAndRead(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	s := newStore(t, env, creds.NewKey())
	ctx := context.Background()
	if err := s.AddPIT(ctx, creds.Location{ID: "Loc2", Name: "Two", Timezone: "Europe/Berlin"}, pit); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPIT(ctx, creds.Location{ID: "Loc1"}, pit+"1"); err != nil {
		t.Fatal(err)
	}
	locs, err := s.Locations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(locs) != 2 || locs[0].ID != "Loc1" || locs[1].Timezone != "Europe/Berlin" || locs[1].Auth != creds.AuthPIT || locs[1].State != creds.StateActive {
		t.Fatalf("Locations() = %+v", locs)
	}
	tok, err := s.TokenSource("Loc2").Token()
	if err != nil || tok.AccessToken != pit {
		t.Fatalf("TokenSource().Token() = %v, %v", tok, err)
	}
	if _, err := s.Location(ctx, "Nope1"); !errors.Is(err, creds.ErrUnknownLocation) {
		t.Errorf("unknown location: err = %v", err)
	}
	if err := s.AddPIT(ctx, creds.Location{ID: "bad.id"}, pit); !errors.Is(err, creds.ErrInvalidLocation) {
		t.Errorf("bad id: err = %v", err)
	}
}

// No token is stored in plain text, and a record moved to another location,
// changed, or sealed under a key that is gone does not open.
func TestTokensAreSealed(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	oldKey, newKey := creds.NewKey(), creds.NewKey()
	s := newStore(t, env, oldKey)
	if err := s.AddPIT(ctx, creds.Location{ID: "LocA"}, pit); err != nil {
		t.Fatal(err)
	}
	kv, err := env.JS.KeyValue(ctx, topology.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "LocA")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(e.Value(), []byte(pit)) || bytes.Contains(e.Value(), []byte("8f14e45f")) {
		t.Fatalf("token stored in plain text: %s", e.Value())
	}

	// Moved to another location: fails authentication.
	if _, err := kv.Put(ctx, "LocB", e.Value()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(ctx, "LocB"); !errors.Is(err, creds.ErrTampered) {
		t.Errorf("moved record: err = %v, want ErrTampered", err)
	}
	// Changed: fails authentication.
	bad := bytes.Replace(e.Value(), []byte(`"ct":"`), []byte(`"ct":"AAAA`), 1)
	if _, err := kv.Put(ctx, "LocA", bad); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(ctx, "LocA"); !errors.Is(err, creds.ErrTampered) {
		t.Errorf("changed record: err = %v, want ErrTampered", err)
	}

	// Rotation: a keyring with the new key first still opens old records,
	// and seals new ones under the new key.
	if _, err := kv.Put(ctx, "LocA", e.Value()); err != nil {
		t.Fatal(err)
	}
	rotated := newStore(t, env, newKey+","+oldKey)
	if got, err := rotated.Token(ctx, "LocA"); err != nil || got.AccessToken != pit {
		t.Fatalf("rotated keyring: %v, %v", got, err)
	}
	if err := rotated.AddPIT(ctx, creds.Location{ID: "LocC"}, pit); err != nil {
		t.Fatal(err)
	}
	if _, err := newStore(t, env, oldKey).Token(ctx, "LocC"); !errors.Is(err, creds.ErrUnknownKey) {
		t.Errorf("record under a key the keyring lacks: err = %v, want ErrUnknownKey", err)
	}
}

func TestTokenNeverPrinted(t *testing.T) {
	tok := creds.Token{AccessToken: pit, RefreshToken: "refresh-secret"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("token", "t", tok)
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), logged.String()} {
		if strings.Contains(s, pit) || strings.Contains(s, "refresh-secret") {
			t.Errorf("token revealed: %s", s)
		}
	}
}

func TestParseKeyring(t *testing.T) {
	for _, in := range []string{"", "c2hvcnQ=", "not base64!", creds.NewKey() + ",short"} {
		if _, err := creds.ParseKeyring(in); !errors.Is(err, creds.ErrBadKey) {
			t.Errorf("ParseKeyring(%q) err = %v, want ErrBadKey", in, err)
		}
	}
}
