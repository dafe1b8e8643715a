package contactsync

import (
	"errors"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// A post trigger handed back for a paced location comes back returnEarly
// before its promised permit (half its wait when that is shorter), still
// a paced deferral; other errors pass unchanged.
func TestComeBackEarly(t *testing.T) {
	for _, c := range []struct{ wait, want time.Duration }{
		{10 * time.Second, 9 * time.Second},
		{2 * time.Second, time.Second},
		{time.Second, 500 * time.Millisecond},
		{100 * time.Millisecond, 50 * time.Millisecond},
	} {
		err := comeBackEarly(&ratelimit.PacedError{Loc: "loc1", Wait: c.wait})
		class, after := bus.Classify(err)
		if class != bus.ClassDeferred || after != c.want || !errors.Is(err, ratelimit.ErrPaced) {
			t.Errorf("paced for %v: %v, deferred %v (%v), want deferred %v and still paced", c.wait, class, after, err, c.want)
		}
	}
	other := errors.New("boom")
	if err := comeBackEarly(other); err != other {
		t.Errorf("another error became %v", err)
	}
}
