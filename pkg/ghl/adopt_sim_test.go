package ghl_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/ghlspec"
)

// race runs f twice at once, each with its own client (two replicas), and
// returns both results.
func race[T any](t *testing.T, clients [2]*ghl.Client, f func(*ghl.Client) (T, error)) ([2]T, [2]error) {
	t.Helper()
	var (
		out   [2]T
		errs  [2]error
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = f(clients[i])
		}()
	}
	close(start)
	wg.Wait()
	return out, errs
}

// Two replicas create the same custom value at once: whichever status
// HighLevel refuses the second create with, both calls succeed and the
// location ends with one custom value holding the requested value.
func TestSimEnsureCustomValueRace(t *testing.T) {
	t.Parallel()
	for _, dup := range []int{http.StatusBadRequest, http.StatusUnprocessableEntity} {
		t.Run(http.StatusText(dup), func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t)
			sb.config(map[string]any{"duplicates": map[string]any{"customValues": dup}})
			loc, tok := sb.createLocation(locationSpec{})
			clients := [2]*ghl.Client{sb.client(tok, ghl.Options{}), sb.client(tok, ghl.Options{})}
			ctx := context.Background()

			got, errs := race(t, clients, func(c *ghl.Client) (ghl.CustomValue, error) {
				return c.EnsureCustomValue(ctx, loc, "socialsync_best_day", "Tuesday")
			})
			for i, err := range errs {
				if err != nil {
					t.Fatalf("replica %d: %v", i, err)
				}
			}
			if got[0].ID == "" || got[0].ID != got[1].ID || got[0].Value != "Tuesday" || got[1].Value != "Tuesday" {
				t.Errorf("replicas got %+v and %+v; want the same custom value holding Tuesday", got[0], got[1])
			}
			var named []string
			for _, cv := range sb.location(loc).CustomValues {
				if cv.Name == "socialsync_best_day" {
					named = append(named, cv.Value)
				}
			}
			if len(named) != 1 || named[0] != "Tuesday" {
				t.Errorf("location holds custom values %v named socialsync_best_day; want exactly [Tuesday]", named)
			}
			// Both replicas created; one was refused with the configured
			// status and adopted the other's.
			n, statuses := count(sb.requests(loc), http.MethodPost, "/locations/"+loc+"/customValues")
			if n != 2 || !(statuses[0] == dup && statuses[1] == http.StatusCreated || statuses[0] == http.StatusCreated && statuses[1] == dup) {
				t.Errorf("creates answered %v; want one 201 and one %d", statuses, dup)
			}
		})
	}
}

// A create refused because the name is taken by a custom value holding
// another value updates that one.
func TestSimEnsureCustomValueAdoptsAndUpdates(t *testing.T) {
	t.Parallel()
	for _, dup := range []int{http.StatusBadRequest, http.StatusUnprocessableEntity} {
		t.Run(http.StatusText(dup), func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t)
			sb.config(map[string]any{"duplicates": map[string]any{"customValues": dup}})
			loc, tok := sb.createLocation(locationSpec{})
			c := sb.client(tok, ghl.Options{})
			ctx := context.Background()
			first, err := c.CreateCustomValue(ctx, loc, "socialsync_best_day", "Monday")
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.EnsureCustomValue(ctx, loc, "Socialsync_Best_Day", "Friday")
			if err != nil || got.ID != first.ID || got.Value != "Friday" {
				t.Fatalf("EnsureCustomValue = %+v, %v; want %s holding Friday", got, err, first.ID)
			}
			if cvs := sb.location(loc).CustomValues; len(cvs) != 1 || cvs[0].Value != "Friday" {
				t.Errorf("location holds %+v; want one custom value holding Friday", cvs)
			}
		})
	}
}

// Two replicas mirror the same contact tag at once while HighLevel refuses
// a second create of a tag: both end with the one tag.
func TestSimEnsureLocationTagRace(t *testing.T) {
	t.Parallel()
	for _, dup := range []int{http.StatusOK, http.StatusBadRequest, http.StatusUnprocessableEntity} {
		t.Run(http.StatusText(dup), func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t)
			sb.config(map[string]any{"duplicates": map[string]any{"locationTags": dup}})
			loc, tok := sb.createLocation(locationSpec{})
			clients := [2]*ghl.Client{sb.client(tok, ghl.Options{}), sb.client(tok, ghl.Options{})}
			ctx := context.Background()
			got, errs := race(t, clients, func(c *ghl.Client) (ghl.LocationTag, error) {
				return c.EnsureLocationTag(ctx, loc, "social:promo")
			})
			for i, err := range errs {
				if err != nil {
					t.Fatalf("replica %d: %v", i, err)
				}
			}
			if got[0].ID == "" || got[0].ID != got[1].ID {
				t.Errorf("replicas got %+v and %+v; want the same tag", got[0], got[1])
			}
			if n := len(sb.location(loc).LocationTags); n != 1 {
				t.Errorf("location holds %d location tags; want 1", n)
			}
		})
	}
}

// A create refused for another reason, with nothing of that name to
// adopt, stays a permanent failure: a 422 from the simulator's own
// validation, and a 400 from a front that refuses every create.
func TestSimEnsureCustomValueRefusedForAnotherReason(t *testing.T) {
	t.Parallel()
	sim, err := ghlsim.New(ghlsim.Options{Seed: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	refuse := false
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		on := refuse
		mu.Unlock()
		if on && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/customValues") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"statusCode":400,"message":"Bad Request"}`))
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	sb := &sandbox{t: t, url: srv.URL, tr: ghlspec.CheckingTransport(t, nil)}
	loc, tok := sb.createLocation(locationSpec{})
	c := sb.client(tok, ghl.Options{})
	ctx := context.Background()

	_, err = c.EnsureCustomValue(ctx, loc, "   ", "x")
	var ge *ghl.Error
	if !errors.Is(err, ghl.ErrPermanent) || !errors.As(err, &ge) || ge.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("blank name: err = %v; want the permanent 422", err)
	}

	mu.Lock()
	refuse = true
	mu.Unlock()
	_, err = c.EnsureCustomValue(ctx, loc, "socialsync_best_day", "Tuesday")
	if !errors.Is(err, ghl.ErrPermanent) || !errors.As(err, &ge) || ge.StatusCode != http.StatusBadRequest {
		t.Errorf("refused create: err = %v; want the permanent 400", err)
	}
	if n, _ := count(sb.requests(loc), http.MethodGet, "/locations/"+loc+"/customValues"); n != 2 {
		t.Errorf("%d look-ups; want one after each refused create", n)
	}
	if cvs := sb.location(loc).CustomValues; len(cvs) != 0 {
		t.Errorf("location holds %+v; want none", cvs)
	}
}
