package bus_test

import (
	"errors"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus"
)

func TestParseSubjectStructure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		subject    string
		wantFamily bus.Family
		wantLoc    string
		wantErr    error
	}{
		{"any.family.loc1", "any.family", "loc1", nil},
		{"socialsync.trigger.post.bad-loc", "socialsync.trigger.post", "", bus.ErrInvalidLocation},
		{"one.", "", "", bus.ErrUnknownSubject},
		{"a..loc1", "", "", bus.ErrUnknownSubject},
		{"a.*.loc1", "", "", bus.ErrUnknownSubject},
		{"nodots", "", "", bus.ErrUnknownSubject},
		{"", "", "", bus.ErrUnknownSubject},
	}
	for _, tt := range tests {
		f, loc, err := bus.ParseSubject(tt.subject)
		if f != tt.wantFamily || loc != tt.wantLoc || !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseSubject(%q) = %q, %q, %v; want %q, %q, %v", tt.subject, f, loc, err, tt.wantFamily, tt.wantLoc, tt.wantErr)
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
