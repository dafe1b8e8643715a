package contactsync

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/settings"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync/reconcile"
)

// Fast tests of contactsync's post handler on fakes of its own
// interfaces: no JetStream, no simulator. contactsync_test.go runs the
// same paths on the real ones.

// fakes are contactsync's dependencies in memory.
type fakes struct {
	catalogue relations.Catalogue
	details   map[string]*socialsyncv1.TagDetail // by tag id
	values    map[string][]byte                  // relations, by key
	revs      map[string]uint64
	next      uint64
	// Tagger holds the contacts' tags in HighLevel and the contacts it
	// refuses (403, another location's).
	*fleettest.Tagger
	published []proto.Message
	// mapping is the location's, when set; found the contacts HighLevel
	// finds by email or phone; upserts the upserts asked, answered with
	// upsertErr or a new contact "new<n>".
	mapping   *settings.Mapping
	found     map[string]string
	upserts   []ghl.UpsertContactRequest
	upsertErr error
}

func newFakes() *fakes {
	return &fakes{details: map[string]*socialsyncv1.TagDetail{}, values: map[string][]byte{}, revs: map[string]uint64{},
		Tagger: fleettest.NewTagger()}
}

func (f *fakes) Publish(_ context.Context, _ string, m proto.Message, _ ...bus.PublishOption) (*jetstream.PubAck, error) {
	f.published = append(f.published, m)
	return &jetstream.PubAck{}, nil
}

func (f *fakes) CheckLane(string, ghl.Lane) error { return nil }
func (f *fakes) PeekLane(string, ghl.Lane) error  { return nil }

func (f *fakes) Catalogue(context.Context, string) (relations.Catalogue, error) {
	return f.catalogue, nil
}

// AwaitCatalogue does not wait: nothing stores another catalogue.
func (f *fakes) AwaitCatalogue(_ context.Context, _ string, after time.Time) (bool, error) {
	return f.catalogue.FetchedAt.After(after), nil
}

func (f *fakes) Detail(_ context.Context, _, tag string) (*socialsyncv1.TagDetail, error) {
	return f.details[tag], nil
}

func (f *fakes) Load(_ context.Context, key string, v any) (uint64, error) {
	if data, ok := f.values[key]; ok {
		return f.revs[key], json.Unmarshal(data, v)
	}
	return 0, nil
}

func (f *fakes) Save(_ context.Context, key string, v any, rev uint64) (uint64, error) {
	if f.revs[key] != rev {
		return 0, revision.ErrConflict
	}
	data, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	f.next++
	f.values[key], f.revs[key] = data, f.next
	return f.next, nil
}

func (f *fakes) Delete(_ context.Context, key string, rev uint64) error {
	if f.revs[key] != rev {
		return revision.ErrConflict
	}
	delete(f.values, key)
	delete(f.revs, key)
	return nil
}

func (f *fakes) Mapping(context.Context, string) (settings.Mapping, bool, error) {
	if f.mapping != nil {
		return *f.mapping, true, nil
	}
	return settings.Mapping{}, false, nil
}

func (f *fakes) Mapped(context.Context) ([]string, error) { return nil, nil }

func (f *fakes) ContactTagNaming(_ context.Context, _ string, fallback func(string) string, _ *slog.Logger) (func(string) string, error) {
	return fallback, nil
}

func (f *fakes) DeadLetterItem(context.Context, string, jetstream.Msg, string, bus.Class, string) (string, error) {
	panic("the handler does not dead-letter: its Result does")
}

func (f *fakes) ContactCustomFields(context.Context, string) ([]ghl.CustomFieldDef, error) {
	return nil, nil
}

func (f *fakes) SetContactCustomFields(context.Context, string, []ghl.CustomFieldInput) (ghl.Contact, error) {
	return ghl.Contact{}, nil
}

func (f *fakes) DuplicateContact(_ context.Context, _, email, phone string) (ghl.Contact, bool, error) {
	id, ok := f.found[email+phone]
	return ghl.Contact{ID: id}, ok, nil
}

func (f *fakes) SearchContacts(context.Context, ghl.SearchContactsRequest) (ghl.SearchContactsResponse, error) {
	return ghl.SearchContactsResponse{}, nil
}

func (f *fakes) UpsertContact(_ context.Context, req ghl.UpsertContactRequest) (ghl.UpsertContactResponse, error) {
	f.upserts = append(f.upserts, req)
	if f.upsertErr != nil {
		return ghl.UpsertContactResponse{}, f.upsertErr
	}
	return ghl.UpsertContactResponse{New: true, Contact: ghl.Contact{ID: "new" + strconv.Itoa(len(f.upserts))}}, nil
}

// noStates lists no contact state: the handler tests do not reconcile.
type noStates struct{}

func (noStates) ContactStates(context.Context, string) ([]reconcile.Contact, error) { return nil, nil }

