package fetcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/fetcher/catalogue"
)

const (
	// pollPageSize is the posts list page size the poller asks for.
	pollPageSize = 50
	// pollMaxPages bounds the pages of one listing in one poll; posts
	// beyond are picked up by the next poll, once the newer ones are in
	// the cursor.
	pollMaxPages = 20
	// pollSource is the PostEvent source of polled posts: their ids are
	// Social Planner's.
	pollSource = ids.DefaultSource
)

// poll lists every registered location's posts every PollInterval and
// publishes a post trigger for each post updated since the last poll.
// The ticker only says when to look: which posts are new is decided by
// the cursor in KV, and whether a location is due by the time its last
// poll began, also in KV, so that N replicas poll each location once per
// interval between them, and a restart loses nothing.
func (w *Worker) poll(ctx context.Context) error {
	t := time.NewTicker(w.cfg.PollInterval)
	defer t.Stop()
	for {
		w.pollAll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// pollAll polls the registered locations, Concurrency at a time.
func (w *Worker) pollAll(ctx context.Context) {
	w.eachLocation(ctx, "poller", func(ctx context.Context, log *slog.Logger, loc string) {
		n, err := w.pollLocation(ctx, loc)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "poll posts failed", "location", loc, "err", err)
		case n > 0:
			log.InfoContext(ctx, "polled posts changed", "location", loc, "posts", n)
		}
	})
}

// eachLocation calls fn for every registered location that has a usable
// token, Concurrency at a time, with a logger naming component.
func (w *Worker) eachLocation(ctx context.Context, component string, fn func(ctx context.Context, log *slog.Logger, loc string)) {
	log := w.deps.Log.With("component", component)
	locs, err := w.deps.Locations.Locations(ctx)
	if err != nil {
		if ctx.Err() == nil {
			log.WarnContext(ctx, "list locations failed", "err", err)
		}
		return
	}
	var g errgroup.Group
	g.SetLimit(w.cfg.Concurrency)
	for _, l := range locs {
		if ctx.Err() != nil {
			break
		}
		if _, held := l.Held(); held { // paused, or waiting for re-authorisation
			continue
		}
		g.Go(func() error {
			fn(ctx, log, l.ID)
			return nil
		})
	}
	_ = g.Wait()
}

// pollLocation polls loc's posts if it is due, and returns how many post
// triggers it published.
func (w *Worker) pollLocation(ctx context.Context, loc string) (int, error) {
	cursor, rev, err := w.deps.Cursors.Load(ctx, loc)
	if err != nil {
		return 0, err
	}
	now := w.now().UTC()
	if !catalogue.PollDue(now, cursor.PolledAt, w.cfg.PollInterval) {
		return 0, nil
	}
	// Claim this interval's poll: a replica that loses the race skips it.
	cursor.PolledAt = now
	rev, err = w.deps.Cursors.Store(ctx, loc, cursor, rev)
	if errors.Is(err, errConflict) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}

	posts, err := w.listPosts(ctx, loc, now)
	if err != nil {
		return 0, err
	}
	changed, since := catalogue.Updated(posts, cursor)
	subject, err := topology.PostTriggers.Subject(loc)
	if err != nil {
		return 0, err
	}
	for _, p := range changed {
		ev := toPolledEvent(loc, p, now)
		if _, err := w.deps.Publisher.Publish(ctx, subject, ev); err != nil {
			// The cursor stays where it was: the next poll publishes
			// these posts again, and the ids already sent are dropped.
			return 0, fmt.Errorf("publish polled post %s: %w", p.ID, err)
		}
	}
	cursor.Since = since
	if _, err := w.deps.Cursors.Store(ctx, loc, cursor, rev); err != nil {
		return len(changed), err
	}
	return len(changed), nil
}

// listPosts lists loc's posts whose display date is within PollWindow of
// now, live ones and deleted ones.
func (w *Worker) listPosts(ctx context.Context, loc string, now time.Time) ([]catalogue.PolledPost, error) {
	client := w.deps.Client(loc)
	from := now.Add(-w.cfg.PollWindow).Format(time.RFC3339)
	to := now.Add(w.cfg.PollWindow).Format(time.RFC3339)
	var out []catalogue.PolledPost
	for _, kind := range []string{"all", "deleted"} {
		for page := range pollMaxPages {
			res, err := client.ListPosts(ctx, loc, ghl.ListPostsRequest{
				Type:     kind,
				Skip:     fmt.Sprint(page * pollPageSize),
				Limit:    fmt.Sprint(pollPageSize),
				FromDate: from,
				ToDate:   to,
			})
			if err != nil {
				return nil, fmt.Errorf("list %s posts of %s: %w", kind, loc, err)
			}
			for _, p := range res.Posts {
				out = append(out, toPolledPost(p))
			}
			if len(res.Posts) < pollPageSize {
				break
			}
		}
	}
	return out, nil
}

// toPolledPost converts a listed post for the domain package. A post's update time
// is its updatedAt, else its createdAt.
func toPolledPost(p ghl.Post) catalogue.PolledPost {
	out := catalogue.PolledPost{ID: p.ID, TagIDs: p.Tags, Deleted: p.Status == "deleted"}
	switch {
	case p.UpdatedAt != nil:
		out.UpdatedAt = p.UpdatedAt.UTC()
	case p.CreatedAt != nil:
		out.UpdatedAt = p.CreatedAt.UTC()
	}
	if p.CreatedAt != nil && p.UpdatedAt != nil && p.CreatedAt.Equal(*p.UpdatedAt) {
		out.Created = true
	}
	return out
}

// toPolledEvent converts a changed post into its post trigger, with the
// event id "poll:<loc>:<postId>:<updatedAt>". Its occurred_at is the
// post's update time, kept within what the post triggers' consumers accept
// (ids.CheckOccurredAt) against now: an update time ahead of the poller's
// clock becomes now (the poller saw the change now), one too old is left
// out (the source did not say).
func toPolledEvent(loc string, p catalogue.PolledPost, now time.Time) *socialsyncv1.PostEvent {
	change := socialsyncv1.Change_CHANGE_UPDATED
	switch {
	case p.Deleted:
		change = socialsyncv1.Change_CHANGE_DELETED
	case p.Created:
		change = socialsyncv1.Change_CHANGE_CREATED
	}
	var tags []string
	for _, id := range p.TagIDs {
		if ghl.ValidID(id) {
			tags = append(tags, id)
		}
	}
	var occurred *timestamppb.Timestamp
	switch {
	case p.UpdatedAt.After(now):
		occurred = timestamppb.New(now)
	case ids.CheckOccurredAt("occurred_at", p.UpdatedAt, now) == nil:
		occurred = timestamppb.New(p.UpdatedAt)
	}
	return &socialsyncv1.PostEvent{
		LocationId: loc,
		PostId:     p.ID,
		Change:     change,
		TagIds:     tags,
		OccurredAt: occurred,
		Source:     pollSource,
		EventId:    fmt.Sprintf("poll:%s:%s:%s", loc, p.ID, p.UpdatedAt.Format("2006-01-02T15:04:05.000Z07:00")),
	}
}
