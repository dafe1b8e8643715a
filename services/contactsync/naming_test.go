package contactsync_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// A location's contact-tag template applies from the next event, with no
// restart: the post's contacts lose the tags under the old names and get
// them under the new ones.
func TestNamingTemplateAppliesLive(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	tags := liveTags(t, l, 2)
	launch, sale := tags[0], tags[1]
	primeCatalogue(t, env, loc, l.SocialTags)
	contacts := env.LiveContacts(t, loc, 2)
	startWorker(t, env)
	kv, err := settings.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	named := func(prefix string, tg ghlsim.TagView) string { return prefix + strings.ToLower(tg.Tag) }

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

// A renamed social tag is renamed on its contacts under the location's
// contact-tag template: brand/<old> goes, brand/<new> comes.
func TestRenameFollowsTheTemplate(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	launch := liveTags(t, l, 1)[0]
	primeCatalogue(t, env, loc, l.SocialTags)
	contacts := env.LiveContacts(t, loc, 2)
	kv, err := settings.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(context.Background(), kv, settings.Mapping{Location: loc, ContactTag: "Brand/{{tagName}}"}); err != nil {
		t.Fatal(err)
	}
	startWorker(t, env)
	p1 := createPost(t, env, loc, launch)
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, TagIds: ids(launch), ContactIds: contacts, EventId: "r1"})
	old := "brand/" + strings.ToLower(launch.Tag)
	waitTags(t, env, loc, contacts, []string{old}, nil)

	// The enricher lists the post under its tag; the fetcher stores the
	// renamed catalogue and announces the rename.
	rel, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	listed, _ := relations.TagPosts{PostIDs: []string{postKey(t, p1)}}.Marshal()
	if _, err := rel.Put(context.Background(), relations.TagPostsKey(loc, launch.ID), listed); err != nil {
		t.Fatal(err)
	}
	renamed := launch
	renamed.Tag = "Grand Launch"
	at := time.Now()
	var tags []ghlsim.TagView
	for _, tg := range l.SocialTags {
		if tg.ID == launch.ID {
			tg = renamed
		}
		tags = append(tags, tg)
	}
	storeCatalogue(t, env, loc, tags, nil, at)
	subject, _ := topology.TagEvents.Subject(loc)
	if _, err := env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.TagChanged{LocationId: loc, TagId: launch.ID,
		TagName: renamed.Tag, PreviousName: launch.Tag, Change: socialsyncv1.Change_CHANGE_RENAMED, Timestamp: timestamppb.New(at)}); err != nil {
		t.Fatal(err)
	}
	waitTags(t, env, loc, contacts, []string{"brand/grand launch"}, []string{old})
}

// The mapping's contactFields copy the post's tags' details into its
// contacts' custom fields, from the next event on.
func TestContactFieldsCopied(t *testing.T) {
	env := fleettest.Start(t, "empty")
	created := env.NewLocation(t, map[string]any{"timezone": "UTC", "socialTags": []string{"Promo", "Autumn"},
		"contacts": []map[string]any{{"firstName": "A"}, {"firstName": "B"}}, "customFields": []string{"contact.social_tags", "contact.social_tag_ids"}})
	loc := created.ID
	l := env.Location(t, loc)
	primeCatalogue(t, env, loc, l.SocialTags)
	contacts := env.LiveContacts(t, loc, 2)
	startWorker(t, env)
	kv, err := settings.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(context.Background(), kv, settings.Mapping{Location: loc, ContactFields: []settings.FieldMapping{
		{From: "tagName", To: "contact.social_tags"}, {From: "tagId", To: "contact.social_tag_ids"}}}); err != nil {
		t.Fatal(err)
	}
	byName := map[string]ghlsim.TagView{}
	for _, tg := range l.SocialTags {
		byName[tg.Tag] = tg
	}
	promo, autumn := byName["Promo"], byName["Autumn"]
	p1 := createPost(t, env, loc, promo, autumn)
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, TagIds: ids(promo, autumn), ContactIds: contacts, EventId: "f1"})

	want := map[string]any{"contact.social_tags": "Autumn, Promo", "contact.social_tag_ids": autumn.ID + ", " + promo.ID}
	var got map[string]map[string]any
	fleettest.Eventually(t, 20*time.Second, "contact custom fields", func() bool {
		got = map[string]map[string]any{}
		for _, c := range env.Location(t, loc).Contacts {
			got[c.ID] = c.CustomFields
		}
		for _, c := range contacts {
			if !cmp.Equal(got[c], want) {
				return false
			}
		}
		return true
	})
}
