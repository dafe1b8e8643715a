package contactsync_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync"
)

// A removal HighLevel confirmed is not sent again when the event is
// redelivered because its state could not be stored (a crash or a NATS
// failure between the write and the store), nor when the same event is
// published again: the simulator sees one DELETE.
func TestRemovalNotRepeatedOnRedelivery(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	primeCatalogue(t, env, loc, l.SocialTags)
	tag := liveTags(t, l, 1)[0]
	contact := env.LiveContacts(t, loc, 1)[0]
	var fail atomic.Bool
	var failed atomic.Int32
	startHookedWorker(t, env, func(w *contactsync.Worker) {
		contactsync.FailBeforeCommit(w, func(string) error {
			if fail.CompareAndSwap(true, false) {
				failed.Add(1)
				return errors.New("simulated NATS failure before the state is stored")
			}
			return nil
		})
	})

	waitHandled(t, env, publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", TagIds: ids(tag), ContactIds: []string{contact}}))
	waitTags(t, env, loc, []string{contact}, []string{social(tag)}, nil)

	// The post drops the tag; the first attempt fails after HighLevel
	// removed it and before the state is stored.
	fail.Store(true)
	drop := &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", ContactIds: []string{contact}}
	waitHandled(t, env, publish(t, env, drop))
	if failed.Load() != 1 {
		t.Fatalf("the failure was injected %d times, want 1", failed.Load())
	}
	waitTags(t, env, loc, []string{contact}, nil, []string{social(tag)})
	// The same change once more, under its own event id (the same bytes
	// would be dropped as a duplicate before any handler ran).
	again := proto.Clone(drop).(*socialsyncv1.PostEvent)
	again.EventId = "drop-again"
	waitHandled(t, env, publish(t, env, again))

	deletes := 0
	for _, r := range env.Requests(t, loc) {
		if r.Method == http.MethodDelete && r.Path == "/contacts/"+contact+"/tags" {
			deletes++
		}
	}
	if deletes != 1 {
		t.Errorf("%d DELETE /contacts/%s/tags, want 1", deletes, contact)
	}
}
