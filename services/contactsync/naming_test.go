package contactsync_test

import (
	"context"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/settings"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// A location's contact-tag template applies from the next event, with no
// restart: the post's contacts lose the tags under the old names and get
// them under the new ones.
func TestNamingTemplateAppliesLive(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := location(t, env, loc)
	tags := liveTags(t, l, 2)
	launch, sale := tags[0], tags[1]
	primeCatalogue(t, env, loc, l.SocialTags)
	contacts := liveContacts(t, l, 2)
	startWorker(t, env)
	kv, err := settings.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	named := func(prefix string, tg simTag) string { return prefix + strings.ToLower(tg.Tag) }

	p1 := createPost(t, env, loc, launch)
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, TagIds: ids(launch), ContactIds: contacts, EventId: "n1"})
	waitTags(t, env, loc, contacts, []string{social(launch)}, nil)

	if err := settings.PutMapping(context.Background(), kv, settings.Mapping{Location: loc, ContactTag: "Brand/{{tagName}}"}); err != nil {
		t.Fatal(err)
	}
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, TagIds: ids(launch, sale), ContactIds: contacts, EventId: "n2"})
	waitTags(t, env, loc, contacts, []string{named("brand/", launch), named("brand/", sale)}, []string{social(launch), social(sale)})

	// Back to the default when the mapping goes.
	if err := kv.Delete(context.Background(), settings.MappingsKey(loc)); err != nil {
		t.Fatal(err)
	}
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, TagIds: ids(sale), ContactIds: contacts, EventId: "n3"})
	waitTags(t, env, loc, contacts, []string{social(sale)}, []string{named("brand/", launch), named("brand/", sale), social(launch)})
}
