package enricher

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/enricher/enrichment"
)

// Fast tests of the enricher's handlers on fakes of its own interfaces:
// no JetStream, no simulator. enricher_test.go runs the same paths on the
// real ones.

// records is Records in memory, with revisions as a bucket keeps them.
type records struct {
	data map[string][]byte
	revs map[string]uint64
	last uint64
	// race, when set, runs before a Put or Delete, as another replica's
	// write; it is cleared after it runs once.
	race func()
}

func newRecords() *records { return &records{data: map[string][]byte{}, revs: map[string]uint64{}} }

func (r *records) Get(_ context.Context, key string) ([]byte, uint64, error) {
	return r.data[key], r.revs[key], nil
}

func (r *records) set(key string, data []byte) {
	r.last++
	if data == nil {
		delete(r.data, key)
		delete(r.revs, key)
		return
	}
	r.data[key], r.revs[key] = data, r.last
}

func (r *records) write(key string, data []byte, rev uint64) error {
	if race := r.race; race != nil {
		r.race = nil
		race()
	}
	if r.revs[key] != rev {
		return revision.ErrConflict
	}
	r.set(key, data)
	return nil
}

func (r *records) Put(_ context.Context, key string, data []byte, rev uint64) error {
	return r.write(key, data, rev)
}

func (r *records) Delete(_ context.Context, key string, rev uint64) error {
	return r.write(key, nil, rev)
}

// unused stands for the dependencies a test does not reach.
type unused struct{}

func (unused) Location(context.Context, string) (creds.Location, error) {
	return creds.Location{}, errors.New("not in this test")
}
func (unused) DisableFeature(context.Context, string, creds.Feature, string) error { return nil }

// quiet publishes nothing and names contact tags by the prefix.
type quiet struct{}

func (quiet) Publish(context.Context, string, proto.Message, ...bus.PublishOption) (*jetstream.PubAck, error) {
	return &jetstream.PubAck{}, nil
}

func (quiet) ContactTagNaming(_ context.Context, _ string, fallback func(string) string, _ *slog.Logger) (func(string) string, error) {
	return fallback, nil
}

