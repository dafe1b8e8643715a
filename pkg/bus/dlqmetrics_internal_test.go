package bus

import (
	"fmt"
	"testing"
)

// TestDeadLettersByLocation checks that the dead letters held are summed
// over the workers per location, and that at most MaxDeadLetterSeries
// locations are reported, those with the most first.
func TestDeadLettersByLocation(t *testing.T) {
	subjects := map[string]uint64{"socialsync.dlq.fetcher.L1": 2, "socialsync.dlq.contactsync.L1": 3, "socialsync.dlq.stats.L2": 4}
	for i := range MaxDeadLetterSeries + 10 {
		subjects[fmt.Sprintf("socialsync.dlq.enricher.M%03d", i)] = 1
	}
	got := deadLettersByLocation(subjects)
	if len(got) != MaxDeadLetterSeries {
		t.Fatalf("%d locations, want %d", len(got), MaxDeadLetterSeries)
	}
	if got[0] != (locationCount{"L1", 5}) || got[1] != (locationCount{"L2", 4}) {
		t.Errorf("first two %v, want L1 with 5 (two workers) and L2 with 4", got[:2])
	}
}
