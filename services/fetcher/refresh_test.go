package fetcher_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// 250 new tags are asked for in three details requests (100, 100, 50),
// which together hold every tag once: one request never carries more ids
// than one HighLevel tag details call takes.
func TestDetailsRequestedByHundred(t *testing.T) {
	env := fleettest.Start(t, "empty")
	names := make([]string, 250)
	for i := range names {
		names[i] = fmt.Sprintf("Tag %03d", i)
	}
	loc, ids := env.NewTaggedLocation(t, names...)
	startWorker(t, env)

	trigger(t, env, loc, "first")
	fleettest.Eventually(t, 10*time.Second, "three details requests", func() bool { return len(detailRequests(t, env, loc)) >= 3 })
	reqs := detailRequests(t, env, loc)
	var sizes []int
	var asked []string
	for _, r := range reqs {
		sizes = append(sizes, len(r.TagIds))
		asked = append(asked, r.TagIds...)
	}
	if diff := cmp.Diff([]int{ghl.TagDetailsBatch, ghl.TagDetailsBatch, 50}, sizes); diff != "" {
		t.Errorf("details request sizes (-want +got):\n%s", diff)
	}
	var want []string
	for _, id := range ids {
		want = append(want, id)
	}
	slices.Sort(want)
	slices.Sort(asked)
	if diff := cmp.Diff(want, asked); diff != "" {
		t.Errorf("tags asked for (-want +got):\n%s", diff)
	}
}
