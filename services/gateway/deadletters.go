package gateway

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// deadLetter is a dead letter as the API lists it.
type deadLetter struct {
	Seq             uint64    `json:"seq"`
	Worker          string    `json:"worker"`
	Location        string    `json:"location"`
	Reason          string    `json:"reason"`
	Class           string    `json:"class"`
	OriginalSubject string    `json:"originalSubject"`
	Deliveries      uint64    `json:"deliveries"`
	Time            time.Time `json:"time"`
	Item            string    `json:"item,omitempty"`
	Truncated       bool      `json:"truncated"`
}

// deadLetterDetail adds what an inspection shows: the original's place,
// headers and payload (base64), and the payload decoded when it is a
// message socialsync knows.
type deadLetterDetail struct {
	deadLetter
	Stream   string              `json:"stream"`
	Sequence uint64              `json:"sequence"`
	Consumer string              `json:"consumer"`
	MsgID    string              `json:"msgId,omitempty"`
	Headers  map[string][]string `json:"headers"`
	Data     string              `json:"data"`
	Decoded  any                 `json:"decoded,omitempty"`
}

type deadLetterList struct {
	Items      []deadLetter `json:"items"`
	Total      uint64       `json:"total"`
	NextCursor string       `json:"nextCursor,omitempty"`
}

func toDeadLetter(dl bus.StoredDeadLetter) deadLetter {
	return deadLetter{Seq: dl.Seq, Worker: dl.Worker, Location: dl.Location, Reason: dl.Reason, Class: dl.Class,
		OriginalSubject: dl.OriginalSubject, Deliveries: dl.Deliveries, Time: dl.Time.UTC(), Item: dl.Item, Truncated: dl.Truncated}
}

// deadLetterFilters reads the worker and location query parameters. With
// no location, a location-limited key gets one filter per location of its
// own; a location it may not see is answered 403.
func deadLetterFilters(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	q := r.URL.Query()
	worker, loc := q.Get("worker"), q.Get("location")
	if worker != "" && !validSource(worker) {
		writeError(w, http.StatusBadRequest, "bad_request", "worker: want a worker name (letters, digits, '-', '_'), got "+quote(worker))
		return nil, false
	}
	if loc != "" && loc != "_invalid" && !ids.ValidHighLevel(loc) {
		writeError(w, http.StatusBadRequest, "bad_request", "location: want a HighLevel location id, got "+quote(loc))
		return nil, false
	}
	k := keyOfRequest(r)
	if loc != "" && !allow(w, r, loc) {
		return nil, false
	}
	if loc != "" || !k.limited() {
		return []string{bus.DeadLetterFilter(worker, loc)}, true
	}
	var out []string
	for _, l := range k.locationList() {
		out = append(out, bus.DeadLetterFilter(worker, l))
	}
	return out, true
}

// deadLetters returns up to limit dead letters matching any of filters
// whose sequence is above after, oldest first, with their total count,
// and whether more follow.
func (g *Gateway) deadLetters(ctx context.Context, filters []string, after uint64, limit int) ([]bus.StoredDeadLetter, uint64, bool, error) {
	var out []bus.StoredDeadLetter
	var total uint64
	more := false
	for _, f := range filters {
		_, n, err := bus.CountDeadLetters(ctx, g.deps.JS, f)
		if err != nil {
			return nil, 0, false, err
		}
		total += n
		items, m, err := bus.ListDeadLetters(ctx, g.deps.JS, f, after, limit)
		if err != nil {
			return nil, 0, false, err
		}
		out, more = append(out, items...), more || m
	}
	slices.SortFunc(out, func(a, b bus.StoredDeadLetter) int { return cmp.Compare(a.Seq, b.Seq) })
	if len(out) > limit {
		out, more = out[:limit], true
	}
	return out, total, more, nil
}

// listDeadLetters pages through the dead letters, oldest first; the
// cursor is the last sequence shown.
func (g *Gateway) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	filters, ok := deadLetterFilters(w, r)
	if !ok {
		return
	}
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	items, total, more, err := g.deadLetters(r.Context(), filters, uint64(p.offset), p.limit)
	if err != nil {
		g.storeError(w, "list dead letters", err)
		return
	}
	out := deadLetterList{Items: []deadLetter{}, Total: total}
	for _, dl := range items {
		out.Items = append(out.Items, toDeadLetter(dl))
	}
	if more && len(items) > 0 {
		out.NextCursor = encodeCursor(items[len(items)-1].Seq)
	}
	writeJSON(w, http.StatusOK, out)
}

func parseSeq(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "seq: want the positive sequence number of a dead letter, got "+quote(r.PathValue("seq")))
		return 0, false
	}
	return seq, true
}

