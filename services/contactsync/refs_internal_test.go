package contactsync

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/settings"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// refEvent is postEvent naming one contact by email.
func refEvent(addr string) delivery {
	d := postEvent([]string{"t1"}, nil, fetched.Add(-time.Minute))
	d.ev.Contacts = []*socialsyncv1.ContactRef{{Ref: &socialsyncv1.ContactRef_Email{Email: addr}}}
	return d
}

// The pending record decides who creates a contact: a fresh one defers
// the event, a stale one (its replica died) is taken over; a failed
// creation gives it up; a refused one is the reference's dead letter.
func TestPendingCreation(t *testing.T) {
	const addr = "new@example.com"
	setup := func(t *testing.T) (*fakes, *handler, string) {
		f := newFakes()
		f.catalogue = cat
		f.mapping = &settings.Mapping{Location: "loc1", Contacts: settings.ContactsMapping{CreateMissing: true}}
		h := newHandler(t, f)
		return f, h, h.refs.key("loc1", bus.ContactRef{Kind: bus.RefEmail, Value: addr})
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // newHandler's clock

	t.Run("fresh pending defers", func(t *testing.T) {
		f, h, key := setup(t)
		if _, err := f.Save(context.Background(), key, refRecord{Pending: now.Add(-5 * time.Second)}, 0); err != nil {
			t.Fatal(err)
		}
		_, err := h.handle(context.Background(), refEvent(addr))
		var d interface{ DeferFor() time.Duration }
		if !errors.As(err, &d) || d.DeferFor() != pendingRetry || len(f.upserts) != 0 {
			t.Fatalf("handle = %v (%d upserts); want a deferral of %s and no upsert", err, len(f.upserts), pendingRetry)
		}
	})
	t.Run("stale pending is taken over", func(t *testing.T) {
		f, h, key := setup(t)
		if _, err := f.Save(context.Background(), key, refRecord{Pending: now.Add(-pendingStale - time.Second)}, 0); err != nil {
			t.Fatal(err)
		}
		res, err := h.handle(context.Background(), refEvent("NEW@example.com"))
		if err != nil || len(res.DeadLetters) != 0 {
			t.Fatalf("handle = %+v, %v", res, err)
		}
		if len(f.upserts) != 1 || f.upserts[0].Email != addr || !slices.Equal(f.Tags["new1"], []string{"social:spring"}) {
			t.Errorf("upserts %+v, tags %v; want one upsert of %s and new1 tagged", f.upserts, f.Tags, addr)
		}
		var rec refRecord
		if _, err := f.Load(context.Background(), key, &rec); err != nil || rec.ContactID != "new1" {
			t.Errorf("cached %+v, %v; want new1", rec, err)
		}
	})
	t.Run("refused creation", func(t *testing.T) {
		f, h, key := setup(t)
		f.upsertErr = &ghl.Error{Method: "POST", Path: "/contacts/upsert", StatusCode: http.StatusUnprocessableEntity,
			Messages: []string{"email is invalid"}, Kind: ghl.KindPermanent}
		res, err := h.handle(context.Background(), refEvent(addr))
		if err != nil || len(res.DeadLetters) != 1 || res.DeadLetters[0].Item != "contactref 0" ||
			!strings.Contains(res.DeadLetters[0].Reason, "refused to create") || strings.Contains(res.DeadLetters[0].Reason, addr) {
			t.Fatalf("handle = %+v, %v; want contactref 0 dead-lettered without the address", res, err)
		}
		if rev, _ := f.Load(context.Background(), key, &refRecord{}); rev != 0 {
			t.Errorf("the pending record is left")
		}
	})
	t.Run("failed creation is retried", func(t *testing.T) {
		f, h, key := setup(t)
		f.upsertErr = &ghl.Error{Method: "POST", Path: "/contacts/upsert", StatusCode: http.StatusBadGateway, Kind: ghl.KindRetryable}
		if _, err := h.handle(context.Background(), refEvent(addr)); err == nil {
			t.Fatal("handle succeeded; want the event retried")
		}
		if rev, _ := f.Load(context.Background(), key, &refRecord{}); rev != 0 {
			t.Errorf("the pending record is left: the retry would wait for it to go stale")
		}
	})
	t.Run("off by default", func(t *testing.T) {
		f, h, _ := setup(t)
		f.mapping = nil
		res, err := h.handle(context.Background(), refEvent(addr))
		if err != nil || len(res.DeadLetters) != 1 || !strings.Contains(res.DeadLetters[0].Reason, "createMissing is off") || len(f.upserts) != 0 {
			t.Fatalf("handle = %+v, %v, %d upserts; want the reference dead-lettered, nothing created", res, err, len(f.upserts))
		}
	})
}

// A replayed dead letter of a reference redoes that reference's contact
// only; the event's other contacts stay linked to the post.
func TestReplayedReference(t *testing.T) {
	f := newFakes()
	f.catalogue = cat
	f.found = map[string]string{"ann@example.com": "c9"}
	h := newHandler(t, f)
	d := refEvent("ann@example.com")
	d.ev.ContactIds = []string{"c1"}
	d.replay = "contactref 0"
	res, err := h.handle(context.Background(), d)
	if err != nil || len(res.DeadLetters) != 0 {
		t.Fatalf("handle = %+v, %v", res, err)
	}
	if !slices.Equal(f.Tags["c9"], []string{"social:spring"}) || len(f.Tags["c1"]) != 0 {
		t.Errorf("tags %v; want c9 tagged and c1 untouched", f.Tags)
	}
}

// Keys are per location and hold no part of the reference.
func TestRefKeys(t *testing.T) {
	k := newRefKeys("secret")
	r := bus.ContactRef{Kind: bus.RefEmail, Value: "ann@example.com"}
	a, b := k.key("loc1", r), k.key("loc2", r)
	if !strings.HasPrefix(a, "loc1.") || !strings.HasPrefix(b, "loc2.") || a[5:] == b[5:] {
		t.Errorf("keys %q, %q: want per-location hashes", a, b)
	}
	if a == newRefKeys("other").key("loc1", r) {
		t.Error("the key does not depend on the secret")
	}
	if a == k.key("loc1", bus.ContactRef{Kind: bus.RefExternalID, Value: "ann@example.com"}) {
		t.Error("the key does not depend on the kind")
	}
	if strings.Contains(a, "ann") || strings.Contains(a, "example") || !validKeyPart(strings.ReplaceAll(a[5:], "-", "_")) {
		t.Errorf("key %q", a)
	}
}

// A reference that finds no contact unlinks none of the post's known
// contacts: it may stand for one of them.
func TestUnresolvedReferenceKeepsKnownContacts(t *testing.T) {
	f := newFakes()
	f.catalogue = cat
	h := newHandler(t, f)
	first := postEvent([]string{"t1"}, []string{"c1", "c2"}, fetched.Add(-time.Minute))
	if _, err := h.handle(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	next := refEvent("gone@example.com")
	next.ev.ContactIds = []string{"c2"}
	res, err := h.handle(context.Background(), next)
	if err != nil || len(res.DeadLetters) != 1 {
		t.Fatalf("handle = %+v, %v; want the reference dead-lettered", res, err)
	}
	if !slices.Equal(f.Tags["c1"], []string{"social:spring"}) {
		t.Errorf("tags of c1 = %v; want kept", f.Tags["c1"])
	}
	// Without an unresolved reference, the unlisted contact is unlinked.
	last := postEvent([]string{"t1"}, []string{"c2"}, fetched.Add(-time.Minute))
	if _, err := h.handle(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	if len(f.Tags["c1"]) != 0 {
		t.Errorf("tags of c1 = %v; want removed", f.Tags["c1"])
	}
}
