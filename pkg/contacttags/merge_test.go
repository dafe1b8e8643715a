package contacttags_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
)

// sim is a simulator location served over real HTTP.
type sim struct {
	t        *testing.T
	url, loc string
	client   *ghl.Client
}

func newSim(t *testing.T) *sim {
	t.Helper()
	s, err := ghlsim.New(ghlsim.Options{Seed: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	sb := &sim{t: t, url: srv.URL}
	var out struct{ ID, Token string }
	sb.admin("POST", "/_sandbox/locations", map[string]any{}, &out)
	sb.loc = out.ID
	c, err := ghl.New(ghl.Options{BaseURL: srv.URL, InitialBackoff: 5 * time.Millisecond,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: out.Token})})
	if err != nil {
		t.Fatal(err)
	}
	sb.client = c.ForLocation(out.ID, nil)
	return sb
}

func (s *sim) admin(method, path string, in, out any) {
	s.t.Helper()
	data, err := json.Marshal(in)
	if err != nil {
		s.t.Fatal(err)
	}
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(data))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			s.t.Fatal(err)
		}
	}
}

func (s *sim) contacts(n int) []string {
	s.t.Helper()
	var ids []string
	for range n {
		var c struct{ ID string }
		s.admin("POST", "/_sandbox/locations/"+s.loc+"/contacts", map[string]any{}, &c)
		ids = append(ids, c.ID)
	}
	return ids
}

// tags returns every contact's tags.
func (s *sim) tags() map[string][]string {
	s.t.Helper()
	var l struct {
		Contacts []struct {
			ID   string
			Tags []string
		}
	}
	s.admin("GET", "/_sandbox/locations/"+s.loc, nil, &l)
	out := map[string][]string{}
	for _, c := range l.Contacts {
		out[c.ID] = slices.Sorted(slices.Values(c.Tags))
	}
	return out
}

// tagCalls returns the contact tag calls the simulator logged and their
// statuses.
func (s *sim) tagCalls() (n int, statuses []int) {
	s.t.Helper()
	var out struct {
		Requests []struct {
			Path   string
			Status int
		}
	}
	s.admin("GET", "/_sandbox/requests?location="+s.loc, nil, &out)
	for _, r := range out.Requests {
		if strings.HasPrefix(r.Path, "/contacts/") && strings.Contains(r.Path, "tags") {
			n++
			statuses = append(statuses, r.Status)
		}
	}
	return n, statuses
}

// gated holds every call until open is closed, as a permit the governor
// has not handed out yet would.
type gated struct {
	contacttags.Tagger
	open  chan struct{}
	calls atomic.Int32
}

func (g *gated) wait() { g.calls.Add(1); <-g.open }

func (g *gated) AddContactTags(ctx context.Context, id string, tags []string) ([]string, error) {
	g.wait()
	return g.Tagger.AddContactTags(ctx, id, tags)
}

func (g *gated) RemoveContactTags(ctx context.Context, id string, tags []string) ([]string, error) {
	g.wait()
	return g.Tagger.RemoveContactTags(ctx, id, tags)
}

func (g *gated) BulkAddTags(ctx context.Context, loc string, contacts, tags []string) (ghl.BulkTagsResponse, error) {
	g.wait()
	return g.Tagger.BulkAddTags(ctx, loc, contacts, tags)
}

func (g *gated) BulkRemoveTags(ctx context.Context, loc string, contacts, tags []string) (ghl.BulkTagsResponse, error) {
	g.wait()
	return g.Tagger.BulkRemoveTags(ctx, loc, contacts, tags)
}

// While the first caller's call waits for its permit, 11 more callers
// come: their contacts' changes, each 1–3 of 4 tags, go out merged, one
// call per tag at most, and every contact ends with exactly its tags.
func TestMergerMergesCallersWhileACallWaits(t *testing.T) {
	s := newSim(t)
	contacts := s.contacts(12)
	g := &gated{Tagger: s.client, open: make(chan struct{})}
	m := contacttags.NewMerger(func(string) contacttags.Tagger { return g }, 2, contacttags.NewBulkSizes(nil))
	tags := []string{"a", "b", "c", "d"}
	want := map[string][]string{}
	for i, c := range contacts {
		want[c] = slices.Clone(tags[i%4 : min(i%4+1+i%3, 4)])
	}
	sendBehindTheFirst(t, s, m, g, contacts, func(_ int, c string) []string { return want[c] })
	got := s.tags()
	for _, c := range contacts {
		if !slices.Equal(got[c], want[c]) {
			t.Errorf("contact %s: tags %v, want %v", c, got[c], want[c])
		}
	}
	// The first caller's call, then at most one per tag for the others.
	if n, _ := s.tagCalls(); n > 1+len(tags) {
		t.Errorf("%d tag calls for %d callers, want at most %d", n, len(contacts), 1+len(tags))
	}
	if m.Waiting(s.loc, ghl.LaneInteractive) != 0 {
		t.Errorf("callers still waiting")
	}
}