func (g *Gateway) getDeadLetter(w http.ResponseWriter, r *http.Request) {
	seq, ok := parseSeq(w, r)
	if !ok {
		return
	}
	dl, err := bus.InspectDeadLetter(r.Context(), g.deps.JS, seq)
	if errors.Is(err, bus.ErrNoDeadLetter) {
		writeError(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if err != nil {
		g.storeError(w, "read dead letter", err)
		return
	}
	if !g.allowDeadLetter(w, r, dl) {
		return
	}
	out := deadLetterDetail{deadLetter: toDeadLetter(dl), Stream: dl.Stream, Sequence: dl.Sequence, Consumer: dl.Consumer, MsgID: dl.MsgID,
		Headers: map[string][]string(dl.Header), Data: base64.StdEncoding.EncodeToString(dl.Data)}
	if out.Headers == nil {
		out.Headers = map[string][]string{}
	}
	out.Decoded = decodeOriginal(dl)
	writeJSON(w, http.StatusOK, out)
}

// allowDeadLetter answers 403 and returns false when the request's key
// may not see the location of dead letter dl.
func (g *Gateway) allowDeadLetter(w http.ResponseWriter, r *http.Request, dl bus.StoredDeadLetter) bool {
	k := keyOfRequest(r)
	if k.allows(dl.Location) {
		return true
	}
	refuseLocation(w, k, "of dead letter "+strconv.FormatUint(dl.Seq, 10))
	return false
}

// decodeOriginal returns the original payload as protojson when its
// subject names a message socialsync knows and it decodes; nil otherwise.
func decodeOriginal(dl bus.StoredDeadLetter) any {
	family, _, err := topology.ParseSubject(dl.OriginalSubject)
	if err != nil || len(dl.Data) == 0 {
		return nil
	}
	m := messageOf(family)
	if m == nil || bus.Unmarshal(dl.Header, dl.Data, m) != nil {
		return nil
	}
	return rawJSON(m)
}

// messageOf returns an empty message of the family's type.
func messageOf(f bus.Family) proto.Message {
	switch f {
	case topology.PostTriggers, topology.CatalogueRefreshes:
		return &socialsyncv1.PostEvent{}
	case topology.TagDetailsTriggers:
		return &socialsyncv1.TagDetailsRequested{}
	case topology.StatsTriggers, topology.ScheduledStats, topology.StatsSchedules:
		return &socialsyncv1.StatsRequested{}
	case topology.TagEvents:
		return &socialsyncv1.TagChanged{}
	case topology.TagDetailsEvents:
		return &socialsyncv1.TagDetailsStored{}
	case topology.StatsEvents:
		return &socialsyncv1.StatsSnapshot{}
	case topology.ContactEvents:
		return &socialsyncv1.ContactTagsChanged{}
	case topology.LocationEvents:
		return &socialsyncv1.LocationStateChanged{}
	case topology.RecommendationEvents:
		return &socialsyncv1.RecommendationsUpdated{}
	case topology.SegmentEvents:
		return &socialsyncv1.SegmentChanged{}
	case topology.SegmentTriggers:
		return &socialsyncv1.SegmentsRecompute{}
	case topology.HighLevelContactTriggers:
		return &socialsyncv1.HighLevelContactChanged{}
	case topology.ReconcileTriggers:
		return &socialsyncv1.ReconcileRequested{}
	case topology.RemapTriggers:
		return &socialsyncv1.RemapRequested{}
	}
	return nil
}

// rawJSON is a message's protojson, embedded as is in an answer.
type rawJSONMsg []byte

func (r rawJSONMsg) MarshalJSON() ([]byte, error) { return r, nil }

func rawJSON(m proto.Message) any {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil
	}
	return rawJSONMsg(b)
}

type replayed struct {
	Seq      uint64 `json:"seq"`
	Subject  string `json:"subject"`
	Sequence uint64 `json:"sequence"`
	// Consumer is the one durable the replay is for; the others ack it
	// unhandled.
	Consumer string `json:"consumer"`
}

func (g *Gateway) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	seq, ok := parseSeq(w, r)
	if !ok {
		return
	}
	if keyOfRequest(r).limited() {
		dl, err := bus.InspectDeadLetter(r.Context(), g.deps.JS, seq)
		switch {
		case errors.Is(err, bus.ErrNoDeadLetter):
			writeError(w, http.StatusNotFound, "not_found", err.Error())
			return
		case err != nil:
			g.storeError(w, "read dead letter", err)
			return
		case !g.allowDeadLetter(w, r, dl):
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.PublishTimeout)
	defer cancel()
	res, err := bus.ReplayDeadLetter(ctx, g.deps.JS, seq)
	switch {
	case errors.Is(err, bus.ErrNoDeadLetter):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, bus.ErrNotReplayable):
		writeError(w, http.StatusConflict, "not_replayable", err.Error())
	case g.full(w, err):
	case err != nil:
		g.storeError(w, "replay dead letter", err)
	default:
		writeJSON(w, http.StatusOK, replayed(res))
	}
}

type replayAllBody struct {
	Location string `json:"location"`
	Worker   string `json:"worker,omitempty"`
}

type replayAllAnswer struct {
	Replayed []replayed   `json:"replayed"`
	Failed   []replayFail `json:"failed"`
}

type replayFail struct {
	Seq   uint64 `json:"seq"`
	Error string `json:"error"`
}

// replayDeadLetters replays every dead letter of a location (and worker).
func (g *Gateway) replayDeadLetters(w http.ResponseWriter, r *http.Request) {
	var b replayAllBody
	if !g.decodeTrigger(w, r, &b) {
		return
	}
	if !ids.ValidHighLevel(b.Location) {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "location: required, a HighLevel location id")
		return
	}
	if !allow(w, r, b.Location) {
		return
	}
	if b.Worker != "" && !validSource(b.Worker) {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "worker: want a worker name, got "+quote(b.Worker))
		return
	}
	done, failed, err := bus.ReplayDeadLetters(r.Context(), g.deps.JS, bus.DeadLetterFilter(b.Worker, b.Location))
	if err != nil && len(done) == 0 {
		g.storeError(w, "replay dead letters", err)
		return
	}
	out := replayAllAnswer{Replayed: []replayed{}, Failed: []replayFail{}}
	for _, d := range done {
		out.Replayed = append(out.Replayed, replayed(d))
	}
	for _, f := range failed {
		out.Failed = append(out.Failed, replayFail{Seq: f.Seq, Error: f.Err.Error()})
	}
	writeJSON(w, http.StatusOK, out)
}
