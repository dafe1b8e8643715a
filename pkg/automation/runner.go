package automation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
)

// Event is one event a workflow may fire on.
type Event struct {
	// ID identifies the event: the same on every delivery of it (its
	// Nats-Msg-Id, or its stream and sequence).
	ID       string
	Trigger  Trigger
	Location string
	// Discovered marks a tag.created event for a tag of a location's
	// first catalogue: only workflows with IncludeDiscovered fire on it.
	Discovered bool
	// Env is the trigger's environment (TagEnv, TagDetailsEnv, StatsEnv,
	// SegmentEnv), for conditions and value expressions.
	Env any
	// Payload is the event as JSON: what publish and webhook actions send.
	Payload []byte
	// Contacts are the contacts the event is about (a segment event's
	// contact); SocialTags the social tag names it is about (a tag or tag
	// details event), whose contacts tag actions reach by default.
	Contacts   []string
	SocialTags []string
}

// Selection is whom a tag action reaches.
type Selection struct {
	// Segment or Tag, when set, select the segment's members or the
	// contacts socialsync gave that contact tag.
	Segment, Tag string
	// Otherwise: Contacts, plus the contacts carrying the contact tag of
	// any of SocialTags.
	Contacts   []string
	SocialTags []string
}

// Effects are what actions do outside the core, implemented by the
// worker. An error matching ErrActionFailed is final for the action; any
// other is retried with the event.
type Effects interface {
	// Done reports whether key was marked done; MarkDone marks it.
	Done(ctx context.Context, key string) (bool, error)
	MarkDone(ctx context.Context, key, outcome string) error
	// Contacts resolves a selection in location loc.
	Contacts(ctx context.Context, loc string, sel Selection) ([]string, error)
	// ContactTags adds (or removes) tags to contacts through HighLevel.
	ContactTags(ctx context.Context, loc string, contacts, tags []string, remove bool, reason string) error
	// SetCustomValue sets the location's custom value name to value.
	SetCustomValue(ctx context.Context, loc, name, value string) error
	// Publish publishes payload to subject with headers.
	Publish(ctx context.Context, subject string, payload []byte, headers map[string]string) error
	// DeadLetter gives up on one item of the event, with a reason.
	DeadLetter(ctx context.Context, item, reason string) error
}

// Runner fires workflows.
type Runner struct {
	Effects  Effects
	Webhooks *Webhooks
	// Eval runs the expressions with a deadline; nil: without.
	Eval *Evaluator
	Log  *slog.Logger
}

// RunKey is the key under which action i of workflow name is marked done
// for event id. Event ids are hashed: they may hold any character.
func RunKey(id, workflow string, action int) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16]) + "." + workflow + "." + strconv.Itoa(action)
}

