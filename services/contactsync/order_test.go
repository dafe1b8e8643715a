package contactsync_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// Two updates of one post handled in the wrong order (a resumed
// location's kept triggers, a redelivery) leave the contacts as the
// newer one says: the older one, handled last, changes nothing.
func TestOlderPostEventChangesNothing(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	tags := liveTags(t, l, 2)
	first, second := tags[0], tags[1]
	primeCatalogue(t, env, loc, l.SocialTags)
	contacts := env.LiveContacts(t, loc, 2)
	startWorker(t, env)

	post := createPost(t, env, loc, first)
	at := time.Now().Add(-time.Hour)
	// The newer update first: the post now carries the second tag.
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: post, Change: socialsyncv1.Change_CHANGE_UPDATED,
		TagIds: ids(second), ContactIds: contacts, EventId: "newer", OccurredAt: timestamppb.New(at.Add(time.Minute))})
	waitTags(t, env, loc, contacts, []string{social(second)}, []string{social(first)})
	// The older one, handled after it, changes nothing.
	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: post, Change: socialsyncv1.Change_CHANGE_CREATED,
		TagIds: ids(first), ContactIds: contacts, EventId: "older", OccurredAt: timestamppb.New(at)})
	waitHandled(t, env, seq)
	waitTags(t, env, loc, contacts, []string{social(second)}, []string{social(first)})
	// Nor does an older one unlinking a contact.
	seq = publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: post, Change: socialsyncv1.Change_CHANGE_UPDATED,
		TagIds: ids(second), ContactIds: contacts[:1], EventId: "older-unlink", OccurredAt: timestamppb.New(at.Add(30 * time.Second))})
	waitHandled(t, env, seq)
	waitTags(t, env, loc, contacts, []string{social(second)}, []string{social(first)})
	// A later update applies as usual, to the contacts the newer event
	// linked (the stale one did not change the post's list): leaving the
	// second contact out unlinks it.
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: post, Change: socialsyncv1.Change_CHANGE_UPDATED,
		TagIds: ids(first), ContactIds: contacts[:1], EventId: "latest", OccurredAt: timestamppb.New(at.Add(2 * time.Minute))})
	waitTags(t, env, loc, contacts[:1], []string{social(first)}, []string{social(second)})
	waitTags(t, env, loc, contacts[1:], nil, []string{social(first), social(second)})
}
