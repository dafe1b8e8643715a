package sources_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/sources"
	"github.com/socialsync/socialsync/pkg/topology"
)

func open(t *testing.T) *sources.Store {
	t.Helper()
	env := bustest.Start(t, topology.Options{})
	s, err := sources.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if _, err := s.Get(ctx, "crm"); !errors.Is(err, sources.ErrNotFound) {
		t.Fatalf("Get before any binding: %v, want ErrNotFound", err)
	}
	b, err := s.Put(ctx, "crm", []string{"LOC2", "LOC1", "LOC2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"LOC1", "LOC2"}, b.Locations); diff != "" {
		t.Errorf("stored locations (-want +got):\n%s", diff)
	}
	if !b.Allows("LOC1", "") || b.Allows("LOC3", "") || b.Allows("LOC3", "CO1") {
		t.Errorf("binding %+v allows the wrong locations", b)
	}
	// Bind a company: its locations, and only those, are allowed.
	if _, err := s.Update(ctx, "crm", func(b *sources.Binding, found bool) error {
		if !found {
			t.Error("Update: the binding is not found")
		}
		b.Add(nil, []string{"CO1"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Allows("LOC9", "CO1") || got.Allows("LOC9", "CO2") || got.Allows("LOC9", "") || got.UpdatedAt.IsZero() {
		t.Errorf("after binding CO1: %+v", got)
	}
	// Invalid: named in the error, nothing stored.
	for name, c := range map[string]struct {
		source     string
		locs, cos  []string
		wantInText string
	}{
		"bad location": {"crm", []string{"LOC-1"}, nil, "locations[0]"},
		"bad company":  {"crm", nil, []string{"a b"}, "companies[0]"},
		"nothing":      {"crm", nil, nil, "at least one"},
		"bad source":   {"a.b", []string{"LOC1"}, nil, "source"},
	} {
		_, err := s.Put(ctx, c.source, c.locs, c.cos)
		if !errors.Is(err, sources.ErrInvalid) || !contains(err.Error(), c.wantInText) {
			t.Errorf("%s: %v, want ErrInvalid naming %s", name, err, c.wantInText)
		}
	}
	if again, _ := s.Get(ctx, "crm"); !cmp.Equal(again, got) {
		t.Errorf("a refused write changed the binding: %+v", again)
	}
	// Concurrent additions all land.
	var wg sync.WaitGroup
	for _, l := range []string{"A1", "A2", "A3", "A4", "A5"} {
		wg.Go(func() {
			if _, err := s.Update(ctx, "shop", func(b *sources.Binding, _ bool) error { b.Add([]string{l}, nil); return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Source != "crm" || len(list[1].Locations) != 5 {
		t.Errorf("List = %+v, want crm and shop with 5 locations", list)
	}
	if err := s.Delete(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "crm"); !errors.Is(err, sources.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Put(ctx, "crm", []string{"LOC1"}, nil); err != nil {
		t.Errorf("binding a removed source again: %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
