package contactsync

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/relations"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// set stores v as JSON under key in f.
func (f *fakes) set(t *testing.T, key string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	f.next++
	f.values[key], f.revs[key] = data, f.next
}

// A renamed tag is renamed on every contact of the posts it is listed
// under, also when the handler fails between the HighLevel writes and the
// stored state of one contact (a crash) and the event comes back; done
// again, it writes nothing: a tag someone added back by hand stays.
func TestRenamedTagFollowedAcrossARestart(t *testing.T) {
	f := newFakes()
	f.catalogue = relations.Catalogue{Tags: []relations.Tag{{ID: "t2", Name: "Big Sale"}}, FetchedAt: fetched}
	contacts := []string{"c1", "c2", "c3"}
	f.set(t, relations.TagPostsKey("loc1", "t2"), relations.TagPosts{PostIDs: []string{"p1"}})
	f.set(t, relations.PostContactsKey("loc1", "p1"), relations.PostContacts{ContactIDs: contacts})
	for _, c := range contacts {
		f.set(t, relations.ContactKey("loc1", c), relations.ContactState{Posts: map[string][]string{"p1": {"Sale", "Spring"}},
			Applied: []string{"social:sale", "social:spring"}})
		f.Tags[c] = []string{"social:sale", "social:spring", "vip"}
	}
	h := newHandler(t, f)
	crash := true
	h.w.beforeCommit = func(c string) error {
		if c == "c2" && crash {
			crash = false
			return errors.New("crash")
		}
		return nil
	}
	in := tagEvent{loc: "loc1", ev: &socialsyncv1.TagChanged{LocationId: "loc1", TagId: "t2", TagName: "Big Sale", PreviousName: "Sale",
		Change: socialsyncv1.Change_CHANGE_RENAMED, Timestamp: timestamppb.New(fetched)}}
	if _, err := h.handleTag(context.Background(), in); err == nil {
		t.Fatal("the crash went unnoticed")
	}
	if _, err := h.handleTag(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	want := []string{"social:big sale", "social:spring", "vip"}
	for _, c := range contacts {
		slices.Sort(f.Tags[c])
		if diff := cmp.Diff(want, f.Tags[c]); diff != "" {
			t.Errorf("%s tags (-want +got):\n%s", c, diff)
		}
		var st relations.ContactState
		if _, err := f.Load(context.Background(), relations.ContactKey("loc1", c), &st); err != nil || !slices.Equal(st.Posts["p1"], []string{"Big Sale", "Spring"}) {
			t.Errorf("%s state %+v, %v", c, st, err)
		}
	}

	// Delivered again after someone put the old tag back by hand: no
	// write, the hand's tag stays.
	f.Tags["c1"] = append(f.Tags["c1"], "social:sale")
	if _, err := h.handleTag(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.Tags["c1"], "social:sale") {
		t.Errorf("the event delivered again removed a tag added by hand: %v", f.Tags["c1"])
	}
}

// A tag event waits for the catalogue it came from (the fetcher publishes
// changes before it stores the catalogue); a deleted tag then leaves the
// contacts; created and discovered tags, and change values this build
// does not know, are acknowledged with nothing done.
func TestTagEventWaitsForItsCatalogue(t *testing.T) {
	f := newFakes()
	f.catalogue = relations.Catalogue{Tags: []relations.Tag{{ID: "t1", Name: "Spring"}}, Deleted: []relations.Tag{{ID: "t2", Name: "Sale"}},
		FetchedAt: fetched.Add(-time.Minute)}
	f.set(t, relations.TagPostsKey("loc1", "t2"), relations.TagPosts{PostIDs: []string{"p1"}})
	f.set(t, relations.PostContactsKey("loc1", "p1"), relations.PostContacts{ContactIDs: []string{"c1"}})
	f.set(t, relations.ContactKey("loc1", "c1"), relations.ContactState{Posts: map[string][]string{"p1": {"Sale"}}, Applied: []string{"social:sale"}})
	f.Tags["c1"] = []string{"social:sale"}
	h := newHandler(t, f)
	h.w.now = func() time.Time { return fetched.Add(time.Second) }
	for _, c := range []socialsyncv1.Change{socialsyncv1.Change_CHANGE_CREATED, socialsyncv1.Change_CHANGE_DISCOVERED, socialsyncv1.Change(99)} {
		in := tagEvent{loc: "loc1", ev: &socialsyncv1.TagChanged{LocationId: "loc1", TagId: "t2", TagName: "Sale", Change: c, Timestamp: timestamppb.New(fetched)}}
		if _, err := h.handleTag(context.Background(), in); err != nil || len(f.Tags["c1"]) != 1 {
			t.Errorf("%v: %v, tags %v; want nothing done", c, err, f.Tags["c1"])
		}
	}
	in := tagEvent{loc: "loc1", ev: &socialsyncv1.TagChanged{LocationId: "loc1", TagId: "t2", TagName: "Sale",
		Change: socialsyncv1.Change_CHANGE_DELETED, Timestamp: timestamppb.New(fetched)}}
	_, err := h.handleTag(context.Background(), in)
	var d interface{ DeferFor() time.Duration }
	if !errors.As(err, &d) || len(f.Tags["c1"]) != 1 {
		t.Fatalf("before its catalogue is stored: %v, tags %v; want a deferral", err, f.Tags["c1"])
	}
	f.catalogue.FetchedAt = fetched
	if _, err := h.handleTag(context.Background(), in); err != nil || len(f.Tags["c1"]) != 0 {
		t.Errorf("once stored: %v, tags %v; want social:sale gone", err, f.Tags["c1"])
	}
}
