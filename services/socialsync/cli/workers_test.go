package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// workersLocation creates a location with the social tags names and two
// contacts, and returns its id, its tag ids and its contact ids.
func workersLocation(t *testing.T, env *fleettest.Env, names ...string) (loc string, tagIDs, contacts []string) {
	t.Helper()
	li := env.NewLocation(t, map[string]any{"timezone": "UTC", "socialTags": names,
		"contacts": []map[string]any{{"firstName": "A"}, {"firstName": "B"}}})
	detail := env.Location(t, li.ID)
	for _, tg := range detail.SocialTags {
		tagIDs = append(tagIDs, tg.ID)
	}
	for _, c := range detail.Contacts {
		contacts = append(contacts, c.ID)
	}
	return li.ID, tagIDs, contacts
}

// tagged reports whether every contact of loc carries every tag of want.
func tagged(t *testing.T, env *fleettest.Env, loc string, want ...string) bool {
	t.Helper()
	detail := env.Location(t, loc)
	for _, c := range detail.Contacts {
		for _, w := range want {
			if !slices.ContainsFunc(c.Tags, func(s string) bool { return strings.EqualFold(s, w) }) {
				return false
			}
		}
	}
	return len(detail.Contacts) > 0
}

// runWorkers runs the workers of `socialsync run` until the test ends.
func runWorkers(t *testing.T, env *fleettest.Env) {
	t.Helper()
	components, err := Workers(env.Deps.Config, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	for _, comp := range components {
		fleettest.Run(t, comp.Run)
	}
}

// publishPost publishes a post event of loc carrying tagIDs and listing
// contacts.
func publishPost(t *testing.T, env *fleettest.Env, loc, post string, tagIDs, contacts []string) {
	t.Helper()
	subject, _ := topology.PostTriggers.Subject(loc)
	if _, err := env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.PostEvent{LocationId: loc, PostId: post,
		TagIds: tagIDs, ContactIds: contacts, OccurredAt: timestamppb.Now(), EventId: "workers-" + post}); err != nil {
		t.Fatal(err)
	}
}

// applyPromoFans stores the segment promo-fans: contacts with social:promo.
func applyPromoFans(t *testing.T, env *fleettest.Env) {
	t.Helper()
	segs, err := automation.ParseSegments("segments.yaml", []byte("segments:\n  - name: promo-fans\n    allTags: [\"social:promo\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := automation.ApplySegments(context.Background(), env.JS, segs, false); err != nil {
		t.Fatal(err)
	}
}

// Segment membership follows contact tags through the workers of
// `socialsync run`: contactsync tags the contacts of a post, the
// automation worker then puts them in the segment their tags match.
func TestSegmentsFollowContactTags(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, tagIDs, contacts := workersLocation(t, env, "Promo")
	applyPromoFans(t, env)
	runWorkers(t, env)
	publishPost(t, env, loc, "p1", tagIDs, contacts)
	fleettest.Eventually(t, 30*time.Second, "contact and segment tags", func() bool {
		return tagged(t, env, loc, "social:promo", "segment:promo-fans")
	})
}

// A workflow whose webhook hangs does not delay contact tags: with every
// workflow handler of the automation worker stuck in the webhook, a post
// event still tags its contacts promptly, while the webhooks still hang.
func TestSlowWorkflowDelaysNoContactTag(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, tagIDs, contacts := workersLocation(t, env, "Promo")

	// The receiver holds every call until the test ends.
	release := make(chan struct{})
	var hanging atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hanging.Add(1)
		defer hanging.Add(-1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook"), []byte("s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOCIALSYNC_WORKFLOW_SECRETS_DIR", dir)
	t.Setenv("SOCIALSYNC_WORKFLOW_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1/32")
	t.Setenv("SOCIALSYNC_WORKFLOW_WEBHOOK_TIMEOUT", "5m")
	t.Setenv("SOCIALSYNC_AUTOMATION_CONCURRENCY", "2")
	wfs, err := automation.ParseWorkflows("workflows.yaml", []byte(fmt.Sprintf(`workflows:
  - name: slow
    on: tag.deleted
    actions:
      - webhook: { url: %q, secret: hook }
`, srv.URL+"/hook")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := automation.ApplyWorkflows(context.Background(), env.JS, wfs, false); err != nil {
		t.Fatal(err)
	}
	runWorkers(t, env)

	// Enough deleted-tag events to hold every workflow handler.
	subject, _ := topology.TagEvents.Subject(loc)
	for i := range 4 {
		if _, err := env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.TagChanged{LocationId: loc,
			TagId: fmt.Sprintf("gone%d", i), TagName: fmt.Sprintf("gone %d", i), Change: socialsyncv1.Change_CHANGE_DELETED}); err != nil {
			t.Fatal(err)
		}
	}
	fleettest.Eventually(t, 30*time.Second, "every workflow handler stuck in the webhook", func() bool { return hanging.Load() >= 2 })

	start := time.Now()
	publishPost(t, env, loc, "p1", tagIDs, contacts)
	fleettest.Eventually(t, 30*time.Second, "contact tags", func() bool { return tagged(t, env, loc, "social:promo") })
	if n := hanging.Load(); n < 2 {
		t.Fatalf("%d webhook calls hanging when the contacts were tagged, want 2: the test did not hold the workflows", n)
	}
	t.Logf("contacts tagged %v after the post event, with %d workflow webhooks hanging", time.Since(start).Round(time.Millisecond), hanging.Load())
}
