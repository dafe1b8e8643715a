package automationworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// events handles the workflows durable on SOCIALSYNC_EVENTS: tag, tag
// details, statistics and segment events fire the saved workflows that
// match them; tag and statistics events also ask for the location's
// segment membership to be computed again.
type events struct {
	w         *Worker
	segs      *segments
	workflows *registry[*automation.Compiled]
	webhooks  *automation.Webhooks
	eval      *automation.Evaluator
}

// event is a decoded event message: its family and the workflows' view
// of it.
type event struct {
	family bus.Family
	automation.Event
}

// handle fires the workflows matching ev; tag and statistics events also
// ask for loc's segment membership to be computed again. The workflow
// items that failed for good are in the Result.
func (h *events) handle(ctx context.Context, loc string, ev event) (Result, error) {
	var res Result
	if ev.Trigger == "" {
		// A tag event whose change this build does not know (toEvent).
		bus.LoggerFrom(ctx).DebugContext(ctx, "tag event of an unknown change ignored")
		return res, nil
	}
	// A discovered tag is on no contact yet: segments stay as they are.
	if (ev.family == topology.TagEvents || ev.family == topology.StatsEvents) && !ev.Discovered && h.segs.any() {
		reason := "tag " + strings.TrimPrefix(string(ev.Trigger), "tag.")
		if ev.family == topology.StatsEvents {
			reason = "statistics"
		}
		if err := h.segs.request(ctx, loc, reason, "segments:"+ev.ID); err != nil {
			return res, err
		}
	}
	if err := h.workflows.wait(ctx); err != nil {
		return res, err
	}
	wfs, _ := h.workflows.snapshot()
	r := &automation.Runner{Effects: &effects{h: h, res: &res}, Webhooks: h.webhooks, Eval: h.eval, Log: bus.LoggerFrom(ctx)}
	_, err := r.Fire(ctx, ev.Event, wfs)
	return res, err
}

// toEvent decodes an event message of family into the workflows' view of
// it, identified by id.
func toEvent(family bus.Family, id string, msg jetstream.Msg) (automation.Event, string, error) {
	var (
		m   proto.Message
		loc string
		err error
	)
	ev := automation.Event{ID: id}
	switch family {
	case topology.TagEvents:
		var tc socialsyncv1.TagChanged
		if loc, err = bus.Decode(msg, &tc); err != nil {
			return ev, "", err
		}
		m = &tc
		change := strings.ToLower(strings.TrimPrefix(tc.GetChange().String(), "CHANGE_"))
		switch tc.GetChange() {
		case socialsyncv1.Change_CHANGE_CREATED:
			ev.Trigger = automation.TagCreated
		case socialsyncv1.Change_CHANGE_RENAMED:
			ev.Trigger = automation.TagRenamed
		case socialsyncv1.Change_CHANGE_DELETED:
			ev.Trigger = automation.TagDeleted
		case socialsyncv1.Change_CHANGE_DISCOVERED:
			// A tag of the location's first catalogue: tag.created, for
			// the workflows that ask for discovered tags only.
			ev.Trigger, ev.Discovered = automation.TagCreated, true
		default:
			if unknownChange(tc.GetChange()) {
				// A change value newer than this build: valid for the
				// workers that know it, so acknowledged and ignored here.
				ev.Location = loc
				return ev, loc, nil
			}
			return ev, "", bus.Permanent(fmt.Errorf("tag event of %s: change %s is not a tag change", loc, tc.GetChange()))
		}
		ev.Env = automation.TagEnv{LocationID: loc, TagID: tc.GetTagId(), TagName: tc.GetTagName(), PreviousName: tc.GetPreviousName(), Change: change}
		ev.SocialTags = nonEmpty(tc.GetTagName(), tc.GetPreviousName())
	case topology.TagDetailsEvents:
		var td socialsyncv1.TagDetailsStored
		if loc, err = bus.Decode(msg, &td); err != nil {
			return ev, "", err
		}
		m = &td
		ev.Trigger = automation.TagDetailsStored
		env := automation.TagDetailsEnv{LocationID: loc, TagNames: []string{}, Tags: []automation.TagDetail{}}
		for _, d := range td.GetTagDetails() {
			env.TagNames = append(env.TagNames, d.GetTagName())
			env.Tags = append(env.Tags, automation.TagDetail{TagID: d.GetTagId(), TagName: d.GetTagName(), Deleted: d.GetDeleted(), CreatedBy: d.GetCreatedBy()})
		}
		ev.Env, ev.SocialTags = env, env.TagNames
	case topology.StatsEvents:
		var ss socialsyncv1.StatsSnapshot
		if loc, err = bus.Decode(msg, &ss); err != nil {
			return ev, "", err
		}
		m = &ss
		ev.Trigger = automation.StatsSnapshot
		if ev.Env, err = statsEnv(loc, &ss); err != nil {
			return ev, "", bus.Permanent(err)
		}
	case topology.SegmentEvents:
		var sc socialsyncv1.SegmentChanged
		if loc, err = bus.Decode(msg, &sc); err != nil {
			return ev, "", err
		}
		m = &sc
		var change string
		switch sc.GetChange() {
		case socialsyncv1.SegmentChange_SEGMENT_CHANGE_ENTERED:
			ev.Trigger, change = automation.SegmentEntered, "entered"
		case socialsyncv1.SegmentChange_SEGMENT_CHANGE_LEFT:
			ev.Trigger, change = automation.SegmentLeft, "left"
		default:
			return ev, "", bus.Permanent(fmt.Errorf("segment event of %s: change %s", loc, sc.GetChange()))
		}
		if !validKeyPart(sc.GetContactId()) {
			return ev, "", bus.Permanent(fmt.Errorf("segment event of %s: invalid contact_id %.64q", loc, sc.GetContactId()))
		}
		ev.Env = automation.SegmentEnv{LocationID: loc, ContactID: sc.GetContactId(), Segment: sc.GetSegment(), Change: change}
		ev.Contacts = []string{sc.GetContactId()}
	default:
		return ev, "", bus.Permanent(fmt.Errorf("automation: no handler for subject family %s", family))
	}
	// The lists of the environment are capped, as the cost bound of the
	// workflows' expressions assumes.
	if err := automation.CheckEnv(ev.Env); err != nil {
		return ev, "", bus.Permanent(fmt.Errorf("%s event of %s: %w", ev.Trigger, loc, err))
	}
	ev.Location = loc
	payload, err := protojson.Marshal(m)
	if err != nil {
		return ev, "", bus.Permanent(fmt.Errorf("event as JSON: %w", err))
	}
	ev.Payload = payload
	return ev, loc, nil
}

