package contactsync

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync/reconcile"
)

// noTagFilter is a HighLevel that refuses a contact search filtering by
// tag, and pages its contacts otherwise.
type noTagFilter struct {
	*fakes
	contacts []ghl.Contact
	searches int
}

func (c *noTagFilter) SearchContacts(_ context.Context, req ghl.SearchContactsRequest) (ghl.SearchContactsResponse, error) {
	c.searches++
	if len(req.Filters) > 0 {
		return ghl.SearchContactsResponse{}, &ghl.Error{Method: "POST", Path: "/contacts/search", StatusCode: http.StatusUnprocessableEntity,
			Messages: []string{"filters.0.field tags is not supported"}}
	}
	return ghl.SearchContactsResponse{Contacts: c.contacts, Total: len(c.contacts)}, nil
}

type someStates []reconcile.Contact

func (s someStates) ContactStates(context.Context, string) ([]reconcile.Contact, error) {
	return s, nil
}

// Where HighLevel refuses to search contacts by tag, a reconciliation
// reads every contact once a delivery and finds the same drift.
func TestReconcileScansWithoutTagFilter(t *testing.T) {
	f := newFakes()
	client := &noTagFilter{fakes: f, contacts: []ghl.Contact{
		{ID: "c1", Tags: []string{"social:sale", "vip"}},
		{ID: "c3", Tags: []string{"Social:Sale"}},
	}}
	old := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	states := someStates{
		{ID: "c1", State: relations.ContactState{Posts: map[string][]string{"p1": {"Sale"}}, Applied: []string{"social:sale"}}, WrittenAt: old},
		{ID: "c2", State: relations.ContactState{Posts: map[string][]string{"p1": {"Sale"}}, Applied: []string{"social:sale"}}, WrittenAt: old},
	}
	cfg := Config{Concurrency: 1, TagPrefix: "social:", BulkMin: 100}
	cfg.TokenKey = "test key"
	w, err := New(cfg, Deps{Publisher: f, Pacer: f, Client: func(string) Client { return client },
		Catalogues: f, Details: f, Relations: f, ContactRefs: f, Mappings: f, States: states, DeadLetters: f, Purge: func(context.Context, string, string) error { return nil }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w.now = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	if err := w.h.reconcile(context.Background(), "loc1", &socialsyncv1.ReconcileRequested{LocationId: "loc1", DryRun: true, RunId: "r1"}); err != nil {
		t.Fatal(err)
	}
	var run relations.ReconcileRun
	if _, err := f.Load(context.Background(), relations.ReconcileKey("loc1"), &run); err != nil {
		t.Fatal(err)
	}
	if !run.Scan || run.State != relations.ReconcileDone || run.Missing != 1 || run.Foreign != 1 || run.Calls != 2 || client.searches != 2 {
		t.Errorf("run %+v after %d searches; want a scan finding c2 missing and c3 foreign in 2 calls", run, client.searches)
	}
}
