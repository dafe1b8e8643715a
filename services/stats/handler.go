package stats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/stats/snapshot"
)

// Endpoint names the HighLevel call a StatsSnapshot's metrics come from.
const Endpoint = "POST /social-media-posting/statistics"

// handler handles StatsRequested.
type handler struct {
	w *Worker
}

// handle takes the snapshot a StatsRequested asks for. The snapshot
// belongs to the location-local day on which the request was stored in
// the stream, so a redelivery lands on the same day, and a day range is
// judged against that day: its days must be the 7 before it, which the
// snapshot covers, or the request is a dead letter naming the limit. A request seen
// before (same trigger, same day) publishes what was stored, if it was not
// published yet, and calls HighLevel no more.
func (h *handler) handle(ctx context.Context, msg jetstream.Msg) error {
	var req socialsyncv1.StatsRequested
	loc, err := bus.Decode(msg, &req)
	if err != nil {
		return err
	}
	// The request's arrival on the worker's clock: now less the time it
	// has spent in the stream. With the real clock that is the stream
	// timestamp; a test's pinned clock pins the day too.
	at := h.w.now()
	if meta, err := msg.Metadata(); err == nil {
		at = at.Add(-max(time.Since(meta.Timestamp), 0))
	}
	trigger, err := triggerID(msg, &req)
	if err != nil {
		return err
	}
	return h.take(ctx, loc, &req, at, trigger)
}

// take takes the snapshot req asks for, a request that arrived at at and
// is identified across deliveries by trigger (see handle).
func (h *handler) take(ctx context.Context, loc string, req *socialsyncv1.StatsRequested, at time.Time, trigger string) error {
	log := bus.LoggerFrom(ctx)
	// The route's location check (bus.Registered) let the message
	// through; the record is read for its time zone, and a location
	// removed since is permanent.
	l, err := h.w.deps.Locations.Location(ctx, loc)
	if errors.Is(err, creds.ErrUnknownLocation) {
		return bus.Permanent(err)
	}
	if err != nil {
		return fmt.Errorf("statistics of %s: %w", loc, err)
	}
	l = h.w.learn(ctx, l)
	tz, err := report.LoadZone(l.Timezone)
	if err != nil {
		log.Warn("location time zone unusable; using UTC", "err", err)
		tz = time.UTC
	}
	day := report.Day(at, tz)
	// A range is served when its days are those today's statistics call
	// covers (the last 7): today's snapshot holds them.
	if r := req.GetRange(); r.GetFrom() != "" || r.GetTo() != "" {
		if err := report.CheckRequestRange(r.GetFrom(), r.GetTo(), day); err != nil {
			return bus.Permanent(fmt.Errorf("statistics of %s: %w", loc, err))
		}
		log.Info("statistics range within reach", "from", r.GetFrom(), "to", r.GetTo(), "day", day)
	}
	key := report.HistoryKey(loc, day)

	prev, rev, err := h.w.deps.History.Load(ctx, key)
	if err != nil {
		return err
	}
	if prev != nil && prev.Trigger == trigger {
		switch {
		case prev.Followed:
			log.Info("statistics request already handled", "day", day)
			return nil
		case prev.Published:
			return h.follow(ctx, l, tz, key, *prev, rev)
		}
		return h.publishAndFollow(ctx, l, tz, key, *prev, rev)
	}

	client := h.w.deps.Client(loc)
	accounts, err := client.Accounts(ctx, loc)
	if err != nil {
		return fmt.Errorf("list social accounts of %s: %w", loc, err)
	}
	ids, err := snapshot.Select(toAccounts(accounts.Accounts), snapshot.Request{ProfileIDs: req.GetProfileIds(), Platforms: req.GetPlatforms()})
	if err != nil {
		return bus.Permanent(fmt.Errorf("statistics of %s: %w", loc, err))
	}
	if len(ids) == 0 {
		log.Info("no social accounts to fetch statistics for", "accounts", len(accounts.Accounts))
		return nil
	}
	chunks, err := client.Statistics(ctx, loc, ids, req.GetPlatforms())
	if err != nil {
		return err
	}
	snap := report.Record{
		Day:        day,
		TakenAt:    h.w.now().UTC(),
		ProfileIDs: ids,
		Platforms:  req.GetPlatforms(),
		Trigger:    trigger,
	}
	if snap.Chunks, err = fromChunks(chunks); err != nil {
		return err
	}
	if h.w.cfg.AudienceByPlatform {
		if snap.Audience, err = audience(ctx, client, loc, toAccounts(accounts.Accounts), ids); err != nil {
			return err
		}
	}
	// A later request of the same day replaces the day's snapshot: the
	// history keeps the freshest numbers of each day.
	rev, err = h.w.deps.History.Store(ctx, key, snap, rev)
	if err != nil {
		return err
	}
	log.Info("statistics stored", "day", day, "profiles", len(ids), "calls", len(chunks))
	return h.publishAndFollow(ctx, l, tz, key, snap, rev)
}

