package contactsync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/settings"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync/reconcile"
)

// ReconcileSlice is the longest one delivery of a reconciliation request
// works before it stores its cursor and hands the request back (Defer):
// a long reconciliation never holds a delivery, and yields the location's
// budget between slices to the post events waiting for it.
const ReconcileSlice = 20 * time.Second

// reconcileYield is the pause between two slices of a reconciliation.
const reconcileYield = time.Second

// maxSearchPages is how many pages of one tag a search reaches (HighLevel
// serves page × pageLimit up to 10,000 contacts).
const maxSearchPages = 10_000 / reconcile.PageLimit

// errSliceDone hands a reconciliation back to be continued.
var errSliceDone = errors.New("reconciliation continues in its next slice")

// edgeReconcile adapts reconcileRun to the bus.
func (h *handler) edgeReconcile(ctx context.Context, msg jetstream.Msg) error {
	var req socialsyncv1.ReconcileRequested
	loc, err := bus.Decode(msg, &req)
	if err != nil {
		return err
	}
	if req.GetRunId() != "" && !relations.ValidRunID(req.GetRunId()) {
		return bus.Permanent(fmt.Errorf("reconcile %s: %w: run_id %.64q: want 1 to 64 letters, digits, '-' and '_'", loc, bus.ErrBadInput, req.GetRunId()))
	}
	if req.GetRunId() == "" {
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("reconcile %s: %w", loc, err)
		}
		req.RunId = "seq-" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	return h.reconcile(ctx, loc, &req)
}

// reconcile runs, or continues, loc's reconciliation (docs/contacts.md,
// "Reconciliation"): for each contact tag socialsync's naming gives (every
// tag it applied, and those of the catalogue's social tags), it asks
// HighLevel's contact search which contacts carry it, compares that with
// the stored contact states (reconcile.Compare), and repairs what differs
// under the location's policy. Its record, "reconcile.<loc>", is the
// cursor: a tag is done when the record counts it, so a restart resumes
// at the next one. A request for a run already done is a duplicate; one
// arriving while another run is going leaves that run alone.
func (h *handler) reconcile(ctx context.Context, loc string, req *socialsyncv1.ReconcileRequested) error {
	key := relations.ReconcileKey(loc)
	var run relations.ReconcileRun
	rev, err := h.store.load(ctx, key, &run)
	if err != nil {
		return err
	}
	log := bus.LoggerFrom(ctx)
	switch {
	case rev != 0 && run.ID == req.GetRunId() && run.State == relations.ReconcileDone:
		return nil
	case rev != 0 && run.ID != req.GetRunId() && run.Going(h.w.now()):
		log.Info("reconciliation already running; request left", "run", run.ID, "request", req.GetRunId())
		return nil
	}
	naming, err := h.naming(ctx, loc)
	if err != nil {
		return err
	}
	tagOf := func(n string) string { return contacttags.ContactTag("", naming(n)) }
	contacts, err := h.w.deps.States.ContactStates(ctx, loc)
	if err != nil {
		return err
	}
	now := h.w.now()
	if rev == 0 || run.ID != req.GetRunId() {
		if rev, run, err = h.startReconcile(ctx, loc, req, contacts, tagOf, rev); err != nil {
			return err
		}
		c := run.Cost
		log.Info("reconciliation started", "run", run.ID, "dry_run", run.DryRun, "policy", run.Policy, "tags", c.Tags,
			"contacts", c.Contacts, "search_calls", c.SearchCalls, "at_budget_seconds", c.AtBudgetSeconds)
	}
	known := make(map[string]reconcile.Contact, len(contacts))
	for _, c := range contacts {
		known[c.ID] = c
	}
	client := h.w.deps.Client(loc)
	// scanned are the holders of each tag, read from every contact, once
	// per delivery, in a run whose searches by tag HighLevel refused.
	var scanned map[string][]string
	// keep stores the run's progress so far, to be continued.
	keep := func() error {
		run.UpdatedAt = h.w.now().UTC()
		_, err := h.store.save(ctx, key, run, rev)
		return err
	}
	for run.Cursor < len(run.Tags) {
		if h.w.now().Sub(now) >= ReconcileSlice {
			if err := keep(); err != nil {
				return err
			}
			return bus.Defer(fmt.Errorf("reconcile %s: %w", loc, errSliceDone), reconcileYield)
		}
		if err := h.w.deps.Pacer.CheckLane(loc, ghl.LaneOf(ctx)); err != nil {
			// Post events go first: the run waits for the budget, its
			// cursor stored.
			if serr := keep(); serr != nil {
				return serr
			}
			return err
		}
		tag := run.Tags[run.Cursor]
		var holders []string
		var calls int
		if !run.Scan {
			holders, calls, err = searchTag(ctx, client, loc, tag)
			run.Calls, calls = run.Calls+calls, 0
			if refusedFilter(err) {
				// HighLevel's documents do not list the search filters:
				// without a tags filter, read every contact instead.
				log.Warn("contact search by tag refused; reading every contact", "err", err)
				run.Scan, scanned = true, nil
			}
		}
		if run.Scan {
			if scanned == nil {
				scanned, calls, err = scanContacts(ctx, client, loc)
			}
			holders = scanned[tag]
		}
		run.Calls += calls
		if err != nil {
			if serr := keep(); serr != nil {
				return serr
			}
			return fmt.Errorf("reconcile %s: search contacts carrying %q: %w", loc, tag, err)
		}
		drift, recent := reconcile.Compare(tag, known, holders, h.w.now().Add(-reconcile.Lag))
		run.Recent += recent
		if !run.DryRun {
			if drift, err = h.repairDrift(ctx, loc, &run, tag, tagOf, drift); err != nil {
				if serr := keep(); serr != nil {
					return serr
				}
				return err
			}
		}
		for _, d := range drift {
			switch d.Kind {
			case reconcile.Missing:
				run.Missing++
			case reconcile.Stale:
				run.Stale++
			case reconcile.Foreign:
				run.Foreign++
			}
			if len(run.Items) < relations.MaxDriftItems {
				run.Items = append(run.Items, d)
			}
		}
		run.Cursor++
		run.UpdatedAt = h.w.now().UTC()
		if rev, err = h.store.save(ctx, key, run, rev); err != nil {
			return err
		}
	}
	run.State = relations.ReconcileDone
	run.FinishedAt = h.w.now().UTC()
	run.UpdatedAt = run.FinishedAt
	if _, err := h.store.save(ctx, key, run, rev); err != nil {
		return err
	}
	log.Info("reconciliation done", "run", run.ID, "missing", run.Missing, "stale", run.Stale, "foreign", run.Foreign,
		"repaired", run.Repaired, "recorded", run.Recorded, "calls", run.Calls)
	return nil
}

