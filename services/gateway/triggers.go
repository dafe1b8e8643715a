package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// published is the answer of a trigger: where it went, and whether it was
// a duplicate of one published within the duplicate window.
type published struct {
	Subject   string `json:"subject"`
	Sequence  uint64 `json:"sequence"`
	Duplicate bool   `json:"duplicate"`
}

// triggerPost publishes a PostEvent for the path's location, as
// `socialsync trigger post` does. The body is the event's JSON; its
// locationId, when given, must be the path's.
func (g *Gateway) triggerPost(w http.ResponseWriter, r *http.Request) {
	l, ok := g.triggerable(w, r)
	if !ok {
		return
	}
	body, ok := g.triggerBody(w, r)
	if !ok {
		return
	}
	ev, err := decodePost(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	if ev.LocationId != "" && ev.LocationId != l.ID {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "locationId: "+quote(ev.LocationId)+" is not the location of the path")
		return
	}
	ev.LocationId = l.ID
	if ev.Source == "" {
		ev.Source = ids.DefaultSource
	}
	if err := g.validatePost(ev, false); err != nil {
		writeInvalid(w, err)
		return
	}
	if ev.OccurredAt == nil {
		ev.OccurredAt = timestamppb.New(g.now())
	}
	g.publish(w, r, topology.PostTriggers, ev, ev.GetEventId())
}

type tagDetailsBody struct {
	TagIDs  []string `json:"tagIds"`
	EventID string   `json:"eventId,omitempty"`
}

// triggerTagDetails asks the enricher for tag details, as `socialsync
// trigger tagdetails` does.
func (g *Gateway) triggerTagDetails(w http.ResponseWriter, r *http.Request) {
	l, ok := g.triggerable(w, r)
	if !ok {
		return
	}
	var b tagDetailsBody
	if !g.decodeTrigger(w, r, &b) {
		return
	}
	if len(b.TagIDs) == 0 {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "tagIds: want at least one tag id")
		return
	}
	if err := validIDs("tagIds", b.TagIDs); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid", err.Error())
		return
	}
	if !validEventID(w, b.EventID) {
		return
	}
	g.publish(w, r, topology.TagDetailsTriggers, &socialsyncv1.TagDetailsRequested{LocationId: l.ID, TagIds: b.TagIDs, RequestedBy: "api", EventId: b.EventID},
		b.EventID)
}

type statsBody struct {
	ProfileIDs []string `json:"profileIds,omitempty"`
	Platforms  []string `json:"platforms,omitempty"`
	Range      *struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"range,omitempty"`
	EventID string `json:"eventId,omitempty"`
}

// triggerStats asks the stats worker for a statistics run, as `socialsync
// trigger stats` does.
func (g *Gateway) triggerStats(w http.ResponseWriter, r *http.Request) {
	l, ok := g.triggerable(w, r)
	if !ok {
		return
	}
	var b statsBody
	if !g.decodeTrigger(w, r, &b) {
		return
	}
	if err := validIDs("profileIds", b.ProfileIDs); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid", err.Error())
		return
	}
	for i, p := range b.Platforms {
		if p == "" || len(p) > 32 || strings.ContainsFunc(p, func(r rune) bool { return !('a' <= r && r <= 'z') }) {
			writeError(w, http.StatusUnprocessableEntity, "invalid", fmt.Sprintf("platforms[%d]: want a platform name in lower case letters, got %s", i, quote(p)))
			return
		}
	}
	if !validEventID(w, b.EventID) {
		return
	}
	req := &socialsyncv1.StatsRequested{LocationId: l.ID, ProfileIds: b.ProfileIDs, Platforms: b.Platforms, RequestedBy: "api", EventId: b.EventID}
	if b.Range != nil {
		// The stats worker's check, on this clock in the location's time
		// zone: what it would refuse is not published.
		if err := report.CheckRequestRange(b.Range.From, b.Range.To, report.Day(g.now(), report.Zone(l.Timezone))); err != nil {
			writeError(w, http.StatusUnprocessableEntity, "invalid", err.Error())
			return
		}
		req.Range = &socialsyncv1.DateRange{From: b.Range.From, To: b.Range.To}
	}
	g.publish(w, r, topology.StatsTriggers, req, b.EventID)
}

// triggerBody reads a trigger's JSON body (an empty body is "{}").
func (g *Gateway) triggerBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength != 0 && !jsonContent(w, r) {
		return nil, false
	}
	body, ok := readBody(w, r, g.cfg.WebhookMaxBytes)
	if ok && len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	return body, ok
}

// decodeTrigger decodes a trigger's JSON body strictly into v.
func (g *Gateway) decodeTrigger(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := g.triggerBody(w, r)
	if !ok {
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "malformed", "malformed body: "+clip(err.Error(), 300))
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "malformed", "malformed body: data after the JSON object")
		return false
	}
	return true
}

// validEventID answers 422 for an eventId of a trigger that is not one
// (ids.CheckEventID: the webhook's bounds, no reserved prefix); an empty
// one is valid.
func validEventID(w http.ResponseWriter, id string) bool {
	if id == "" {
		return true
	}
	if err := ids.CheckEventID("event_id", id); err != nil {
		writeInvalid(w, err)
		return false
	}
	return true
}

// publish sends a trigger and answers 202, 503 with Retry-After when the
// location's quota or the stream is full, or 429 when JetStream cannot
// take it. A trigger with an eventID is published under its
// ids.EventKey in the API's namespace (ids.APISource), apart from every
// webhook source's; one without under the id derived from its content.
func (g *Gateway) publish(w http.ResponseWriter, r *http.Request, family bus.Family, m proto.Message, eventID string) {
	if p, ok := g.publishTrigger(w, r, family, m, eventID); ok {
		writeJSON(w, http.StatusAccepted, p)
	}
}

// publishTrigger sends a trigger as publish does and returns where it
// went; when it could not, it has answered and returns false.
func (g *Gateway) publishTrigger(w http.ResponseWriter, r *http.Request, family bus.Family, m proto.Message, eventID string) (published, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.PublishTimeout)
	defer cancel()
	if !g.deps.Conn.IsConnected() {
		unavailable(w, "JetStream is unavailable; retry later")
		return published{}, false
	}
	if g.refuseHeld(ctx, w, r.PathValue("loc")) {
		return published{}, false
	}
	var opts []bus.PublishOption
	if eventID != "" {
		key, err := ids.EventKey(ids.APISource, r.PathValue("loc"), eventID)
		if err != nil {
			writeInvalid(w, err)
			return published{}, false
		}
		opts = append(opts, bus.WithMsgID(key))
	}
	subject, ack, err := g.deps.Publisher.PublishTo(ctx, family, m, opts...)
	switch {
	case errors.Is(err, bus.ErrBadInput):
		writeError(w, http.StatusUnprocessableEntity, "invalid", err.Error())
	case g.full(w, err):
	case err != nil:
		g.log.Warn("publish trigger", "subject", subject, "err", err)
		unavailable(w, "JetStream did not store the trigger; retry later")
	default:
		return published{Subject: subject, Sequence: ack.Sequence, Duplicate: ack.Duplicate}, true
	}
	return published{}, false
}