// publishAndFollow publishes the snapshot's events, then runs its
// follow-ups.
func (h *handler) publishAndFollow(ctx context.Context, l creds.Location, tz *time.Location, key string, snap report.Record, rev uint64) error {
	rev, err := h.publish(ctx, l.ID, key, snap, rev)
	if err != nil || rev == 0 {
		return err
	}
	snap.Published = true
	return h.follow(ctx, l, tz, key, snap, rev)
}

// publish sends one StatsSnapshot per chunk of snap, stored at revision
// rev of key, then marks it published and returns the new revision (0
// when a newer request of the day replaced the snapshot meanwhile). Each chunk is one HighLevel answer,
// so metrics are exactly what HighLevel returned, and an event stays far
// below the message size limit however many accounts a location has.
func (h *handler) publish(ctx context.Context, loc, key string, snap report.Record, rev uint64) (uint64, error) {
	subject, err := topology.StatsEvents.Subject(loc)
	if err != nil {
		return 0, err
	}
	for i, c := range snap.Chunks {
		ev, err := toEvent(loc, snap, c)
		if err != nil {
			return 0, err
		}
		if _, err := h.w.deps.Publisher.Publish(ctx, subject, ev, bus.WithMsgID(snapshot.EventID(loc, snap.Day, snap.Trigger, i))); err != nil {
			return 0, err
		}
	}
	snap.Published = true
	rev, err = h.w.deps.History.Store(ctx, key, snap, rev)
	if errors.Is(err, errConflict) {
		// A newer request of the day replaced the snapshot: its own
		// events follow.
		return 0, nil
	}
	return rev, err
}

// errConflict is a snapshot changed by someone else since it was read.
var errConflict = errors.New("statistics snapshot changed meanwhile")

// triggerID identifies a request across deliveries and copies: its
// event_id, else the Nats-Msg-Id it was first published under (replays
// included), else (a run fired by a schedule, which
// the server sends without a Nats-Msg-Id) the id derived from its content,
// which is the same every day.
func triggerID(msg jetstream.Msg, req *socialsyncv1.StatsRequested) (string, error) {
	if id := req.GetEventId(); id != "" {
		return "event:" + id, nil
	}
	if id := bus.OriginalMsgID(msg.Headers()); id != "" {
		return "msg:" + id, nil
	}
	id, err := bus.MsgID(msg.Subject(), req)
	if err != nil {
		return "", bus.Permanent(err)
	}
	return "content:" + id, nil
}

// toAccounts converts HighLevel's accounts for the domain package.
func toAccounts(in []ghl.Account) []snapshot.Account {
	out := make([]snapshot.Account, 0, len(in))
	for _, a := range in {
		out = append(out, snapshot.Account{ProfileID: a.ProfileID, Platform: a.Platform, Expired: a.IsExpired})
	}
	return out
}

// fromChunks converts the statistics calls' answers for the history.
func fromChunks(in []ghl.StatisticsChunk) ([]report.Chunk, error) {
	out := make([]report.Chunk, 0, len(in))
	for _, c := range in {
		raw, err := json.Marshal(c.Statistics)
		if err != nil {
			return nil, fmt.Errorf("encode statistics: %w", err)
		}
		out = append(out, report.Chunk{ProfileIDs: c.ProfileIDs, Statistics: raw, TraceID: c.TraceID})
	}
	return out, nil
}

// toEvent builds the StatsSnapshot of one chunk.
func toEvent(loc string, snap report.Record, c report.Chunk) (*socialsyncv1.StatsSnapshot, error) {
	metrics := &structpb.Struct{}
	if err := protojson.Unmarshal(c.Statistics, metrics); err != nil {
		return nil, bus.Permanent(fmt.Errorf("statistics of %s as a struct: %w", loc, err))
	}
	return &socialsyncv1.StatsSnapshot{
		LocationId: loc,
		Endpoint:   Endpoint,
		Metrics:    metrics,
		Timestamp:  timestamppb.New(snap.TakenAt),
		Day:        snap.Day,
		ProfileIds: c.ProfileIDs,
	}, nil
}