// statsJSON is the part of HighLevel's statistics a StatsEnv holds.
type statsJSON struct {
	Totals     automation.StatTotals `json:"totals"`
	Breakdowns struct {
		Posts       automation.Breakdown                     `json:"posts"`
		Impressions automation.Breakdown                     `json:"impressions"`
		Reach       automation.Breakdown                     `json:"reach"`
		Engagement  map[string]automation.PlatformEngagement `json:"engagement"`
	} `json:"breakdowns"`
}

func statsEnv(loc string, ss *socialsyncv1.StatsSnapshot) (automation.StatsEnv, error) {
	env := automation.StatsEnv{LocationID: loc, Day: ss.GetDay(), ProfileIDs: ss.GetProfileIds()}
	if ss.GetMetrics() != nil {
		raw, err := protojson.Marshal(ss.GetMetrics())
		if err != nil {
			return env, fmt.Errorf("statistics of %s: %w", loc, err)
		}
		var s statsJSON
		if err := json.Unmarshal(raw, &s); err != nil {
			return env, fmt.Errorf("statistics of %s: %w", loc, err)
		}
		env.Totals, env.Posts, env.Impressions, env.Reach, env.Engagement =
			s.Totals, s.Breakdowns.Posts, s.Breakdowns.Impressions, s.Breakdowns.Reach, s.Breakdowns.Engagement
	}
	if env.ProfileIDs == nil {
		env.ProfileIDs = []string{}
	}
	return env, nil
}

