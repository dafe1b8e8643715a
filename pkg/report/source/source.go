// Package source reads what reports are built from out of the buckets: the
// statistics history (report.Record) and the tags' activity in the
// relations and details buckets. It is apart from pkg/report so that the
// report building, which the workers' domain packages use, stays free of
// NATS.
package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ids"
	rel "github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// HistoryDays returns the days of loc's snapshots in the history, sorted.
func HistoryDays(ctx context.Context, history jetstream.KeyValue, loc string) ([]string, error) {
	lister, err := history.ListKeysFiltered(ctx, report.HistoryPattern(loc))
	if err != nil {
		return nil, fmt.Errorf("list statistics of %s: %w", loc, err)
	}
	var days []string
	for k := range lister.Keys() {
		if d, ok := report.DayOfKey(loc, k); ok {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	return days, nil
}

// StoredDays returns the days of loc's snapshots in the history bucket,
// sorted.
func StoredDays(ctx context.Context, js jetstream.JetStream, loc string) ([]string, error) {
	history, err := js.KeyValue(ctx, topology.BucketStatsHistory)
	if err != nil {
		return nil, err
	}
	return HistoryDays(ctx, history, loc)
}

// LoadHistory returns loc's snapshots that can hold a day of from … to or
// of the period of the same length before it, converted for reports, and
// the stored values of those, by day. An unreadable snapshot is an error.
func LoadHistory(ctx context.Context, history jetstream.KeyValue, loc, from, to string) ([]report.Snapshot, map[string]json.RawMessage, error) {
	days, err := report.Days(from, to)
	if err != nil {
		return nil, nil, err
	}
	lo, _ := report.Shift(from, 1-len(days))
	hi, _ := report.Shift(to, report.Window)
	stored, err := HistoryDays(ctx, history, loc)
	if err != nil {
		return nil, nil, err
	}
	var snaps []report.Snapshot
	raw := map[string]json.RawMessage{}
	for _, d := range stored {
		if d < lo || d > hi {
			continue
		}
		e, err := history.Get(ctx, report.HistoryKey(loc, d))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // pruned meanwhile
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read statistics of %s on %s: %w", loc, d, err)
		}
		var s report.Record
		if err := json.Unmarshal(e.Value(), &s); err != nil {
			return nil, nil, fmt.Errorf("statistics of %s on %s unreadable: %w", loc, d, err)
		}
		rs, err := report.FromRecord(s)
		if err != nil {
			return nil, nil, err
		}
		snaps = append(snaps, rs)
		raw[d] = e.Value()
	}
	return snaps, raw, nil
}

// LoadTags returns loc's social tags with their posts: the tags the
// enricher relates to posts ("tagposts.<loc>.<tagId>" in the relations
// bucket) and those it holds details of, each post with its day (its last
// event's time, in tz) and the contacts contactsync linked it to
// ("postcontacts.<loc>.<postKey>").
func LoadTags(ctx context.Context, relations, details jetstream.KeyValue, loc string, tz *time.Location) ([]report.Tag, error) {
	tags := map[string]*report.Tag{}
	var order []string
	tag := func(id string) *report.Tag {
		t := tags[id]
		if t == nil {
			t = &report.Tag{ID: id, Name: id}
			tags[id] = t
			order = append(order, id)
		}
		return t
	}
	dl, err := details.ListKeysFiltered(ctx, rel.DetailsPattern(loc))
	if err != nil {
		return nil, fmt.Errorf("list tag details of %s: %w", loc, err)
	}
	for k := range dl.Keys() {
		e, err := details.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var pb socialsyncv1.TagDetail
		if protojson.Unmarshal(e.Value(), &pb) != nil || pb.GetTagId() == "" {
			continue
		}
		t := tag(pb.GetTagId())
		if pb.GetTagName() != "" {
			t.Name = pb.GetTagName()
		}
		t.Deleted = pb.GetDeleted()
	}
	rl, err := relations.ListKeysFiltered(ctx, rel.TagPostsPattern(loc))
	if err != nil {
		return nil, fmt.Errorf("list tag relations of %s: %w", loc, err)
	}
	var keys []string
	for k := range rl.Keys() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	posts := map[string]*report.Post{}
	for _, k := range keys {
		var tp rel.TagPosts
		if ok, err := getJSON(ctx, relations, k, &tp); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		t := tag(k[len(rel.TagPostsPrefix(loc)):])
		for _, id := range tp.PostIDs {
			p, seen := posts[id]
			if !seen {
				if p, err = loadPost(ctx, relations, loc, id, tz); err != nil {
					return nil, err
				}
				posts[id] = p
			}
			if p != nil {
				t.Posts = append(t.Posts, *p)
			}
		}
	}
	out := make([]report.Tag, 0, len(order))
	for _, id := range order {
		out = append(out, *tags[id])
	}
	return out, nil
}

// loadPost reads a post's record and contacts; nil when it has no record.
func loadPost(ctx context.Context, relations jetstream.KeyValue, loc, id string, tz *time.Location) (*report.Post, error) {
	var rec rel.PostRecord
	ok, err := getJSON(ctx, relations, rel.PostKey(loc, id), &rec)
	if err != nil || !ok {
		return nil, err
	}
	var pc rel.PostContacts
	if _, err := getJSON(ctx, relations, rel.PostContactsKey(loc, id), &pc); err != nil {
		return nil, err
	}
	return &report.Post{ID: postID(id), Day: report.PostDay(rec.UpdatedAt, tz), Contacts: pc.ContactIDs}, nil
}

// postID returns the id, in the sending system's spelling, of a post key
// (ids.Key) of the relations bucket: the id alone for ids.DefaultSource,
// "<source>:<id>" for another source, the key itself when it is no key.
func postID(key string) string {
	source, id, err := ids.ParseKey(key)
	switch {
	case err != nil:
		return key
	case source == ids.DefaultSource:
		return id
	default:
		return source + ":" + id
	}
}

// getJSON reads the JSON at key into v; false when absent or unreadable.
func getJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (bool, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", key, err)
	}
	return json.Unmarshal(e.Value(), v) == nil, nil
}

// Buckets are the buckets a report is built from.
type Buckets struct {
	History, Relations, Details jetstream.KeyValue
}

// Open opens the buckets reports are built from.
func Open(ctx context.Context, js jetstream.JetStream) (Buckets, error) {
	var s Buckets
	if err := bus.OpenBuckets(ctx, js, map[string]*jetstream.KeyValue{
		topology.BucketStatsHistory: &s.History, topology.BucketRelations: &s.Relations, topology.BucketTagDetails: &s.Details,
	}); err != nil {
		return Buckets{}, err
	}
	return s, nil
}

// Build builds loc's report of from … to (location-local days in tz)
// from the statistics history and the tags' activity, as the stats
// worker, `socialsync report` and the gateway do.
func (s Buckets) Build(ctx context.Context, loc string, tz *time.Location, from, to string, now time.Time) (report.Report, error) {
	snaps, _, err := LoadHistory(ctx, s.History, loc, from, to)
	if err != nil {
		return report.Report{}, err
	}
	tags, err := LoadTags(ctx, s.Relations, s.Details, loc, tz)
	if err != nil {
		return report.Report{}, err
	}
	return report.Build(report.Input{Location: loc, From: from, To: to, Snapshots: snaps, Tags: tags, GeneratedAt: now})
}
