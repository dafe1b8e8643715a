package bus_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/ids"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

func TestCheckPostEvent(t *testing.T) {
	received := time.Date(2031, time.March, 4, 12, 0, 0, 0, time.UTC)
	valid := func() *socialsyncv1.PostEvent {
		return &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "65f151c99bc2bf3aaf970d72", Change: socialsyncv1.Change_CHANGE_UPDATED,
			TagIds: []string{"65fbdcfecc884f07e645ea8b"}, ContactIds: []string{"c1"}, Source: "highlevel", EventId: "ev 1",
			OccurredAt: timestamppb.New(received.Add(-time.Hour))}
	}
	tests := []struct {
		name  string
		edit  func(*socialsyncv1.PostEvent)
		field string // "" when valid
	}{
		{"valid", func(*socialsyncv1.PostEvent) {}, ""},
		{"minimal", func(e *socialsyncv1.PostEvent) { *e = socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p"} }, ""},
		{"crm id", func(e *socialsyncv1.PostEvent) { e.PostId = "crm-post-1" }, ""},
		{"utf-8 id", func(e *socialsyncv1.PostEvent) { e.PostId = "Bestellung-ä/42" }, ""},
		{"256 bytes", func(e *socialsyncv1.PostEvent) { e.PostId = strings.Repeat("ä", 128) }, ""},
		{"deleted without tags", func(e *socialsyncv1.PostEvent) { e.Change, e.TagIds = socialsyncv1.Change_CHANGE_DELETED, nil }, ""},
		{"occurred 5m ahead", func(e *socialsyncv1.PostEvent) { e.OccurredAt = timestamppb.New(received.Add(5 * time.Minute)) }, ""},
		{"no post id", func(e *socialsyncv1.PostEvent) { e.PostId = "" }, "post_id"},
		{"257 bytes", func(e *socialsyncv1.PostEvent) { e.PostId = strings.Repeat("p", 257) }, "post_id"},
		{"newline", func(e *socialsyncv1.PostEvent) { e.PostId = "a\nb" }, "post_id"},
		{"invalid utf-8", func(e *socialsyncv1.PostEvent) { e.PostId = "a\xffb" }, "post_id"},
		{"bad location", func(e *socialsyncv1.PostEvent) { e.LocationId = "loc-1" }, "location_id"},
		{"bad source", func(e *socialsyncv1.PostEvent) { e.Source = "crm system" }, "source"},
		{"event id with a tab", func(e *socialsyncv1.PostEvent) { e.EventId = "a\tb" }, "event_id"},
		{"event id 257 bytes", func(e *socialsyncv1.PostEvent) { e.EventId = strings.Repeat("e", 257) }, "event_id"},
		{"renamed is for tags", func(e *socialsyncv1.PostEvent) { e.Change = socialsyncv1.Change_CHANGE_RENAMED }, "change"},
		{"unknown change", func(e *socialsyncv1.PostEvent) { e.Change = 42 }, "change"},
		{"tag id with a wildcard", func(e *socialsyncv1.PostEvent) { e.TagIds = []string{"t1", "t*"} }, "tag_ids[1]"},
		{"contact id with a dash", func(e *socialsyncv1.PostEvent) { e.ContactIds = []string{"c-1"} }, "contact_ids[0]"},
		{"too many contacts", func(e *socialsyncv1.PostEvent) { e.ContactIds = make([]string, bus.MaxIDsPerList+1) }, "contact_ids"},
		{"contacts by email", func(e *socialsyncv1.PostEvent) { e.Contacts = []*socialsyncv1.ContactRef{emailRef("Ann@Example.com")} }, ""},
		{"a bad email fails its item only", func(e *socialsyncv1.PostEvent) { e.Contacts = []*socialsyncv1.ContactRef{emailRef("no at sign")} }, ""},
		{"1000 contacts in both lists", func(e *socialsyncv1.PostEvent) {
			e.ContactIds = []string{"c1"}
			e.Contacts = make([]*socialsyncv1.ContactRef, bus.MaxIDsPerList-1)
		}, ""},
		{"1001 contacts in both lists", func(e *socialsyncv1.PostEvent) {
			e.ContactIds = []string{"c1"}
			e.Contacts = make([]*socialsyncv1.ContactRef, bus.MaxIDsPerList)
		}, "contacts"},
		{"reference of 257 bytes", func(e *socialsyncv1.PostEvent) {
			e.Contacts = []*socialsyncv1.ContactRef{emailRef("ok@example.com"), emailRef(strings.Repeat("a", 245) + "@example.com")}
		}, "contacts[1]"},
		{"year 9999", func(e *socialsyncv1.PostEvent) {
			e.OccurredAt = timestamppb.New(time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC))
		}, "occurred_at"},
		{"5m1s ahead", func(e *socialsyncv1.PostEvent) {
			e.OccurredAt = timestamppb.New(received.Add(5*time.Minute + time.Second))
		}, "occurred_at"},
		{"401 days behind", func(e *socialsyncv1.PostEvent) { e.OccurredAt = timestamppb.New(received.Add(-401 * 24 * time.Hour)) }, "occurred_at"},
		{"invalid timestamp", func(e *socialsyncv1.PostEvent) { e.OccurredAt = &timestamppb.Timestamp{Nanos: -1} }, "occurred_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := valid()
			tt.edit(ev)
			err := bus.CheckPostEvent(ev, received)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("CheckPostEvent = %v, want nil", err)
				}
				return
			}
			var e *ids.Error
			if !errors.As(err, &e) || e.Field != tt.field {
				t.Fatalf("CheckPostEvent = %v, want an *ids.Error for %s", err, tt.field)
			}
			if !errors.Is(err, bus.ErrBadInput) || !errors.Is(err, bus.ErrInvalidMessage) {
				t.Errorf("CheckPostEvent = %v, want it to match ErrBadInput and ErrInvalidMessage", err)
			}
			if c, _ := bus.Classify(err); c != bus.ClassBadInput {
				t.Errorf("class %v, want bad_input", c)
			}
			if strings.ContainsAny(err.Error(), "\n\t") {
				t.Errorf("error text %q holds a control character", err)
			}
		})
	}
}