// unknownChange reports whether c is a value this build's contract does
// not define: a later one, added after this worker was built.
func unknownChange(c socialsyncv1.Change) bool {
	return c.Descriptor().Values().ByNumber(c.Number()) == nil
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// effects carries out workflow actions for one event. The items it gives
// up on go to res, and so do the runs it marks done after one: they are
// marked once the edge stored the dead letters.
type effects struct {
	h   *events
	res *Result
}

func (e *effects) Done(ctx context.Context, key string) (bool, error) {
	data, _, err := e.h.w.deps.Runs.Get(ctx, key)
	if err != nil {
		return false, fmt.Errorf("read workflow run %s: %w", key, err)
	}
	return data != nil, nil
}

func (e *effects) MarkDone(ctx context.Context, key, outcome string) error {
	if len(e.res.DeadLetters) > 0 {
		e.res.after = append(e.res.after, func(ctx context.Context) error { return e.markDone(ctx, key, outcome) })
		return nil
	}
	return e.markDone(ctx, key, outcome)
}

func (e *effects) markDone(ctx context.Context, key, outcome string) error {
	_, err := e.h.w.deps.Runs.Put(ctx, key, []byte(outcome), 0)
	if err != nil && !errors.Is(err, revision.ErrConflict) {
		return fmt.Errorf("record workflow run %s: %w", key, err)
	}
	return nil
}

// DeadLetter gives item up: the edge dead-letters it once the event is
// handled.
func (e *effects) DeadLetter(_ context.Context, item, reason string) error {
	e.res.deadLetter(item, reason)
	return nil
}

// Contacts resolves a selection by reading the stored contact states and
// memberships of the location.
func (e *effects) Contacts(ctx context.Context, loc string, sel automation.Selection) ([]string, error) {
	var out []string
	switch {
	case sel.Segment != "":
		ids, err := e.h.w.deps.Segments.Keys(ctx, automation.MemberPrefix(loc))
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			var ms automation.Members
			if _, err := load(ctx, e.h.w.deps.Segments, automation.MemberKey(loc, id), &ms); err != nil {
				return nil, err
			}
			if slices.Contains(ms.Segments, sel.Segment) {
				out = append(out, id)
			}
		}
	default:
		out = append(out, sel.Contacts...)
		var want []string
		if sel.Tag != "" {
			want = []string{sel.Tag}
		}
		if len(sel.SocialTags) > 0 {
			// Named as contactsync names them: by the location's
			// template, read now (a changed mapping applies at once).
			prefix := func(name string) string { return contacttags.ContactTag(e.h.w.cfg.TagPrefix, name) }
			naming, err := e.h.w.deps.Mappings.ContactTagNaming(ctx, loc, prefix, bus.LoggerFrom(ctx))
			if err != nil {
				return nil, err
			}
			for _, n := range sel.SocialTags {
				want = append(want, contacttags.ContactTag("", naming(n)))
			}
		}
		if len(want) == 0 {
			break
		}
		ids, err := e.h.w.deps.Relations.Keys(ctx, relations.ContactPrefix(loc))
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			var st relations.ContactState
			if _, err := load(ctx, e.h.w.deps.Relations, relations.ContactKey(loc, id), &st); err != nil {
				return nil, err
			}
			if slices.ContainsFunc(want, func(t string) bool { return slices.Contains(st.Applied, t) }) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ContactTags writes the same tags to every contact, in bulk calls
// through the rate governor. A contact HighLevel refuses is given up on
// its own.
func (e *effects) ContactTags(ctx context.Context, loc string, contacts, tags []string, remove bool, reason string) error {
	diffs := make(map[string]contacttags.Diff, len(contacts))
	for _, c := range contacts {
		if remove {
			diffs[c] = contacttags.Diff{Remove: tags}
		} else {
			diffs[c] = contacttags.Diff{Add: tags}
		}
	}
	sent := contacttags.Send(ctx, e.h.w.deps.Client(loc), loc, contacttags.Batch(diffs, e.h.w.cfg.BulkMin, contacttags.BulkMax))
	for _, id := range slices.Sorted(maps.Keys(sent.Failed)) {
		e.res.deadLetter("contact "+id, reason+": "+sent.Failed[id])
	}
	return sent.Err
}

// SetCustomValue sets the location's custom value name (compared without
// regard to case), creating it when missing; an unchanged value costs no
// write.
func (e *effects) SetCustomValue(ctx context.Context, loc, name, value string) error {
	c := e.h.w.deps.Client(loc)
	values, err := c.CustomValues(ctx, loc)
	if err != nil {
		return ghlActionError(err)
	}
	for _, v := range values {
		if strings.EqualFold(strings.TrimSpace(v.Name), strings.TrimSpace(name)) {
			if v.Value == value {
				return nil
			}
			_, err = c.UpdateCustomValue(ctx, loc, v.ID, v.Name, value)
			return ghlActionError(err)
		}
	}
	_, err = c.EnsureCustomValue(ctx, loc, name, value)
	return ghlActionError(err)
}

// ghlActionError makes a refusal by HighLevel final for the action.
func ghlActionError(err error) error {
	if err != nil && (errors.Is(err, ghl.ErrPermanent) || errors.Is(err, ghl.ErrInvalidArgument)) {
		return fmt.Errorf("%w: %v", automation.ErrActionFailed, err)
	}
	return err
}

// Publish publishes payload to subject through the Outbox.
func (e *effects) Publish(ctx context.Context, subject string, payload []byte, headers map[string]string) error {
	return e.h.w.deps.Outbox.PublishRaw(ctx, subject, payload, headers)
}
