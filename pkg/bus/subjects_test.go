package bus_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus"
)

func TestValidLocationID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"ve9EPM428h8vShlRW1KT", true},
		{"a", true},
		{"0123456789", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"loc.1", false},
		{"loc*", false},
		{"loc>", false},
		{"loc 1", false},
		{"loc-1", false},
		{"loc_1", false},
		{"lóc", false},
		{"loc\n", false},
	}
	for _, tt := range tests {
		if got := bus.ValidLocationID(tt.id); got != tt.want {
			t.Errorf("ValidLocationID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	subj, err := bus.PostTriggers.Subject("loc1")
	if err != nil || subj != "socialsync.trigger.post.loc1" {
		t.Errorf("PostTriggers.Subject(loc1) = %q, %v", subj, err)
	}
	if subj, err := bus.TagEvents.Subject("a.b"); !errors.Is(err, bus.ErrInvalidLocation) || subj != "" {
		t.Errorf("TagEvents.Subject(a.b) = %q, %v; want ErrInvalidLocation", subj, err)
	}
	if got := bus.StatsTriggers.Filter(); got != "socialsync.trigger.stats.*" {
		t.Errorf("Filter = %q", got)
	}

	tests := []struct {
		subject    string
		wantFamily bus.Family
		wantLoc    string
		wantErr    error
	}{
		{"socialsync.trigger.post.loc1", bus.PostTriggers, "loc1", nil},
		{"socialsync.trigger.tagdetails.L2", bus.TagDetailsTriggers, "L2", nil},
		{"socialsync.event.contact.x9", bus.ContactEvents, "x9", nil},
		{"socialsync.event.location.Loc7", bus.LocationEvents, "Loc7", nil},
		{"socialsync.refresh.catalogue.abc", bus.CatalogueRefreshes, "abc", nil},
		{"socialsync.trigger.post.bad-loc", bus.PostTriggers, "", bus.ErrInvalidLocation},
		{"socialsync.trigger.post.", bus.PostTriggers, "", bus.ErrInvalidLocation},
		{"socialsync.trigger.nope.loc1", "", "", bus.ErrUnknownSubject},
		{"socialsync.trigger.post", "", "", bus.ErrUnknownSubject},
		{"nodots", "", "", bus.ErrUnknownSubject},
		{"", "", "", bus.ErrUnknownSubject},
	}
	for _, tt := range tests {
		f, loc, err := bus.ParseSubject(tt.subject)
		if f != tt.wantFamily || loc != tt.wantLoc || !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseSubject(%q) = %q, %q, %v; want %q, %q, %v", tt.subject, f, loc, err, tt.wantFamily, tt.wantLoc, tt.wantErr)
		}
		if err != nil && !errors.Is(err, bus.ErrBadInput) {
			t.Errorf("ParseSubject(%q) error %v is not bad input", tt.subject, err)
		}
	}
}

func TestDeadLetterSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		worker, loc, want string
		wantErr           bool
	}{
		{"fetcher", "loc1", "socialsync.dlq.fetcher.loc1", false},
		{"contact-sync_2", "loc1", "socialsync.dlq.contact-sync_2.loc1", false},
		{"fetcher", "bad.loc", "socialsync.dlq.fetcher._invalid", false},
		{"fetcher", "", "socialsync.dlq.fetcher._invalid", false},
		{"fetch.er", "loc1", "", true},
		{"", "loc1", "", true},
	}
	for _, tt := range tests {
		got, err := bus.DeadLetterSubject(tt.worker, tt.loc)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("DeadLetterSubject(%q, %q) = %q, %v; want %q, error %v", tt.worker, tt.loc, got, err, tt.want, tt.wantErr)
		}
	}
}