// A contact HighLevel deleted fails alone: its caller gets it Failed, the
// other contacts of the same bulk call and of other callers are written.
func TestMergerFailsOnlyTheRefusedContact(t *testing.T) {
	s := newSim(t)
	contacts := s.contacts(4)
	s.admin("DELETE", "/_sandbox/locations/"+s.loc+"/contacts/"+contacts[1], nil, nil)
	g := &gated{Tagger: s.client, open: make(chan struct{})}
	m := contacttags.NewMerger(func(string) contacttags.Tagger { return g }, 2, contacttags.NewBulkSizes(nil))
	var wg sync.WaitGroup
	var first, second contacttags.Result
	wg.Go(func() {
		first = m.Send(context.Background(), s.loc, map[string]contacttags.Diff{contacts[3]: {Add: []string{"x"}}})
	})
	waitFor(t, func() bool { return g.calls.Load() == 1 })
	wg.Go(func() {
		second = m.Send(context.Background(), s.loc, map[string]contacttags.Diff{
			contacts[0]: {Add: []string{"x"}}, contacts[1]: {Add: []string{"x"}}, contacts[2]: {Add: []string{"x"}}})
	})
	waitFor(t, func() bool { return m.Waiting(s.loc, ghl.LaneInteractive) == 2 })
	close(g.open)
	wg.Wait()
	if first.Err != nil || len(first.Failed) > 0 {
		t.Errorf("first caller: %+v", first)
	}
	if second.Err != nil || len(second.Incomplete) > 0 || len(second.Failed) != 1 || second.Failed[contacts[1]] == "" {
		t.Errorf("second caller: %+v, want only %s failed", second, contacts[1])
	}
	got := s.tags()
	for _, c := range []string{contacts[0], contacts[2], contacts[3]} {
		if !slices.Equal(got[c], []string{"x"}) {
			t.Errorf("contact %s: %v", c, got[c])
		}
	}
}

