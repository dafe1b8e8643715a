package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

func triggerCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a trigger: post, tagdetails or stats", errUsage)
	}
	kind, args := args[0], args[1:]
	fs := newFlags(env, "trigger "+kind, "Publish a trigger, as any outside system may (see docs/triggers.md for the nats CLI equivalent).")
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location id (required)")
	eventID := fs.String("event-id", "", "idempotency key (becomes Nats-Msg-Id; derived from the content when empty)")
	var build func() (bus.Family, proto.Message, error)
	switch kind {
	case "post":
		post := fs.String("post", "", "the post's id in the sending system: 1 to 256 bytes of UTF-8 without control characters (required)")
		tags := fs.String("tags", "", "comma-separated tag ids the post carries")
		contacts := fs.String("contacts", "", "comma-separated contact ids linked to the post")
		emails := fs.String("emails", "", "comma-separated emails of more contacts linked to the post (docs/contacts.md)")
		phones := fs.String("phones", "", "comma-separated phone numbers (E.164) of more contacts linked to the post")
		externalIDs := fs.String("external-ids", "", "comma-separated ids, in the sending system, of more contacts linked to the post")
		change := fs.String("change", "", "created, updated or deleted (empty: created or updated)")
		source := fs.String("source", ids.DefaultSource, "name of the sending system, whose id --post is (highlevel: a Social Planner post id)")
		build = func() (bus.Family, proto.Message, error) {
			if *post == "" {
				return "", nil, fmt.Errorf("%w: --post is required", errUsage)
			}
			ch, err := parseChange(*change)
			if err != nil {
				return "", nil, err
			}
			now := time.Now()
			ev := &socialsyncv1.PostEvent{
				LocationId: *loc, PostId: *post, Change: ch, TagIds: splitList(*tags), ContactIds: splitList(*contacts),
				OccurredAt: timestamppb.New(now), Source: *source, EventId: *eventID,
			}
			for _, v := range splitList(*emails) {
				ev.Contacts = append(ev.Contacts, &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Email{Email: v}})
			}
			for _, v := range splitList(*phones) {
				ev.Contacts = append(ev.Contacts, &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Phone{Phone: v}})
			}
			for _, v := range splitList(*externalIDs) {
				ev.Contacts = append(ev.Contacts, &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_ExternalId{ExternalId: v}})
			}
			// The check every consumer applies: what it would refuse is
			// not published.
			if err := bus.CheckPostEvent(ev, now); err != nil {
				return "", nil, fmt.Errorf("%w: %w", errUsage, err)
			}
			return topology.PostTriggers, ev, nil
		}
	case "tagdetails":
		tags := fs.String("tags", "", "comma-separated tag ids (required)")
		build = func() (bus.Family, proto.Message, error) {
			if len(splitList(*tags)) == 0 {
				return "", nil, fmt.Errorf("%w: --tags is required", errUsage)
			}
			return topology.TagDetailsTriggers, &socialsyncv1.TagDetailsRequested{LocationId: *loc, TagIds: splitList(*tags), RequestedBy: "cli", EventId: *eventID}, nil
		}
	case "stats":
		profiles := fs.String("profiles", "", "comma-separated profile ids (empty: every connected account)")
		platforms := fs.String("platforms", "", "comma-separated platforms (empty: all)")
		from, to := dayRange(fs, "(both or neither; within the 7 days before today)")
		build = func() (bus.Family, proto.Message, error) {
			req := &socialsyncv1.StatsRequested{LocationId: *loc, ProfileIds: splitList(*profiles),
				Platforms: splitList(*platforms), RequestedBy: "cli", EventId: *eventID}
			if *from != "" || *to != "" {
				// The message's range excludes its end.
				end, err := report.Shift(*to, 1)
				if err != nil {
					return "", nil, fmt.Errorf("%w: --to: %v", errUsage, err)
				}
				req.Range = &socialsyncv1.DateRange{From: *from, To: end}
			}
			return topology.StatsTriggers, req, nil
		}
	default:
		return fmt.Errorf("%w: unknown trigger %q: want post, tagdetails or stats", errUsage, kind)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if !ids.ValidHighLevel(*loc) {
		return fmt.Errorf("%w: --location: want a HighLevel location id (letters and digits), got %q", errUsage, *loc)
	}
	family, msg, err := build()
	if err != nil {
		return err
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	if req, ok := msg.(*socialsyncv1.StatsRequested); ok && req.GetRange() != nil {
		// The check the stats worker applies, on this machine's clock in
		// the location's time zone: what it would refuse is not published.
		l, err := locate(ctx, c.js, *loc, env.Now())
		if err != nil {
			return err
		}
		if err := report.CheckRequestRange(req.GetRange().GetFrom(), req.GetRange().GetTo(), l.today); err != nil {
			return fmt.Errorf("%w: --from/--to: %w", errUsage, err)
		}
	}
	subject, ack, err := c.publisher().PublishTo(ctx, family, msg)
	switch {
	case errors.Is(err, bus.ErrSubjectFull):
		return fmt.Errorf("not published: location %s holds its quota of unfinished %s triggers (SOCIALSYNC_LIMIT_TRIGGERS_PER_SUBJECT); "+
			"retry once its workers have caught up (other locations are not affected): %w", *loc, kind, err)
	case errors.Is(err, bus.ErrStreamFull):
		return fmt.Errorf("not published: the triggers stream is full (SOCIALSYNC_LIMIT_TRIGGERS_BYTES); retry once the workers have caught up, "+
			"or raise the limit (docs/storage.md): %w", err)
	case err != nil:
		return err
	}
	note := ""
	if ack.Duplicate {
		note = " (duplicate: already published within the window, dropped)"
	}
	fmt.Fprintf(env.Stdout, "published %s seq %d%s\n", subject, ack.Sequence, note)
	return nil
}

func parseChange(s string) (socialsyncv1.Change, error) {
	switch strings.ToLower(s) {
	case "":
		return socialsyncv1.Change_CHANGE_UNSPECIFIED, nil
	case "created":
		return socialsyncv1.Change_CHANGE_CREATED, nil
	case "updated":
		return socialsyncv1.Change_CHANGE_UPDATED, nil
	case "deleted":
		return socialsyncv1.Change_CHANGE_DELETED, nil
	}
	return 0, fmt.Errorf("%w: --change: want created, updated or deleted, got %q", errUsage, s)
}
