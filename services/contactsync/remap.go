package contactsync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync/tagging"
)

// edgeRemap adapts remap to the bus, as edgeTag does handleTag.
func (h *handler) edgeRemap(ctx context.Context, msg jetstream.Msg) error {
	var req socialsyncv1.RemapRequested
	loc, err := bus.Decode(msg, &req)
	if err != nil {
		return err
	}
	var res Result
	if item, ok := bus.ReplayItem(msg.Headers()); ok && strings.HasPrefix(item, "contact ") {
		// A replayed contact's dead letter renames that contact only,
		// under the template of now; the run's record stays as it is.
		id := strings.TrimPrefix(item, "contact ")
		if !validKeyPart(id) {
			return bus.Permanent(fmt.Errorf("remap %s: %w: replayed item %.64q", loc, bus.ErrBadInput, item))
		}
		_, _, err = h.rename(ctx, &res, loc, remapRef(h.w.now()), []string{id})
	} else {
		res, err = h.remap(ctx, loc, &req)
	}
	if dlErr := h.deadLetter(ctx, msg, res, "remap", loc); dlErr != nil {
		return dlErr
	}
	return err
}

// template returns the contact-tag template loc's naming follows now:
// its mapping's, else the prefix's.
func (h *handler) template(ctx context.Context, loc string) (string, error) {
	naming, err := h.naming(ctx, loc)
	if err != nil {
		return "", err
	}
	// A name no template alters (neither trimmed nor lower-cased) marks
	// where the name goes.
	const mark = "\x00"
	return strings.ReplaceAll(naming(mark), mark, "{{tagName}}"), nil
}

// remap runs, or continues, the re-application of loc's contact-tag
// template to the contacts socialsync tagged (docs/contact-tags.md, "When
// a mapping changes"). Each contact is planned again from its stored state
// under the current naming (tagging.PlanNamed with a change of nothing):
// the contact tags socialsync applied under the old names are removed and
// those under the new ones added, in bulk calls through the rate governor,
// its intent recorded first so that HighLevel's webhook echo is not taken
// for a hand edit. Tags socialsync did not apply are never touched. Its
// record, "remap.<loc>", is the cursor, stored after every chunk: a
// restart resumes at the next chunk, and a contact already in line costs
// no call, so a repeated run writes nothing. The template is read again
// before every chunk: when the mapping changed meanwhile, the run starts
// over towards the newest one.
func (h *handler) remap(ctx context.Context, loc string, req *socialsyncv1.RemapRequested) (Result, error) {
	var res Result
	key := relations.RemapKey(loc)
	var run relations.RemapRun
	rev, err := h.store.load(ctx, key, &run)
	if err != nil {
		return res, err
	}
	tmpl, err := h.template(ctx, loc)
	if err != nil {
		return res, err
	}
	log := bus.LoggerFrom(ctx)
	if rev != 0 && run.Template == tmpl && run.State == relations.RemapDone {
		return res, nil
	}
	keep := func() error {
		run.UpdatedAt = h.w.now().UTC()
		var err error
		rev, err = h.store.save(ctx, key, run, rev)
		return err
	}
	start := func() error {
		contacts, err := h.w.deps.States.ContactStates(ctx, loc)
		if err != nil {
			return err
		}
		ids := make([]string, len(contacts))
		for i, c := range contacts {
			ids[i] = c.ID
		}
		slices.Sort(ids)
		// A run cut short by a newer template counts as a restart of it.
		restarts := 0
		if rev != 0 && run.State == relations.RemapRunning {
			restarts = run.Restarts + 1
		}
		now := h.w.now().UTC()
		run = relations.RemapRun{Template: tmpl, State: relations.RemapRunning, RequestedBy: req.GetRequestedBy(),
			StartedAt: now, Restarts: restarts, Contacts: ids, Total: len(ids)}
		log.Info("contact-tag template re-application started", "template", tmpl, "contacts", len(ids), "restarts", restarts)
		return keep()
	}
	if rev == 0 || run.Template != tmpl {
		if err := start(); err != nil {
			return res, err
		}
	}
	began := h.w.now()
	ref := remapRef(began)
	for run.Cursor < len(run.Contacts) {
		if h.w.now().Sub(began) >= ReconcileSlice {
			if err := keep(); err != nil {
				return res, err
			}
			return res, bus.Defer(fmt.Errorf("remap %s: %w", loc, errSliceDone), reconcileYield)
		}
		if err := h.w.deps.Pacer.CheckLane(loc, ghl.LaneOf(ctx)); err != nil {
			// Post events go first: the run waits for the budget.
			if serr := keep(); serr != nil {
				return res, serr
			}
			return res, err
		}
		if now, err := h.template(ctx, loc); err != nil {
			return res, err
		} else if now != tmpl {
			// Superseded: the mapping changed again during the run.
			tmpl = now
			if err := start(); err != nil {
				return res, err
			}
			continue
		}
		size := contacttags.BulkMax
		if h.w.remapChunk > 0 {
			size = h.w.remapChunk
		}
		chunk := run.Contacts[run.Cursor:min(run.Cursor+size, len(run.Contacts))]
		changed, failed, err := h.rename(ctx, &res, loc, ref, chunk)
		if err != nil {
			// The contacts done are stored: the chunk is planned again
			// and finds them in line.
			if serr := keep(); serr != nil {
				return res, serr
			}
			return res, err
		}
		run.Changed += changed
		run.Failed += failed
		run.Cursor += len(chunk)
		if err := keep(); err != nil {
			return res, err
		}
	}
	run.State = relations.RemapDone
	run.FinishedAt = h.w.now().UTC()
	if err := keep(); err != nil {
		return res, err
	}
	log.Info("contact-tag template re-application done", "template", tmpl, "contacts", run.Total, "changed", run.Changed, "failed", run.Failed)
	return res, nil
}

// remapRef is the "post" of a renaming, as ContactTagsChanged names it.
func remapRef(at time.Time) postRef {
	return postRef{id: "remap", at: at, reason: "contact-tag template changed"}
}

// rename plans contacts again under loc's naming of now and writes what
// changed (apply); the contacts HighLevel refused go to res, to be
// dead-lettered. It returns how many contacts changed and how many were
// refused.
func (h *handler) rename(ctx context.Context, res *Result, loc string, ref postRef, ids []string) (changed, failed int, err error) {
	contacts := make([]*contact, len(ids))
	for i, id := range ids {
		// What socialsync wrote lately counts as written: a write under
		// an earlier template whose state was never stored (a crash,
		// then the template changed) is undone too.
		in, _, err := h.store.intentsOf(ctx, loc, id)
		if err != nil {
			return 0, 0, err
		}
		contacts[i] = &contact{id: id, change: tagging.PostChange{Retag: &tagging.Retag{}}, written: in.added()}
	}
	refused, err := h.apply(ctx, loc, ref, contacts)
	for _, id := range slices.Sorted(maps.Keys(refused)) {
		res.deadLetter("contact "+id, ref.reason+": "+refused[id])
	}
	if err != nil {
		return 0, 0, err
	}
	for _, c := range contacts {
		if _, bad := refused[c.id]; !bad && !c.diff.Empty() {
			changed++
		}
	}
	return changed, len(refused), nil
}
