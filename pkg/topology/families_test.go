package topology_test

import (
	"errors"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/topology"
)

func TestSubjects(t *testing.T) {
	t.Parallel()
	subj, err := topology.PostTriggers.Subject("loc1")
	if err != nil || subj != "socialsync.trigger.post.loc1" {
		t.Errorf("PostTriggers.Subject(loc1) = %q, %v", subj, err)
	}
	if subj, err := topology.TagEvents.Subject("a.b"); !errors.Is(err, bus.ErrInvalidLocation) || subj != "" {
		t.Errorf("TagEvents.Subject(a.b) = %q, %v; want ErrInvalidLocation", subj, err)
	}
	if got := topology.StatsTriggers.Filter(); got != "socialsync.trigger.stats.*" {
		t.Errorf("Filter = %q", got)
	}

	tests := []struct {
		subject    string
		wantFamily bus.Family
		wantLoc    string
		wantErr    error
	}{
		{"socialsync.trigger.post.loc1", topology.PostTriggers, "loc1", nil},
		{"socialsync.trigger.tagdetails.L2", topology.TagDetailsTriggers, "L2", nil},
		{"socialsync.event.contact.x9", topology.ContactEvents, "x9", nil},
		{"socialsync.event.location.Loc7", topology.LocationEvents, "Loc7", nil},
		{"socialsync.refresh.catalogue.abc", topology.CatalogueRefreshes, "abc", nil},
		{"socialsync.trigger.post.bad-loc", topology.PostTriggers, "", bus.ErrInvalidLocation},
		{"socialsync.trigger.post.", topology.PostTriggers, "", bus.ErrInvalidLocation},
		{"socialsync.trigger.nope.loc1", "", "", bus.ErrUnknownSubject},
		{"socialsync.trigger.post", "", "", bus.ErrUnknownSubject},
		{"nodots", "", "", bus.ErrUnknownSubject},
		{"", "", "", bus.ErrUnknownSubject},
	}
	for _, tt := range tests {
		f, loc, err := topology.ParseSubject(tt.subject)
		if f != tt.wantFamily || loc != tt.wantLoc || !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseSubject(%q) = %q, %q, %v; want %q, %q, %v", tt.subject, f, loc, err, tt.wantFamily, tt.wantLoc, tt.wantErr)
		}
		if err != nil && !errors.Is(err, bus.ErrBadInput) {
			t.Errorf("ParseSubject(%q) error %v is not bad input", tt.subject, err)
		}
	}
}