// A caller whose context ends leaves; the others are written.
func TestMergerCallerLeaves(t *testing.T) {
	s := newSim(t)
	contacts := s.contacts(3)
	g := &gated{Tagger: s.client, open: make(chan struct{})}
	m := contacttags.NewMerger(func(string) contacttags.Tagger { return g }, 2, contacttags.NewBulkSizes(nil))
	var wg sync.WaitGroup
	wg.Go(func() {
		m.Send(context.Background(), s.loc, map[string]contacttags.Diff{contacts[0]: {Add: []string{"x"}}})
	})
	waitFor(t, func() bool { return g.calls.Load() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	var left, stayed contacttags.Result
	wg.Go(func() { left = m.Send(ctx, s.loc, map[string]contacttags.Diff{contacts[1]: {Add: []string{"y"}}}) })
	wg.Go(func() {
		stayed = m.Send(context.Background(), s.loc, map[string]contacttags.Diff{contacts[2]: {Add: []string{"y"}}})
	})
	waitFor(t, func() bool { return m.Waiting(s.loc, ghl.LaneInteractive) == 3 })
	cancel()
	waitFor(t, func() bool { return m.Waiting(s.loc, ghl.LaneInteractive) == 2 })
	close(g.open)
	wg.Wait()
	if left.Err == nil || !left.Incomplete[contacts[1]] {
		t.Errorf("the caller that left: %+v", left)
	}
	if stayed.Err != nil || len(stayed.Incomplete) > 0 {
		t.Errorf("the caller that stayed: %+v", stayed)
	}
	if got := s.tags(); len(got[contacts[1]]) != 0 || !slices.Equal(got[contacts[2]], []string{"y"}) {
		t.Errorf("tags: %v", got)
	}
}

// The simulator takes at most 3 contacts per bulk call (bulkTagsMax, an
// assumption: HighLevel documents no maximum). A bulk call of 8 is
// refused, 4 too; the size halves to 2, is remembered for the location,
// and every contact is written. A day later the size doubles to 4 (a
// probe, refused again: back to 2); once the simulator takes any number,
// the next day's probe keeps 4.
func TestBulkSizeHalvesOn422AndProbesDaily(t *testing.T) {
	s := newSim(t)
	s.admin("PUT", "/_sandbox/config", map[string]any{"bulkTagsMax": 3}, nil)
	var now atomic.Pointer[time.Time]
	start := time.Date(2026, time.March, 3, 10, 0, 0, 0, time.UTC)
	now.Store(&start)
	advance := func(d time.Duration) { t := now.Load().Add(d); now.Store(&t) }
	sizes := contacttags.NewBulkSizes(func() time.Time { return *now.Load() })
	m := contacttags.NewMerger(func(string) contacttags.Tagger { return s.client }, 2, sizes)

	write := func(tag string, contacts []string) {
		t.Helper()
		diffs := map[string]contacttags.Diff{}
		for _, c := range contacts {
			diffs[c] = contacttags.Diff{Add: []string{tag}}
		}
		if r := m.Send(context.Background(), s.loc, diffs); r.Err != nil || len(r.Failed)+len(r.Incomplete) > 0 {
			t.Fatalf("send %s: %+v", tag, r)
		}
		got := s.tags()
		for _, c := range contacts {
			if !slices.Contains(got[c], tag) {
				t.Fatalf("contact %s lacks %s: %v", c, tag, got[c])
			}
		}
	}
	contacts := s.contacts(8)
	write("a", contacts)
	n, statuses := s.tagCalls()
	if want := []int{422, 422, 201, 201, 201, 201}; !slices.Equal(statuses, want) {
		t.Errorf("statuses of %d calls: %v, want %v", n, statuses, want)
	}
	if got := sizes.Size(s.loc); got != 2 {
		t.Errorf("size after the 422s: %d, want 2", got)
	}

	advance(contacttags.ProbeAfter - time.Minute)
	if got := sizes.Size(s.loc); got != 2 {
		t.Errorf("size before a day: %d, want 2", got)
	}
	advance(time.Minute)
	write("b", contacts[:4])
	_, statuses = s.tagCalls()
	if want := []int{422, 201, 201}; !slices.Equal(statuses[6:], want) {
		t.Errorf("statuses of the probe: %v, want %v", statuses[6:], want)
	}
	if got := sizes.Size(s.loc); got != 2 {
		t.Errorf("size after a refused probe: %d, want 2", got)
	}

	s.admin("PUT", "/_sandbox/config", map[string]any{"bulkTagsMax": 0}, nil)
	advance(contacttags.ProbeAfter)
	write("c", contacts[:4])
	_, statuses = s.tagCalls()
	if want := []int{201}; !slices.Equal(statuses[9:], want) {
		t.Errorf("statuses of the accepted probe: %v, want %v", statuses[9:], want)
	}
	if got := sizes.Size(s.loc); got != 4 {
		t.Errorf("size after an accepted probe: %d, want 4", got)
	}
	advance(2 * contacttags.ProbeAfter)
	if got := sizes.Size(s.loc); got != 8 {
		t.Errorf("size two days on: %d, want 8 (one doubling per day with a bulk call)", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// One writer at a time has a location's turn to write alone, and only
// while nothing waits in its pool; a caller waiting there (its call
// held) keeps the turn from anyone; the turn is the pool's, per location
// and lane.
func TestMergerAloneOnlyWhileThePoolIsIdle(t *testing.T) {
	s := newSim(t)
	contacts := s.contacts(1)
	g := &gated{Tagger: s.client, open: make(chan struct{})}
	m := contacttags.NewMerger(func(string) contacttags.Tagger { return g }, 2, contacttags.NewBulkSizes(nil))
	ctx := context.Background()
	release, ok := m.Alone(ctx, s.loc)
	if !ok {
		t.Fatal("an idle pool refused its turn")
	}
	if _, ok := m.Alone(ctx, s.loc); ok {
		t.Error("a second writer had the turn beside the first")
	}
	if r, ok := m.Alone(ctx, "other"); !ok {
		t.Error("another location's turn refused")
	} else {
		r()
	}
	if r, ok := m.Alone(ghl.WithLane(ctx, ghl.LaneBackground), s.loc); !ok {
		t.Error("another lane's turn refused")
	} else {
		r()
	}
	release()
	release() // once only
	var wg sync.WaitGroup
	wg.Go(func() { m.Send(ctx, s.loc, map[string]contacttags.Diff{contacts[0]: {Add: []string{"x"}}}) })
	waitFor(t, func() bool { return g.calls.Load() == 1 })
	if _, ok := m.Alone(ctx, s.loc); ok {
		t.Error("a writer had the turn while a caller waited in the pool")
	}
	close(g.open)
	wg.Wait()
	release, ok = m.Alone(ctx, s.loc)
	if !ok {
		t.Fatal("the pool, idle again, refused its turn")
	}
	release()
}

// scarce is a budget less than half free: the pool's calls are paced.
type scarce struct{}

func (scarce) Spare(string, ghl.Lane) (spare, limit int64, window time.Duration) {
	return 1, 100, 10 * time.Second
}

// sideBySide is a Tagger whose single-contact calls each wait (at most a
// few seconds) until another call is in flight beside them, and which
// records the most calls in flight at once and any contact in two calls
// at once.
type sideBySide struct {
	contacttags.Tagger
	mu       sync.Mutex
	inFlight map[string]bool
	most     int
	twice    []string
}

func (s *sideBySide) AddContactTags(ctx context.Context, id string, tags []string) ([]string, error) {
	s.mu.Lock()
	if s.inFlight[id] {
		s.twice = append(s.twice, id)
	}
	s.inFlight[id] = true
	s.most = max(s.most, len(s.inFlight))
	deadline := time.Now().Add(3 * time.Second)
	for len(s.inFlight) < 2 && time.Now().Before(deadline) {
		s.mu.Unlock()
		time.Sleep(time.Millisecond)
		s.mu.Lock()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inFlight, id)
		s.mu.Unlock()
	}()
	return s.Tagger.AddContactTags(ctx, id, tags)
}

// While the budget paces a location and its pool holds a backlog no
// merging folds (a tag per caller), several calls are in flight at once
// (at most MaxSenders), never two of one contact, and every contact ends
// with its tags; while merging folds the pool's writes, one sender plans
// them all (TestMergerMergesCallersWhileACallWaits).
func TestMergerSendsAnUnfoldableBacklogSideBySide(t *testing.T) {
	s := newSim(t)
	contacts := s.contacts(8)
	c := &sideBySide{Tagger: s.client, inFlight: map[string]bool{}}
	g := &gated{Tagger: c, open: make(chan struct{})}
	m := contacttags.NewMerger(func(string) contacttags.Tagger { return g }, 2, contacttags.NewBulkSizes(nil))
	m.PaceBy(scarce{})
	sendBehindTheFirst(t, s, m, g, contacts, func(i int, _ string) []string { return []string{fmt.Sprintf("t%d", i)} })
	got := s.tags()
	for i, id := range contacts {
		if want := []string{fmt.Sprintf("t%d", i)}; !slices.Equal(got[id], want) {
			t.Errorf("contact %s: %v, want %v", id, got[id], want)
		}
	}
	if c.most < 2 || c.most > contacttags.MaxSenders {
		t.Errorf("at most %d calls in flight at once, want 2 to %d", c.most, contacttags.MaxSenders)
	}
	if len(c.twice) > 0 {
		t.Errorf("contacts in two calls at once: %v", c.twice)
	}
}

// sendBehindTheFirst has one caller per contact add add(i, contact) to
// it through m: the first caller's call is held (g) until every caller
// waits in the pool, then all go; each caller must end with every
// contact done.
func sendBehindTheFirst(t *testing.T, s *sim, m *contacttags.Merger, g *gated, contacts []string, add func(i int, contact string) []string) {
	t.Helper()
	var wg sync.WaitGroup
	results := make([]contacttags.Result, len(contacts))
	for i, c := range contacts {
		wg.Go(func() {
			results[i] = m.Send(context.Background(), s.loc, map[string]contacttags.Diff{c: {Add: add(i, c)}})
		})
		if i == 0 {
			waitFor(t, func() bool { return g.calls.Load() == 1 })
		}
	}
	waitFor(t, func() bool { return m.Waiting(s.loc, ghl.LaneInteractive) == len(contacts) })
	close(g.open)
	wg.Wait()
	for i, r := range results {
		if r.Err != nil || len(r.Failed)+len(r.Incomplete) > 0 {
			t.Errorf("caller %d: %+v", i, r)
		}
	}
}
