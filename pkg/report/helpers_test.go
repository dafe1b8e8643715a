package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/report"
)

// simEnv is a simulator with a clock the test moves, and one location.
type simEnv struct {
	mu     sync.Mutex
	now    time.Time
	url    string
	loc    string
	client *ghl.Client
}

func newSim(t *testing.T, start time.Time, accounts ...string) *simEnv {
	t.Helper()
	e := &simEnv{now: start}
	sim, err := ghlsim.New(ghlsim.Options{Seed: "empty", Now: func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	var acc []map[string]string
	for _, p := range accounts {
		acc = append(acc, map[string]string{"platform": p})
	}
	body, _ := json.Marshal(map[string]any{"timezone": "UTC", "accounts": acc})
	resp, err := http.Post(srv.URL+"/_sandbox/locations", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct{ ID, Token string }
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || created.ID == "" {
		t.Fatalf("create location: %v %+v", err, created)
	}
	e.loc = created.ID
	c, err := ghl.New(ghl.Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	e.client = c.ForLocation(created.ID, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: created.Token}))
	return e
}

// snapshot takes the statistics of day (as the stats worker would on
// that day) and returns them as stored.
func (e *simEnv) snapshot(t *testing.T, day string) report.Snapshot {
	t.Helper()
	d, err := report.ParseDay(day)
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.now = d.Add(6 * time.Hour)
	e.mu.Unlock()
	ctx := context.Background()
	accounts, err := e.client.Accounts(ctx, e.loc)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	byPlatform := map[string][]string{}
	for _, a := range accounts.Accounts {
		ids = append(ids, a.ProfileID)
		byPlatform[a.Platform] = append(byPlatform[a.Platform], a.ProfileID)
	}
	chunks, err := e.client.Statistics(ctx, e.loc, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := report.Snapshot{Day: day, TakenAt: e.now, Audience: map[string][]ghl.Demographics{}}
	for _, c := range chunks {
		s.Answers = append(s.Answers, c.Statistics)
	}
	for p, pids := range byPlatform {
		chunks, err := e.client.Statistics(ctx, e.loc, pids, []string{p})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunks {
			s.Audience[p] = append(s.Audience[p], c.Statistics.Demographics)
		}
	}
	return s
}

func day(t *testing.T, base string, n int) string {
	t.Helper()
	d, err := report.Shift(base, n)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