// newTestWorker returns an enricher on the stores given, its clock at t0.
func newTestWorker(t *testing.T, details, rel *records) *Worker {
	t.Helper()
	cfg := Config{Config: fleet.DefaultConfig(), Concurrency: 1, ContactTagPrefix: "social:"}
	cfg.TokenKey = creds.NewKey()
	w, err := New(cfg, Deps{Publisher: quiet{}, Locations: unused{}, Client: func(string) Client { return nil },
		Details: details, Relations: rel, Naming: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	w.now = func() time.Time { return t0 }
	return w
}

var t0 = time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC)

// A deleted tag's stored details are marked deleted, once, even when
// another replica rewrote them in between.
func TestTagDeletedMarksDetails(t *testing.T) {
	details := newRecords()
	key := relations.DetailsKey("loc1", "tagA")
	stored, _ := protojson.Marshal(fromDetail(enrichment.Detail{ID: "tagA", Name: "Alpha", UpdatedAt: t0.Add(-time.Hour)}))
	details.set(key, stored)
	details.race = func() { details.set(key, stored) } // same value, new revision
	w := newTestWorker(t, details, newRecords())

	ev := &socialsyncv1.TagChanged{LocationId: "loc1", TagId: "tagA", Change: socialsyncv1.Change_CHANGE_DELETED, Timestamp: timestamppb.New(t0)}
	if err := w.applyTagEvent(context.Background(), "loc1", ev); err != nil {
		t.Fatal(err)
	}
	var got socialsyncv1.TagDetail
	if err := protojson.Unmarshal(details.data[key], &got); err != nil {
		t.Fatal(err)
	}
	if !got.GetDeleted() || got.GetTagName() != "Alpha" {
		t.Errorf("stored %v, want Alpha marked deleted", &got)
	}
	rev := details.revs[key]
	if err := w.applyTagEvent(context.Background(), "loc1", ev); err != nil || details.revs[key] != rev {
		t.Errorf("again: %v, revision %d → %d; want nothing written", err, rev, details.revs[key])
	}
	// A rename needs nothing here; an unknown tag's deletion neither, nor
	// a discovered tag (its details come on the fetcher's request), nor a
	// change value newer than this build, which is acknowledged.
	for _, ev := range []*socialsyncv1.TagChanged{
		{LocationId: "loc1", TagId: "tagA", Change: socialsyncv1.Change_CHANGE_RENAMED},
		{LocationId: "loc1", TagId: "tagA", Change: socialsyncv1.Change_CHANGE_DISCOVERED},
		{LocationId: "loc1", TagId: "tagA", Change: socialsyncv1.Change(99)},
		{LocationId: "loc1", TagId: "tagZ", Change: socialsyncv1.Change_CHANGE_DELETED},
	} {
		if err := w.applyTagEvent(context.Background(), "loc1", ev); err != nil || details.revs[key] != rev || len(details.data) != 1 {
			t.Errorf("%v: %v; want nothing written", ev, err)
		}
	}
}

// A post lists under its tags, and a later event moving it from one tag
// to another takes it out of the first list (deleted once empty).
func TestApplyPostMovesListings(t *testing.T) {
	rel := newRecords()
	w := newTestWorker(t, newRecords(), rel)
	ctx := context.Background()
	posts := func(tag string) []string {
		data := rel.data[relations.TagPostsKey("loc1", tag)]
		if data == nil {
			return nil
		}
		tp, err := relations.UnmarshalTagPosts(data)
		if err != nil {
			t.Fatal(err)
		}
		return tp.PostIDs
	}

	if err := w.applyPost(ctx, "loc1", enrichment.PostUpdate{PostKey: "p1", Change: enrichment.PostCreated, TagIDs: []string{"tagA", "tagB"}, OccurredAt: t0}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"p1"}, {"p1"}}, [][]string{posts("tagA"), posts("tagB")}); diff != "" {
		t.Errorf("after create (-want +got):\n%s", diff)
	}
	if err := w.applyPost(ctx, "loc1", enrichment.PostUpdate{PostKey: "p1", Change: enrichment.PostUpdated, TagIDs: []string{"tagB"}, OccurredAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, listed := rel.data[relations.TagPostsKey("loc1", "tagA")]; listed || !cmp.Equal(posts("tagB"), []string{"p1"}) {
		t.Errorf("after update: tagA %v, tagB %v; want tagA's list gone, tagB [p1]", posts("tagA"), posts("tagB"))
	}
	// An older event arriving late changes nothing.
	if err := w.applyPost(ctx, "loc1", enrichment.PostUpdate{PostKey: "p1", Change: enrichment.PostUpdated, TagIDs: []string{"tagA"}, OccurredAt: t0.Add(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if posts("tagA") != nil || !cmp.Equal(posts("tagB"), []string{"p1"}) {
		t.Errorf("after a stale event: tagA %v, tagB %v; want unchanged", posts("tagA"), posts("tagB"))
	}
	if err := w.applyPost(ctx, "loc1", enrichment.PostUpdate{PostKey: "p1", Change: enrichment.PostDeleted, OccurredAt: t0.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if len(rel.data) != 0 {
		t.Errorf("after delete the relations hold %v, want nothing", rel.data)
	}
}

// mirrorFakes serve the details handler: HighLevel's tags and contact
// tags, the location's record, and what was published and disabled.
type mirrorFakes struct {
	quiet
	social    []ghl.SocialTag
	contact   []string
	created   []string
	refuse    bool // EnsureLocationTag refused for a missing scope
	disabled  []string
	published []string // message ids
}

func (f *mirrorFakes) Publish(_ context.Context, _ string, _ proto.Message, opts ...bus.PublishOption) (*jetstream.PubAck, error) {
	f.published = append(f.published, bus.MsgIDOf(opts...))
	return &jetstream.PubAck{}, nil
}

func (f *mirrorFakes) Location(_ context.Context, loc string) (creds.Location, error) {
	return creds.Location{ID: loc}, nil
}

func (f *mirrorFakes) DisableFeature(_ context.Context, _ string, feature creds.Feature, scope string) error {
	f.disabled = append(f.disabled, string(feature)+" "+scope)
	return nil
}

func (f *mirrorFakes) TagDetails(_ context.Context, _ string, ids []string) ([]ghl.SocialTag, error) {
	var out []ghl.SocialTag
	for _, t := range f.social {
		if slices.Contains(ids, t.ID) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (f *mirrorFakes) LocationTags(context.Context, string) ([]ghl.LocationTag, error) {
	var out []ghl.LocationTag
	for _, n := range f.contact {
		out = append(out, ghl.LocationTag{Name: n})
	}
	return out, nil
}

func (f *mirrorFakes) EnsureLocationTag(_ context.Context, _, name string) (ghl.LocationTag, error) {
	if f.refuse {
		return ghl.LocationTag{}, &ghl.ScopeError{Scope: "locations/tags.write", Err: &ghl.Error{Method: "POST", Path: "/locations/{locationId}/tags", StatusCode: 401}}
	}
	f.created = append(f.created, name)
	return ghl.LocationTag{Name: name}, nil
}

func (f *mirrorFakes) DeleteLocationTag(context.Context, string, string) error { return nil }

func (f *mirrorFakes) SearchContacts(context.Context, ghl.SearchContactsRequest) (ghl.SearchContactsResponse, error) {
	return ghl.SearchContactsResponse{}, nil
}

// A details request stores each tag's details, creates the contact tags
// the location lacks (and no other), and announces the batch under an id
// naming the request. When HighLevel refuses the token the scope to
// create contact tags, mirroring is turned off for the location and the
// details are still stored and announced.
func TestDetailsStoredMirroredAnnounced(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		f := &mirrorFakes{
			social:  []ghl.SocialTag{{ID: "tagA", Tag: "Summer"}, {ID: "tagB", Tag: "Winter"}},
			contact: []string{"social:summer"},
			refuse:  refuse,
		}
		details := newRecords()
		cfg := Config{Config: fleet.DefaultConfig(), Concurrency: 1, ContactTagPrefix: "social:", MirrorLocationTags: true}
		cfg.TokenKey = creds.NewKey()
		w, err := New(cfg, Deps{Publisher: f, Locations: f, Client: func(string) Client { return f },
			Details: details, Relations: newRecords(), Naming: f})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.enrich(context.Background(), "loc1", []string{"tagA", "tagB"}, "req1"); err != nil {
			t.Fatalf("refuse %v: %v", refuse, err)
		}
		if len(details.data) != 2 {
			t.Errorf("refuse %v: %d details stored, want 2", refuse, len(details.data))
		}
		wantCreated, wantDisabled := []string{"social:Winter"}, []string(nil)
		if refuse {
			wantCreated, wantDisabled = nil, []string{string(creds.FeatureLocationTags) + " locations/tags.write"}
		}
		if diff := cmp.Diff(wantCreated, f.created, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("refuse %v: contact tags created (-want +got):\n%s", refuse, diff)
		}
		if diff := cmp.Diff(wantDisabled, f.disabled); diff != "" {
			t.Errorf("refuse %v: features turned off (-want +got):\n%s", refuse, diff)
		}
		if diff := cmp.Diff([]string{"tagdetailsstored:loc1:req1:0"}, f.published); diff != "" {
			t.Errorf("refuse %v: announced (-want +got):\n%s", refuse, diff)
		}
	}
}
