package fetcher

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/fetcher/catalogue"
)

// Fast tests of the fetcher's handlers on fakes of its own interfaces:
// no JetStream, no simulator. fetcher_test.go runs the same paths on the
// real ones.

// published is one message a fake publisher was given.
type published struct {
	Subject string
	ID      string
	Msg     proto.Message
}

// fakes are the fetcher's dependencies in memory; log records, in order,
// each publish ("publish <subject>") and store ("store <loc>").
type fakes struct {
	published []published
	log       []string
	stored    map[string]relations.Catalogue
	revs      map[string]uint64
	// conflicts is how many stores fail with a conflict before one
	// succeeds; onConflict runs at each, as another replica's store.
	conflicts  int
	onConflict func()
	tags       []ghl.SocialTag
	listed     int
	lastSeq    map[string]uint64
	posts      map[string][]ghl.Post // by listing type: "all", "deleted"
}

func newFakes() *fakes {
	return &fakes{stored: map[string]relations.Catalogue{}, revs: map[string]uint64{}, lastSeq: map[string]uint64{}}
}

func (f *fakes) Publish(_ context.Context, subject string, m proto.Message, opts ...bus.PublishOption) (*jetstream.PubAck, error) {
	f.published = append(f.published, published{Subject: subject, ID: bus.MsgIDOf(opts...), Msg: m})
	f.log = append(f.log, "publish "+subject)
	return &jetstream.PubAck{}, nil
}

func (f *fakes) Locations(context.Context) ([]creds.Location, error) { return nil, nil }

func (f *fakes) AllSocialTags(context.Context, string) ([]ghl.SocialTag, error) {
	f.listed++
	return f.tags, nil
}

func (f *fakes) ListPosts(_ context.Context, _ string, req ghl.ListPostsRequest) (ghl.PostsResults, error) {
	if req.Skip != "0" {
		return ghl.PostsResults{}, nil
	}
	return ghl.PostsResults{Posts: f.posts[req.Type]}, nil
}

func (f *fakes) Load(_ context.Context, loc string) (relations.Catalogue, uint64, error) {
	return f.stored[loc], f.revs[loc], nil
}

func (f *fakes) Store(_ context.Context, loc string, c relations.Catalogue, rev uint64) error {
	if f.conflicts > 0 {
		f.conflicts--
		f.onConflict()
		return revision.ErrConflict
	}
	if rev != f.revs[loc] {
		return revision.ErrConflict
	}
	f.stored[loc], f.revs[loc] = c, rev+1
	f.log = append(f.log, "store "+loc)
	return nil
}

func (f *fakes) Last(_ context.Context, subject string) (uint64, bool, error) {
	seq, ok := f.lastSeq[subject]
	return seq, ok, nil
}

// cursors are Cursors in memory.
type cursors struct {
	c   map[string]catalogue.PollCursor
	rev map[string]uint64
}

func (c *cursors) Load(_ context.Context, loc string) (catalogue.PollCursor, uint64, error) {
	return c.c[loc], c.rev[loc], nil
}

func (c *cursors) Store(_ context.Context, loc string, cur catalogue.PollCursor, rev uint64) (uint64, error) {
	if c.rev[loc] != rev {
		return 0, revision.ErrConflict
	}
	c.c[loc], c.rev[loc] = cur, rev+1
	return rev + 1, nil
}

var t0 = time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC)

// newTestWorker returns a fetcher on f, its clock at t0.
func newTestWorker(t *testing.T, f *fakes) *Worker {
	t.Helper()
	return newPollingWorker(t, f, &cursors{c: map[string]catalogue.PollCursor{}, rev: map[string]uint64{}})
}

