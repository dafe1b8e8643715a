package snapshot

import (
	"testing"
)

func TestEventID(t *testing.T) {
	a := EventID("loc1", "2025-03-01", "ev1", 0)
	if a != EventID("loc1", "2025-03-01", "ev1", 0) {
		t.Fatal("EventID is not deterministic")
	}
	for _, other := range []string{
		EventID("loc2", "2025-03-01", "ev1", 0),
		EventID("loc1", "2025-03-02", "ev1", 0),
		EventID("loc1", "2025-03-01", "ev2", 0),
		EventID("loc1", "2025-03-01", "ev1", 1),
	} {
		if other == a {
			t.Errorf("EventID collides: %s", a)
		}
	}
}