// newHandler returns contactsync's handler on f, singles only.
func newHandler(t *testing.T, f *fakes) *handler {
	t.Helper()
	cfg := Config{Concurrency: 1, TagPrefix: "social:", BulkMin: 100}
	cfg.TokenKey = "test key"
	w, err := New(cfg, Deps{
		Publisher: f, Pacer: f, Client: func(string) Client { return f },
		Catalogues: f, Details: f, Relations: f, ContactRefs: f, Mappings: f, States: noStates{}, DeadLetters: f, Purge: func(context.Context, string, string) error { return nil },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.now = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	return w.h
}

// postEvent is a post of loc with tags and contacts, arrived at arrived.
func postEvent(tags, contacts []string, arrived time.Time) delivery {
	return delivery{ev: &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1", TagIds: tags, ContactIds: contacts},
		loc: "loc1", arrived: arrived, seq: 1, delivered: 1}
}

var (
	fetched = time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	cat     = relations.Catalogue{
		Tags:      []relations.Tag{{ID: "t1", Name: "Spring"}, {ID: "t2", Name: "Sale"}},
		Deleted:   []relations.Tag{{ID: "t3", Name: "Winter"}},
		FetchedAt: fetched,
	}
)

// Every contact of a post gains the post's tags, and a ContactTagsChanged
// is published for each.
func TestPostTagsItsContacts(t *testing.T) {
	f := newFakes()
	f.catalogue = cat
	res, err := newHandler(t, f).handle(context.Background(), postEvent([]string{"t1", "t2"}, []string{"c1", "c2"}, fetched.Add(-time.Minute)))
	if err != nil || len(res.DeadLetters) > 0 {
		t.Fatalf("handle = %+v, %v; want done", res, err)
	}
	want := map[string][]string{"c1": {"social:sale", "social:spring"}, "c2": {"social:sale", "social:spring"}}
	for c := range f.Tags {
		slices.Sort(f.Tags[c])
	}
	if diff := cmp.Diff(want, f.Tags); diff != "" {
		t.Errorf("contact tags (-want +got):\n%s", diff)
	}
	if len(f.published) != 2 {
		t.Errorf("published %d ContactTagsChanged, want 2", len(f.published))
	}
}

// A tag the catalogue remembers deleted is skipped, named in the contact
// event; the post's other tags are applied.
func TestDeletedTagSkipped(t *testing.T) {
	f := newFakes()
	f.catalogue = cat
	res, err := newHandler(t, f).handle(context.Background(), postEvent([]string{"t1", "t3"}, []string{"c1"}, fetched.Add(-time.Minute)))
	if err != nil || len(res.DeadLetters) > 0 {
		t.Fatalf("handle = %+v, %v; want done", res, err)
	}
	if diff := cmp.Diff([]string{"social:spring"}, f.Tags["c1"]); diff != "" {
		t.Errorf("tags of c1 (-want +got):\n%s", diff)
	}
	if len(f.published) != 1 {
		t.Fatalf("published %d messages, want 1", len(f.published))
	}
	sk := f.published[0].(*socialsyncv1.ContactTagsChanged).GetSkipped()
	if len(sk) != 1 || sk[0].GetTagId() != "t3" || sk[0].GetReason() != skippedDeleted {
		t.Errorf("skipped = %v, want t3 %q", sk, skippedDeleted)
	}
}

// A contact HighLevel refuses is an item dead letter of the Result; the
// event's other contacts are done, and the refused one is not recorded
// as the post's.
func TestRefusedContactDeadLettered(t *testing.T) {
	f := newFakes()
	f.catalogue = cat
	f.Refused["c2"] = true
	res, err := newHandler(t, f).handle(context.Background(), postEvent([]string{"t1"}, []string{"c1", "c2", "c3"}, fetched.Add(-time.Minute)))
	if err != nil {
		t.Fatalf("handle: %v, want the event done", err)
	}
	if len(res.DeadLetters) != 1 || res.DeadLetters[0].Item != "contact c2" || !strings.Contains(res.DeadLetters[0].Reason, "post p1") {
		t.Errorf("dead letters = %+v, want contact c2 of post p1", res.DeadLetters)
	}
	for _, c := range []string{"c1", "c3"} {
		if !slices.Equal(f.Tags[c], []string{"social:spring"}) {
			t.Errorf("tags of %s = %v, want [social:spring]", c, f.Tags[c])
		}
	}
	var pc relations.PostContacts
	post, _ := bus.PostKey(&socialsyncv1.PostEvent{PostId: "p1"})
	if _, err := f.Load(context.Background(), relations.PostContactsKey("loc1", post), &pc); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pc.ContactIDs, []string{"c1", "c3"}) {
		t.Errorf("post's contacts = %v, want [c1 c3]", pc.ContactIDs)
	}
}

// A tag a catalogue fetched after the event never held is an item dead
// letter; one the catalogue may not know yet defers the event.
func TestUnknownTag(t *testing.T) {
	f := newFakes()
	f.catalogue = cat
	res, err := newHandler(t, f).handle(context.Background(), postEvent([]string{"t1", "t9"}, []string{"c1"}, fetched.Add(-time.Minute)))
	if err != nil || len(res.DeadLetters) != 1 || res.DeadLetters[0].Item != "tag t9" {
		t.Fatalf("handle = %+v, %v; want tag t9 dead-lettered", res, err)
	}
	if !slices.Equal(f.Tags["c1"], []string{"social:spring"}) {
		t.Errorf("tags of c1 = %v, want [social:spring]", f.Tags["c1"])
	}

	f = newFakes()
	f.catalogue = cat
	_, err = newHandler(t, f).handle(context.Background(), postEvent([]string{"t1", "t9"}, []string{"c1"}, fetched.Add(time.Minute)))
	var ute *UnknownTagsError
	if !errors.As(err, &ute) || !slices.Equal(ute.TagIDs, []string{"t9"}) {
		t.Fatalf("handle = %v, want an *UnknownTagsError for t9", err)
	}
	if len(f.Tags["c1"]) != 0 || len(f.published) != 1 {
		t.Errorf("tags %v, %d published; want none, and one refresh request", f.Tags["c1"], len(f.published))
	}
}