// reconcilePolicy returns the location's reconcile.policy: what is done
// about a contact tag removed by hand (settings.PolicyRespect when the
// mapping says nothing, or cannot be read as valid).
func (h *handler) reconcilePolicy(ctx context.Context, loc string) (string, error) {
	m, ok, err := h.w.deps.Mappings.Mapping(ctx, loc)
	switch {
	case errors.Is(err, settings.ErrInvalid), err == nil && !ok:
		return settings.PolicyRespect, nil
	case err != nil:
		return "", err
	}
	return m.ReconcilePolicy(), nil
}

// startReconcile stores a new run for req and returns it with its
// revision: the tags to compare and the estimate of their cost.
func (h *handler) startReconcile(ctx context.Context, loc string, req *socialsyncv1.ReconcileRequested, contacts []reconcile.Contact,
	tagOf func(string) string, rev uint64) (uint64, relations.ReconcileRun, error) {
	policy, err := h.reconcilePolicy(ctx, loc)
	if err != nil {
		return 0, relations.ReconcileRun{}, err
	}
	cat, err := h.store.catalogue(ctx, loc)
	if err != nil {
		return 0, relations.ReconcileRun{}, err
	}
	var names []string
	for _, t := range cat.Tags {
		names = append(names, t.Name)
	}
	for _, t := range cat.Deleted {
		names = append(names, t.Name)
	}
	tags := reconcile.Tags(contacts, names, tagOf)
	now := h.w.now().UTC()
	run := relations.ReconcileRun{ID: req.GetRunId(), DryRun: req.GetDryRun(), Policy: policy, State: relations.ReconcileRunning,
		RequestedBy: req.GetRequestedBy(), StartedAt: now, UpdatedAt: now, Tags: tags, Contacts: len(contacts),
		Cost: reconcile.Estimate(contacts, tags, h.w.deps.Budget)}
	rev, err = h.store.save(ctx, relations.ReconcileKey(loc), run, rev)
	return rev, run, err
}

// searchTag returns the contacts HighLevel's search shows carrying tag,
// and the calls it took.
func searchTag(ctx context.Context, client Client, loc, tag string) ([]string, int, error) {
	var out []string
	calls, err := searchPages(ctx, client, loc, []ghl.SearchFilter{{Field: "tags", Operator: "eq", Value: tag}}, func(c ghl.Contact) {
		out = append(out, c.ID)
	})
	return out, calls, err
}