// newPollingWorker is newTestWorker with cursors for the poller, which
// polls every minute.
func newPollingWorker(t *testing.T, f *fakes, cur *cursors) *Worker {
	t.Helper()
	cfg := Config{Concurrency: 1, RefreshInterval: time.Second, PollInterval: time.Minute, PollWindow: time.Hour}
	cfg.Config = fleet.DefaultConfig()
	cfg.TokenKey = creds.NewKey()
	w, err := New(cfg, Deps{Publisher: f, Locations: f, Client: func(string) Client { return f }, Catalogues: f,
		Cursors: cur, Refreshes: f, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w.now = func() time.Time { return t0 }
	return w
}

// tagChange is a published TagChanged, as the tests compare it.
type tagChange struct {
	ID     string
	Tag    string
	Change socialsyncv1.Change
}

// sent returns the TagChanged f was given, by tag, and the tag ids of
// each TagDetailsRequested.
func (f *fakes) sent() ([]tagChange, [][]string) {
	var changes []tagChange
	var details [][]string
	for _, p := range f.published {
		switch m := p.Msg.(type) {
		case *socialsyncv1.TagChanged:
			changes = append(changes, tagChange{p.ID, m.GetTagId(), m.GetChange()})
		case *socialsyncv1.TagDetailsRequested:
			details = append(details, m.GetTagIds())
		}
	}
	slices.SortFunc(changes, func(a, b tagChange) int { return strings.Compare(a.Tag, b.Tag) })
	return changes, details
}

func notReplaced() (bool, error) { return false, nil }

// A refresh publishes a TagChanged per change, with ids from the stored
// revision, and one details request for the new and renamed tags, and
// only then stores the catalogue, with the deleted tag's tombstone.
func TestRefreshPublishesChangesBeforeStoring(t *testing.T) {
	f := newFakes()
	f.stored["loc1"] = relations.NewCatalogue([]relations.Tag{{ID: "tagA", Name: "Alpha"}, {ID: "tagB", Name: "Beta"}}, t0.Add(-time.Hour))
	f.revs["loc1"] = 3
	f.tags = []ghl.SocialTag{{ID: "tagA", Tag: "Alpha 2"}, {ID: "tagC", Tag: "Gamma"}}
	w := newTestWorker(t, f)

	if err := w.refresh(context.Background(), "loc1", nil, notReplaced); err != nil {
		t.Fatal(err)
	}
	changes, details := f.sent()
	want := []tagChange{
		{"tagchanged:loc1:tagA:renamed:3", "tagA", socialsyncv1.Change_CHANGE_RENAMED},
		{"tagchanged:loc1:tagB:deleted:3", "tagB", socialsyncv1.Change_CHANGE_DELETED},
		{"tagchanged:loc1:tagC:created:3", "tagC", socialsyncv1.Change_CHANGE_CREATED},
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("tag changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"tagC", "tagA"}}, details); diff != "" {
		t.Errorf("details requested (-want +got):\n%s", diff)
	}
	if last := f.log[len(f.log)-1]; last != "store loc1" {
		t.Errorf("last step %q, want the store after every publish (steps %v)", last, f.log)
	}
	got := f.stored["loc1"]
	if diff := cmp.Diff([]relations.Tag{{ID: "tagA", Name: "Alpha 2"}, {ID: "tagC", Name: "Gamma"}}, got.Tags); diff != "" {
		t.Errorf("stored tags (-want +got):\n%s", diff)
	}
	if !got.FetchedAt.Equal(t0) || len(got.Deleted) != 1 || got.Deleted[0].ID != "tagB" {
		t.Errorf("stored %+v; want fetched at %v with tagB's tombstone", got, t0)
	}
}

// A catalogue fetched less than RefreshInterval ago defers the refresh
// for the rest of the interval, without asking HighLevel.
func TestRefreshTooSoonDefers(t *testing.T) {
	f := newFakes()
	f.stored["loc1"] = relations.NewCatalogue(nil, t0.Add(-300*time.Millisecond))
	w := newTestWorker(t, f)
	err := w.refresh(context.Background(), "loc1", nil, notReplaced)
	var d interface{ DeferFor() time.Duration }
	if !errors.As(err, &d) || d.DeferFor() != 700*time.Millisecond || !errors.Is(err, errTooSoon) {
		t.Fatalf("refresh = %v, want errTooSoon deferred for 700ms", err)
	}
	if f.listed != 0 || len(f.published) != 0 {
		t.Errorf("%d catalogue fetches and %d publishes, want none", f.listed, len(f.published))
	}
}

// A refresh whose store loses the race to another replica's later fetch
// drops its own result: the later catalogue stays.
func TestRefreshLosingToALaterFetchKeepsIt(t *testing.T) {
	f := newFakes()
	f.tags = []ghl.SocialTag{{ID: "tagA", Tag: "Alpha"}}
	later := relations.NewCatalogue([]relations.Tag{{ID: "tagA", Name: "Alpha"}, {ID: "tagZ", Name: "Zeta"}}, t0.Add(time.Second))
	f.conflicts = 1
	f.onConflict = func() { f.stored["loc1"], f.revs["loc1"] = later, 7 }
	w := newTestWorker(t, f)
	if err := w.refresh(context.Background(), "loc1", nil, notReplaced); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(later, f.stored["loc1"]); diff != "" || f.revs["loc1"] != 7 {
		t.Errorf("stored (-want +got):\n%s (revision %d, want 7)", diff, f.revs["loc1"])
	}
}

// A refresh that a newer one replaced is not fetched; a post trigger
// becomes its location's pending refresh, under an id naming the trigger.
func TestSupersededAndRequestRefresh(t *testing.T) {
	f := newFakes()
	f.lastSeq["socialsync.refresh.catalogue.loc1"] = 10
	w := newTestWorker(t, f)
	ctx := context.Background()
	for _, tt := range []struct {
		subject string
		seq     uint64
		want    bool
	}{
		{"socialsync.refresh.catalogue.loc1", 10, false},
		{"socialsync.refresh.catalogue.loc1", 9, true},
		{"socialsync.refresh.catalogue.loc2", 1, true}, // none pending: one ran already
	} {
		if got, err := w.superseded(ctx, tt.subject, tt.seq); err != nil || got != tt.want {
			t.Errorf("superseded(%s, %d) = %v, %v; want %v", tt.subject, tt.seq, got, err, tt.want)
		}
	}
	if err := w.requestRefresh(ctx, "loc1", &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1"}, 42); err != nil {
		t.Fatal(err)
	}
	if got := f.published[0]; got.Subject != "socialsync.refresh.catalogue.loc1" || got.ID != "refresh:loc1:42" {
		t.Errorf("published %s as %q, want socialsync.refresh.catalogue.loc1 as refresh:loc1:42", got.Subject, got.ID)
	}
}

// A poll publishes a post trigger for each post updated since the cursor
// (a deleted one as a deletion), moves the cursor to the latest update,
// and polls no more until the interval has passed.
func TestPollPublishesUpdatedPostsOnce(t *testing.T) {
	f := newFakes()
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	f.posts = map[string][]ghl.Post{
		"all": {
			{ID: "post1", Tags: []string{"tagA"}, CreatedAt: at(-2 * time.Hour), UpdatedAt: at(-2 * time.Hour)}, // before the cursor
			{ID: "post2", Tags: []string{"tagB", "bad.id"}, CreatedAt: at(-time.Hour), UpdatedAt: at(-10 * time.Minute)},
		},
		"deleted": {{ID: "post3", Status: "deleted", CreatedAt: at(-time.Hour), UpdatedAt: at(-5 * time.Minute)}},
	}
	cur := &cursors{c: map[string]catalogue.PollCursor{"loc1": {Since: t0.Add(-90 * time.Minute)}}, rev: map[string]uint64{"loc1": 1}}
	w := newPollingWorker(t, f, cur)
	ctx := context.Background()

	n, err := w.pollLocation(ctx, "loc1")
	if err != nil || n != 2 {
		t.Fatalf("pollLocation = %d, %v; want 2 posts", n, err)
	}
	type trigger struct {
		Subject, Post string
		Change        socialsyncv1.Change
		Tags          []string
	}
	var got []trigger
	for _, p := range f.published {
		ev := p.Msg.(*socialsyncv1.PostEvent)
		got = append(got, trigger{p.Subject, ev.GetPostId(), ev.GetChange(), ev.GetTagIds()})
	}
	want := []trigger{
		{"socialsync.trigger.post.loc1", "post2", socialsyncv1.Change_CHANGE_UPDATED, []string{"tagB"}},
		{"socialsync.trigger.post.loc1", "post3", socialsyncv1.Change_CHANGE_DELETED, nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("post triggers (-want +got):\n%s", diff)
	}
	if c := cur.c["loc1"]; !c.Since.Equal(t0.Add(-5*time.Minute)) || !c.PolledAt.Equal(t0) {
		t.Errorf("cursor %+v; want since the latest update, polled at %v", c, t0)
	}
	if n, err := w.pollLocation(ctx, "loc1"); n != 0 || err != nil || len(f.published) != 2 {
		t.Errorf("a second poll within the interval: %d, %v, %d published; want nothing", n, err, len(f.published))
	}
}