// The shared cases agree with CheckPostEvent.
func TestPostCases(t *testing.T) {
	now := time.Date(2031, time.March, 4, 12, 0, 0, 0, time.UTC)
	for _, c := range bustest.PostCases("loc1", []string{"t1"}, []string{"c1"}, now) {
		err := bus.CheckPostEvent(c.Event, now)
		var e *ids.Error
		if c.Valid && err != nil || !c.Valid && (!errors.As(err, &e) || e.Field != c.Field) {
			t.Errorf("%s: CheckPostEvent = %v, want valid %v, field %q", c.Name, err, c.Valid, c.Field)
		}
	}
}

// An error with a BadInput method, however wrapped, is bad input.
func TestClassifyBadInputer(t *testing.T) {
	err := fmt.Errorf("handle post: %w", ids.CheckExternal("post_id", "a\nb"))
	if c, _ := bus.Classify(err); c != bus.ClassBadInput {
		t.Errorf("Classify(%v) = %v, want bad_input", err, c)
	}
	if c, _ := bus.Classify(bus.Permanent(err)); c != bus.ClassBadInput {
		t.Errorf("Classify(Permanent(%v)) = %v, want bad_input", err, c)
	}
}

func TestPostKey(t *testing.T) {
	a, err := bus.PostKey(&socialsyncv1.PostEvent{PostId: "crm-post-1", Source: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bus.PostKey(&socialsyncv1.PostEvent{PostId: "crm-post-1", Source: "shop"})
	c, _ := bus.PostKey(&socialsyncv1.PostEvent{PostId: "crm-post-1"})
	d, _ := bus.PostKey(&socialsyncv1.PostEvent{PostId: "crm-post-1", Source: ids.DefaultSource})
	if a == b || a == c || c != d || a != "crm/Y3JtLXBvc3QtMQ" {
		t.Errorf("keys %q %q %q %q: want distinct per source, the default source for none", a, b, c, d)
	}
	if _, err := bus.PostKey(&socialsyncv1.PostEvent{PostId: "a\nb"}); !errors.Is(err, bus.ErrBadInput) {
		t.Errorf("PostKey of a bad id = %v, want bad input", err)
	}
}

func emailRef(v string) *socialsyncv1.ContactRef {
	return &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Email{Email: v}}
}

func TestCheckContactRef(t *testing.T) {
	tests := []struct {
		name string
		ref  *socialsyncv1.ContactRef
		want bus.ContactRef // zero: refused
	}{
		{"id", &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Id{Id: "sx6wyHhbFdRXh302LLNR"}}, bus.ContactRef{Kind: bus.RefID, Value: "sx6wyHhbFdRXh302LLNR"}},
		{"id with a dash", &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Id{Id: "c-1"}}, bus.ContactRef{}},
		{"email lower-cased", emailRef(" Ann.Lee+x@Example.COM "), bus.ContactRef{Kind: bus.RefEmail, Value: "ann.lee+x@example.com"}},
		{"email without @", emailRef("ann.example.com"), bus.ContactRef{}},
		{"email with two @", emailRef("ann@lee@example.com"), bus.ContactRef{}},
		{"email without a domain dot", emailRef("ann@localhost"), bus.ContactRef{}},
		{"email with a space", emailRef("ann lee@example.com"), bus.ContactRef{}},
		{"phone with punctuation", &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Phone{Phone: "+1 (415) 555-0100"}}, bus.ContactRef{Kind: bus.RefPhone, Value: "+14155550100"}},
		{"phone without +", &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Phone{Phone: "4155550100"}}, bus.ContactRef{}},
		{"phone with letters", &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Phone{Phone: "+1415CALLME"}}, bus.ContactRef{}},
		{"phone too short", &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Phone{Phone: "+1234567"}}, bus.ContactRef{}},
		{"external id", &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_ExternalId{ExternalId: "CRM/42"}}, bus.ContactRef{Kind: bus.RefExternalID, Value: "CRM/42"}},
		{"blank external id", &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_ExternalId{ExternalId: "  "}}, bus.ContactRef{}},
		{"nothing", &socialsyncv1.ContactRef{}, bus.ContactRef{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bus.CheckContactRef("contacts[3]", tt.ref)
			if tt.want == (bus.ContactRef{}) {
				var ie *ids.Error
				if !errors.As(err, &ie) || ie.Field != "contacts[3]" {
					t.Fatalf("CheckContactRef = %+v, %v; want an *ids.Error naming contacts[3]", got, err)
				}
				// The value never reaches the error.
				v := tt.ref.GetEmail() + tt.ref.GetPhone() + tt.ref.GetId() + tt.ref.GetExternalId()
				if strings.TrimSpace(v) != "" && strings.Contains(err.Error(), strings.TrimSpace(v)) {
					t.Fatalf("error %q holds the value", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CheckContactRef = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
