package socialsyncv1_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// A publisher using the stock nats CLI writes protojson by hand: the field
// names it types must be the lowerCamelCase ones the README documents.
func TestPostEventFromHandWrittenJSON(t *testing.T) {
	in := `{"locationId":"Loc1","postId":"p1","change":"CHANGE_UPDATED","tagIds":["t1","t2"],
	        "contactIds":["c1"],"occurredAt":"2026-11-27T10:00:00Z","source":"crm","eventId":"e-1"}`
	var got socialsyncv1.PostEvent
	if err := protojson.Unmarshal([]byte(in), &got); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	want := &socialsyncv1.PostEvent{
		LocationId: "Loc1", PostId: "p1", Change: socialsyncv1.Change_CHANGE_UPDATED,
		TagIds: []string{"t1", "t2"}, ContactIds: []string{"c1"},
		OccurredAt: timestamppb.New(mustTime(t, "2026-11-27T10:00:00Z")),
		Source:     "crm", EventId: "e-1",
	}
	if diff := cmp.Diff(want, &got, protocmp.Transform()); diff != "" {
		t.Errorf("PostEvent mismatch (-want +got):\n%s", diff)
	}
}

// A sending system names contacts as it knows them: the gateway decodes
// these with protojson, as every publisher's JSON.
func TestPostEventContactsFromHandWrittenJSON(t *testing.T) {
	in := `{"locationId":"Loc1","postId":"p1","contactIds":["c1"],
	        "contacts":[{"id":"c2"},{"email":"ann@example.com"},{"phone":"+14155550100"},{"externalId":"CRM-42"}]}`
	var got socialsyncv1.PostEvent
	if err := protojson.Unmarshal([]byte(in), &got); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	want := &socialsyncv1.PostEvent{LocationId: "Loc1", PostId: "p1", ContactIds: []string{"c1"}, Contacts: []*socialsyncv1.ContactRef{
		{Ref: &socialsyncv1.ContactRef_Id{Id: "c2"}},
		{Ref: &socialsyncv1.ContactRef_Email{Email: "ann@example.com"}},
		{Ref: &socialsyncv1.ContactRef_Phone{Phone: "+14155550100"}},
		{Ref: &socialsyncv1.ContactRef_ExternalId{ExternalId: "CRM-42"}},
	}}
	if diff := cmp.Diff(want, &got, protocmp.Transform()); diff != "" {
		t.Errorf("PostEvent mismatch (-want +got):\n%s", diff)
	}
	// One reference names one contact, one way.
	err := protojson.Unmarshal([]byte(`{"contacts":[{"email":"ann@example.com","phone":"+14155550100"}]}`), &got)
	if err == nil {
		t.Error("a reference with an email and a phone was accepted")
	}
}

func TestJSONUsesLowerCamelCase(t *testing.T) {
	tests := []struct {
		msg  proto.Message
		keys []string
	}{
		{&socialsyncv1.PostEvent{LocationId: "L", PostId: "p", TagIds: []string{"t"}, ContactIds: []string{"c"}, EventId: "e", OccurredAt: timestamppb.Now()},
			[]string{"locationId", "postId", "tagIds", "contactIds", "eventId", "occurredAt"}},
		{&socialsyncv1.TagDetailsRequested{LocationId: "L", TagIds: []string{"t"}, RequestedBy: "fetcher"},
			[]string{"locationId", "tagIds", "requestedBy"}},
		{&socialsyncv1.StatsRequested{LocationId: "L", ProfileIds: []string{"p"}, Range: &socialsyncv1.DateRange{From: "2026-11-01", To: "2026-11-08"}},
			[]string{"locationId", "profileIds", "range"}},
		{&socialsyncv1.TagChanged{LocationId: "L", TagId: "t", TagName: "n", PreviousName: "o", Change: socialsyncv1.Change_CHANGE_RENAMED},
			[]string{"locationId", "tagId", "tagName", "previousName", "change"}},
		{&socialsyncv1.TagDetailsStored{LocationId: "L", TagDetails: []*socialsyncv1.TagDetail{{TagId: "t", TagName: "n"}}, RetrievedAt: timestamppb.Now()},
			[]string{"locationId", "tagDetails", "retrievedAt"}},
		{&socialsyncv1.StatsSnapshot{LocationId: "L", Endpoint: "POST /social-media-posting/statistics", ProfileIds: []string{"p"}},
			[]string{"locationId", "endpoint", "profileIds"}},
		{&socialsyncv1.ContactTagsChanged{LocationId: "L", ContactId: "c", Added: []string{"social:a"}},
			[]string{"locationId", "contactId", "added"}},
		{&socialsyncv1.LocationStateChanged{LocationId: "L", State: socialsyncv1.LocationState_LOCATION_STATE_NEEDS_REAUTH,
			PreviousState: socialsyncv1.LocationState_LOCATION_STATE_ACTIVE, Reason: "refresh token rejected (invalid_grant)", Timestamp: timestamppb.Now()},
			[]string{"locationId", "state", "previousState", "reason", "timestamp"}},
	}
	for _, tt := range tests {
		m := tt.msg
		name := string(m.ProtoReflect().Descriptor().Name())
		t.Run(name, func(t *testing.T) {
			b, err := protojson.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var obj map[string]any
			if err := json.Unmarshal(b, &obj); err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.keys {
				if _, ok := obj[k]; !ok {
					t.Errorf("%s JSON lacks %q: %s", name, k, b)
				}
			}
			back := m.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal(b, back); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(m, back) {
				t.Errorf("protojson round trip changed %s", name)
			}
			wire, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			back2 := m.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(wire, back2); err != nil || !proto.Equal(m, back2) {
				t.Errorf("binary round trip changed %s (err %v)", name, err)
			}
		})
	}
}

func TestChangeZeroValueIsUnspecified(t *testing.T) {
	var e socialsyncv1.PostEvent
	if e.GetChange() != socialsyncv1.Change_CHANGE_UNSPECIFIED {
		t.Fatalf("zero change = %v", e.GetChange())
	}
	if socialsyncv1.Change_CHANGE_UNSPECIFIED.Number() != 0 {
		t.Fatal("CHANGE_UNSPECIFIED must be the zero value")
	}
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
