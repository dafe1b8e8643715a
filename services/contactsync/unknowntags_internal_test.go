package contactsync

import (
	"testing"
	"time"
)

// An event naming a tag the catalogue lacks comes back soon at first (a
// new location's first catalogue takes the fetcher milliseconds), then
// ever later, up to UnknownTagRetry.
func TestUnknownTagRetryBacksOff(t *testing.T) {
	for _, tt := range []struct {
		delivered uint64
		want      time.Duration
	}{
		{0, 250 * time.Millisecond},
		{1, 250 * time.Millisecond},
		{2, 500 * time.Millisecond},
		{3, time.Second},
		{4, 2 * time.Second},
		{50, 2 * time.Second},
	} {
		if got := unknownTagRetry(tt.delivered); got != tt.want {
			t.Errorf("delivery %d: deferred %v, want %v", tt.delivered, got, tt.want)
		}
	}
}
