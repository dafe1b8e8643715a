package cli

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/contactsync"
)

// `socialsync reconcile --dry-run` says what it will cost and reports a
// tag removed by hand as missing, repairing nothing; under the repair
// policy `socialsync reconcile` adds it again.
func TestReconcileDryRunAndRepair(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, tagIDs, contacts := workersLocation(t, env, "Promo")
	// The worker's clock runs two minutes ahead once the contacts are
	// tagged: reconciliation leaves out contacts written in the last minute.
	w, err := NewContactSync(context.Background(), contactsync.Config{Config: env.Deps.Config, Concurrency: 2, TagPrefix: "social:", BulkMin: 2}, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	var ahead atomic.Int64
	w.SetClock(func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) })
	env.RunWorker(t, "contactsync", w)
	// The catalogue as the fetcher stores it.
	cat, err := relations.NewCatalogue([]relations.Tag{{ID: tagIDs[0], Name: "Promo"}}, time.Now()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tags, err := env.JS.KeyValue(context.Background(), topology.BucketTags)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tags.Put(context.Background(), relations.CatalogueKey(loc), cat); err != nil {
		t.Fatal(err)
	}

	publishPost(t, env, loc, "p1", tagIDs, contacts)
	fleettest.Eventually(t, 30*time.Second, "contact tags", func() bool { return tagged(t, env, loc, "social:promo") })
	// The states are committed after HighLevel took the tags: advance the
	// clock only once they are, or a state committed after it counts as
	// written in the last minute.
	rel, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 30*time.Second, "contact states committed", func() bool {
		for _, c := range contacts {
			e, err := rel.Get(context.Background(), relations.ContactKey(loc, c))
			if err != nil {
				return false
			}
			var st relations.ContactState
			if json.Unmarshal(e.Value(), &st) != nil || !slices.Contains(st.Applied, "social:promo") {
				return false
			}
		}
		return true
	})
	ahead.Store(int64(2 * time.Minute))
	if _, err := env.Deps.Client(loc).RemoveContactTags(context.Background(), contacts[0], []string{"social:promo"}); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runCLI(t, "reconcile", "--nats", env.URL(), "--location", loc, "--dry-run", "--run-id", "dry1", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("reconcile --dry-run: exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{
		"reconciliation dry1 of " + loc + " (dry run, policy respect)",
		"cost: 1 contact tags over 2 contacts: about 1 HighLevel search calls (within 10s at the location's budget",
		"missing  " + contacts[0],
		"summary: 1 missing, 0 stale, 0 foreign; 0 repaired, 0 recorded",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if tagged(t, env, loc, "social:promo") {
		t.Error("the dry run repaired")
	}

	kv, err := env.JS.KeyValue(context.Background(), topology.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(context.Background(), kv, settings.Mapping{Location: loc, Reconcile: settings.ReconcileMapping{Policy: settings.PolicyRepair}}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "reconcile", "--nats", env.URL(), "--location", loc, "--run-id", "fix1", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("reconcile: exit %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(out, "(repairs under policy repair)") || !strings.Contains(out, "summary: 1 missing, 0 stale, 0 foreign; 1 repaired") ||
		!strings.Contains(out, "social:promo") || !strings.Contains(out, " added") {
		t.Errorf("repair output:\n%s", out)
	}
	if !tagged(t, env, loc, "social:promo") {
		t.Error("the tag removed by hand was not added again")
	}

	if _, errOut, code := runCLI(t, "reconcile", "--nats", env.URL(), "--location", loc, "--run-id", "no way"); code == 0 || !strings.Contains(errOut, "--run-id") {
		t.Errorf("a bad run id: exit %d: %s", code, errOut)
	}
}

func TestProgressBar(t *testing.T) {
	for _, tt := range []struct {
		done, total int
		want        string
	}{
		{0, 4, "[..........] 0/4 tags"},
		{1, 4, "[##........] 1/4 tags"},
		{4, 4, "[##########] 4/4 tags"},
		{0, 0, "[##########] 0/0 tags"},
	} {
		if got := progressBar(tt.done, tt.total, 10, "tags"); got != tt.want {
			t.Errorf("progressBar(%d, %d) = %q, want %q", tt.done, tt.total, got, tt.want)
		}
	}
	if terminal(new(strings.Builder)) {
		t.Error("a buffer taken for a terminal")
	}
}
