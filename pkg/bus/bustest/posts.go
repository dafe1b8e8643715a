package bustest

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ids"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// PostCase is a post trigger that every consumer of post triggers, the
// gateway and `socialsync trigger post` must treat alike: accept it when
// Valid, refuse it as bad input naming Field otherwise.
type PostCase struct {
	Name  string
	Event *socialsyncv1.PostEvent
	Valid bool
	// Field is the field a refusal names, in the message contract's
	// spelling ("post_id").
	Field string
	// Value is the value a refusal quotes, as an *ids.Error quotes it.
	Value string
}

// PostCases returns the shared post trigger cases for location loc,
// carrying tagIDs and contactIDs, dated at now: post ids from other
// systems (accepted) and ids and times no consumer may accept.
func PostCases(loc string, tagIDs, contactIDs []string, now time.Time) []PostCase {
	ev := func(postID, source string, at time.Time) *socialsyncv1.PostEvent {
		return &socialsyncv1.PostEvent{LocationId: loc, PostId: postID, TagIds: tagIDs, ContactIds: contactIDs,
			Source: source, OccurredAt: timestamppb.New(at)}
	}
	cases := []PostCase{
		{Name: "crm id", Event: ev("crm-post-1", "crm", now), Valid: true},
		{Name: "utf-8 id", Event: ev("Bestellung-ä/42", "shop", now), Valid: true},
		{Name: "257 bytes", Event: ev(strings.Repeat("p", 257), "crm", now), Field: "post_id"},
		{Name: "newline", Event: ev("crm-post\n1", "crm", now), Field: "post_id"},
		{Name: "far future", Event: ev("crm-post-2", "crm", time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)), Field: "occurred_at"},
		{Name: "401 days old", Event: ev("crm-post-3", "crm", now.Add(-401*24*time.Hour)), Field: "occurred_at"},
	}
	for i, c := range cases {
		if c.Valid {
			continue
		}
		var err error
		if c.Field == "occurred_at" {
			err = ids.CheckOccurredAt(c.Field, c.Event.GetOccurredAt().AsTime(), now)
		} else {
			err = ids.CheckExternal(c.Field, c.Event.GetPostId())
		}
		var e *ids.Error
		if errors.As(err, &e) {
			cases[i].Value = e.Value
		}
	}
	return cases
}

// Marker is what a refusal of c says: `<field> "<value>"`, with field
// spelled by name (the gateway's JSON names differ from the contract's).
func (c PostCase) Marker(name func(string) string) string {
	return name(c.Field) + " " + strconv.Quote(c.Value)
}

// CheckPostDeadLetters checks the dead letters a consumer wrote after
// handling every one of cases: one of class bad_input for each refused
// case, quoting its field and value, and none for an accepted case.
func CheckPostDeadLetters(tb testing.TB, cases []PostCase, dls []bus.DeadLetter) {
	tb.Helper()
	refused := 0
	for _, c := range cases {
		if c.Valid {
			if slices.ContainsFunc(dls, func(dl bus.DeadLetter) bool { return strings.Contains(dl.Reason, strconv.Quote(c.Event.GetPostId())) }) {
				tb.Errorf("%s: dead-lettered, want it accepted", c.Name)
			}
			continue
		}
		refused++
		marker := c.Marker(func(s string) string { return s })
		i := slices.IndexFunc(dls, func(dl bus.DeadLetter) bool { return strings.Contains(dl.Reason, marker) })
		switch {
		case i < 0:
			tb.Errorf("%s: no dead letter says %s", c.Name, marker)
		case dls[i].Class != "bad_input":
			tb.Errorf("%s: dead letter of class %s, want bad_input", c.Name, dls[i].Class)
		}
	}
	if len(dls) != refused {
		tb.Errorf("%d dead letters, want %d (one per refused case)", len(dls), refused)
	}
}