// searchPages runs a contact search of loc page by page, as far as
// HighLevel's pages reach (10,000 contacts), calls each for every contact
// found, and returns the calls it took.
func searchPages(ctx context.Context, client Client, loc string, filters []ghl.SearchFilter, each func(ghl.Contact)) (int, error) {
	calls := 0
	for page := 1; page <= maxSearchPages; page++ {
		res, err := client.SearchContacts(ctx, ghl.SearchContactsRequest{LocationID: loc, Page: page, PageLimit: reconcile.PageLimit, Filters: filters})
		calls++
		if err != nil {
			return calls, err
		}
		for _, c := range res.Contacts {
			each(c)
		}
		if len(res.Contacts) < reconcile.PageLimit || page*reconcile.PageLimit >= res.Total {
			break
		}
	}
	return calls, nil
}

// refusedFilter reports whether err is HighLevel refusing a search's
// filter (400 or 422).
func refusedFilter(err error) bool {
	var e *ghl.Error
	return errors.As(err, &e) && (e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity)
}

// scanContacts reads loc's contacts page by page, without filters, and
// returns the contacts carrying each tag, and the calls it took.
func scanContacts(ctx context.Context, client Client, loc string) (map[string][]string, int, error) {
	out := map[string][]string{}
	calls, err := searchPages(ctx, client, loc, nil, func(c ghl.Contact) {
		for _, t := range c.Tags {
			t = contacttags.ContactTag("", t)
			out[t] = append(out[t], c.ID)
		}
	})
	if err != nil {
		return nil, calls, fmt.Errorf("read the contacts of %s: %w", loc, err)
	}
	return out, calls, nil
}

// repairDrift acts on one tag's drift under run's policy and returns the
// drift with what was done to each item. Each contact's state is read
// again under its lock: one an event changed since the comparison is left
// for the next run.
//
//   - repair: a missing tag is added again, a stale one removed;
//   - respect: a missing tag is recorded as removed by hand in the
//     contact's state (relations.ContactState.Removed), and a
//     ContactTagsChanged published so that segments follow; a stale one
//     is left.
//
// Foreign tags are never touched: the contact is not socialsync's.
func (h *handler) repairDrift(ctx context.Context, loc string, run *relations.ReconcileRun, tag string, tagOf func(string) string,
	drift []relations.DriftItem) ([]relations.DriftItem, error) {
	var keys []string
	for _, d := range drift {
		if d.Kind != reconcile.Foreign {
			keys = append(keys, relations.ContactKey(loc, d.Contact))
		}
	}
	if len(keys) == 0 {
		return drift, nil
	}
	unlock, err := h.locks.Lock(ctx, keys)
	if err != nil {
		return drift, err
	}
	defer unlock()
	diffs := map[string]contacttags.Diff{}
	ref := postRef{id: "reconcile-" + run.ID, at: h.w.now(), reason: "reconciliation " + run.ID + ": removed by hand"}
	for i, d := range drift {
		if d.Kind == reconcile.Foreign {
			continue
		}
		st, rev, err := h.store.contact(ctx, loc, d.Contact)
		if err != nil {
			return drift, err
		}
		applied := slices.Contains(st.Applied, tag)
		if (d.Kind == reconcile.Missing) != applied {
			continue // changed meanwhile
		}
		switch {
		case run.Policy == settings.PolicyRepair && d.Kind == reconcile.Missing:
			diffs[d.Contact] = contacttags.Diff{Add: []string{tag}}
		case run.Policy == settings.PolicyRepair && d.Kind == reconcile.Stale:
			diffs[d.Contact] = contacttags.Diff{Remove: []string{tag}}
		case d.Kind == reconcile.Missing:
			c := &contact{id: d.Contact, state: st, rev: rev, next: st.RemovedByHand(tag, tagOf, h.w.now(), "reconcile"),
				diff: contacttags.Diff{Remove: []string{tag}}}
			conflict, err := h.commit(ctx, loc, ref, c)
			if err != nil {
				return drift, err
			}
			if !conflict {
				drift[i].Action = "recorded"
				run.Recorded++
			}
		}
	}
	if len(diffs) == 0 {
		return drift, nil
	}
	res := contacttags.Send(ctx, h.w.deps.Client(loc), loc, contacttags.Batch(diffs, h.w.cfg.BulkMin, contacttags.BulkMax))
	for i, d := range drift {
		diff, sent := diffs[d.Contact]
		if !sent || res.Incomplete[d.Contact] {
			continue
		}
		if _, failed := res.Failed[d.Contact]; failed {
			continue
		}
		drift[i].Action = "added"
		if len(diff.Remove) > 0 {
			drift[i].Action = "removed"
		}
		run.Repaired++
	}
	if res.Err != nil {
		return drift, fmt.Errorf("reconcile %s: repair %q: %w", loc, tag, res.Err)
	}
	return drift, nil
}