// Fire runs, once each, the actions of every workflow of wfs that applies
// to ev and whose condition holds, in order within a workflow. An action
// already marked done for ev (an earlier delivery did it) is skipped; an
// action that fails for good is dead-lettered and marked done; one that
// fails otherwise stops its workflow, the others go on, and Fire returns
// the error for the event to be delivered again. It returns the number of
// actions done now.
func (r *Runner) Fire(ctx context.Context, ev Event, wfs []*Compiled) (int, error) {
	var errs []error
	done := 0
	for _, wf := range wfs {
		if !wf.Applies(ev.Trigger, ev.Location) || (ev.Discovered && !wf.IncludeDiscovered) {
			continue
		}
		ok, err := wf.match(r.Eval, ev.Env)
		if errors.Is(err, ErrEvalBusy) {
			// A wait for the evaluator, not a failure: the event comes
			// back; actions already done are skipped then.
			errs = append(errs, fmt.Errorf("workflow %s: %w", wf.Name, err))
			continue
		}
		if err != nil {
			// A condition that cannot be evaluated on this event (a nil
			// map entry, a division by zero) will not evaluate on the
			// next delivery either.
			if err := r.Effects.DeadLetter(ctx, "workflow "+wf.Name, err.Error()); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if !ok {
			continue
		}
		n, err := r.fire(ctx, ev, wf)
		done += n
		if err != nil {
			errs = append(errs, fmt.Errorf("workflow %s: %w", wf.Name, err))
		}
	}
	return done, errors.Join(errs...)
}

func (r *Runner) fire(ctx context.Context, ev Event, wf *Compiled) (int, error) {
	done := 0
	for i, a := range wf.Actions {
		key := RunKey(ev.ID, wf.Name, i)
		already, err := r.Effects.Done(ctx, key)
		if err != nil {
			return done, err
		}
		if already {
			continue
		}
		err = r.act(ctx, ev, wf, i, a)
		outcome := "ok"
		if err != nil {
			if !errors.Is(err, ErrActionFailed) {
				return done, fmt.Errorf("action %d (%s): %w", i, a.Kind(), err)
			}
			item := fmt.Sprintf("workflow %s action %d (%s)", wf.Name, i, a.Kind())
			if err := r.Effects.DeadLetter(ctx, item, err.Error()); err != nil {
				return done, err
			}
			outcome = "failed"
		}
		if err := r.Effects.MarkDone(ctx, key, outcome); err != nil {
			return done, err
		}
		if outcome == "ok" {
			done++
		}
		if r.Log != nil {
			r.Log.InfoContext(ctx, "workflow action", "workflow", wf.Name, "action", a.Kind(), "outcome", outcome, "trigger", string(ev.Trigger))
		}
	}
	return done, nil
}

// act runs action i of wf for ev.
func (r *Runner) act(ctx context.Context, ev Event, wf *Compiled, i int, a Action) error {
	switch {
	case a.AddContactTags != nil, a.RemoveContactTags != nil:
		t, remove := a.AddContactTags, false
		if t == nil {
			t, remove = a.RemoveContactTags, true
		}
		sel := Selection{Contacts: ev.Contacts, SocialTags: ev.SocialTags}
		if t.Contacts != nil {
			sel = Selection{Segment: t.Contacts.Segment, Tag: t.Contacts.Tag}
		}
		contacts, err := r.Effects.Contacts(ctx, ev.Location, sel)
		if err != nil || len(contacts) == 0 {
			return err
		}
		return r.Effects.ContactTags(ctx, ev.Location, contacts, t.Tags, remove, "workflow "+wf.Name)
	case a.SetCustomValue != nil:
		v, err := wf.value(r.Eval, i, ev.Env)
		if err != nil {
			return evalFailed(err)
		}
		return r.Effects.SetCustomValue(ctx, ev.Location, a.SetCustomValue.Name, v)
	case a.Publish != nil:
		return r.Effects.Publish(ctx, a.Publish.Subject, ev.Payload, map[string]string{
			"Nats-Msg-Id":  RunKey(ev.ID, wf.Name, i),
			HeaderEvent:    string(ev.Trigger),
			HeaderWorkflow: wf.Name,
			"Content-Type": "application/json",
		})
	case a.Webhook != nil:
		if r.Webhooks == nil {
			return fmt.Errorf("%w: webhooks are not configured", ErrActionFailed)
		}
		body, err := wf.body(r.Eval, i, ev.Env, ev.Payload)
		if err != nil {
			return evalFailed(err)
		}
		return r.Webhooks.Send(ctx, Delivery{URL: a.Webhook.URL, Secret: a.Webhook.Secret, ID: RunKey(ev.ID, wf.Name, i),
			Trigger: string(ev.Trigger), Workflow: wf.Name, Body: body})
	}
	return fmt.Errorf("%w: action %d has no kind", ErrActionFailed, i)
}

// evalFailed is the error of an action whose expression did not evaluate:
// final for the action (ErrActionFailed), but for a busy evaluator, which
// is a wait (ErrEvalBusy) and comes back with the event.
func evalFailed(err error) error {
	if errors.Is(err, ErrEvalBusy) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrActionFailed, err)
}
