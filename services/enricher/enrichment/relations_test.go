package enrichment

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/socialsync/socialsync/pkg/relations"
)

func TestPlanPost(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	t1, t2 := now.Add(-time.Hour), now.Add(-time.Minute)
	rec := func(at time.Time, tags ...string) *relations.PostRecord {
		return &relations.PostRecord{TagIDs: tags, UpdatedAt: at}
	}
	tests := []struct {
		name   string
		stored *relations.PostRecord
		u      PostUpdate
		want   PostPlan
	}{
		{"new post", nil, PostUpdate{PostKey: "p", TagIDs: []string{"a", "b", "a"}, OccurredAt: t1},
			PostPlan{Target: []string{"a", "b"}, Check: []string{"a", "b"}, Write: true, Record: relations.PostRecord{TagIDs: []string{"a", "b"}, UpdatedAt: t1}}},
		{"update drops a tag", rec(t1, "a", "b"), PostUpdate{PostKey: "p", Change: PostUpdated, TagIDs: []string{"a"}, OccurredAt: t2},
			PostPlan{Target: []string{"a"}, Check: []string{"a", "b"}, Write: true, Record: relations.PostRecord{TagIDs: []string{"a"}, UpdatedAt: t2}}},
		{"undated event is dated now", rec(t1, "a"), PostUpdate{PostKey: "p", TagIDs: []string{"c"}},
			PostPlan{Target: []string{"c"}, Check: []string{"c", "a"}, Write: true, Record: relations.PostRecord{TagIDs: []string{"c"}, UpdatedAt: now}}},
		{"redelivery writes nothing", rec(t1, "a"), PostUpdate{PostKey: "p", TagIDs: []string{"a"}, OccurredAt: t1},
			PostPlan{Target: []string{"a"}, Check: []string{"a"}, Record: relations.PostRecord{TagIDs: []string{"a"}, UpdatedAt: t1}}},
		{"undated redelivery writes nothing", rec(t1, "a"), PostUpdate{PostKey: "p", TagIDs: []string{"a"}},
			PostPlan{Target: []string{"a"}, Check: []string{"a"}, Record: relations.PostRecord{TagIDs: []string{"a"}, UpdatedAt: now}}},
		{"stale event keeps the stored tags", rec(t2, "a"), PostUpdate{PostKey: "p", TagIDs: []string{"b"}, OccurredAt: t1},
			PostPlan{Target: []string{"a"}, Check: []string{"a", "b"}}},
		{"deletion", rec(t1, "a", "b"), PostUpdate{PostKey: "p", Change: PostDeleted, TagIDs: []string{"c"}, OccurredAt: t2},
			PostPlan{Check: []string{"c", "a", "b"}, Write: true, Delete: true}},
		{"deletion of an unknown post", nil, PostUpdate{PostKey: "p", Change: PostDeleted, TagIDs: []string{"c"}},
			PostPlan{Check: []string{"c"}, Delete: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanPost(tt.stored, tt.u, now)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("PlanPost (-want +got):\n%s", diff)
			}
		})
	}
}
