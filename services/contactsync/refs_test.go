package contactsync_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync"
)

// startReplica connects another contactsync process to the test fleet,
// as a second pod would: its logs (debug level) go to logs, its spans to
// spans.
func startReplica(t *testing.T, env *fleettest.Env, logs io.Writer, spans sdktrace.SpanProcessor) {
	t.Helper()
	ctx := context.Background()
	cfg := env.Deps.Config
	cfg.Telemetry.SpanProcessor = spans
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := fleet.Connect(ctx, "contactsync", cfg, fleet.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	stores, err := contactsync.OpenStores(ctx, d.JS)
	if err != nil {
		t.Fatal(err)
	}
	w, err := contactsync.New(contactsync.Config{Config: cfg, Concurrency: 1, TagPrefix: "social:", BulkMin: 2}, contactsync.Deps{
		Publisher: d.Publisher, Pacer: d.Governor, Client: func(loc string) contactsync.Client { return d.Client(loc) },
		Catalogues: stores.Catalogues, Details: stores.Details, Relations: stores.Relations, ContactRefs: stores.ContactRefs,
		Mappings: stores.Mappings, States: stores.States, DeadLetters: stores.DeadLetters, Purge: stores.Purge, Meter: d.Telemetry.MeterProvider(), Log: d.Log})
	if err != nil {
		t.Fatal(err)
	}
	fleettest.RunWorker(t, d, "contactsync", w)
}

// newRefLocation creates and registers a location from spec (the admin
// API's) and returns its id, social tags and contacts.
func newRefLocation(t *testing.T, env *fleettest.Env, spec map[string]any) (string, []ghlsim.TagView, []ghlsim.ContactView) {
	t.Helper()
	var created struct{ ID, Token, Name, Timezone string }
	env.Admin(t, "POST", "/_sandbox/locations", spec, &created)
	env.AddLocation(t, ghlsim.LocationInfo{ID: created.ID, Name: created.Name, Timezone: "UTC", Token: created.Token})
	tags, contacts := refLocation(t, env, created.ID)
	return created.ID, tags, contacts
}

func refLocation(t *testing.T, env *fleettest.Env, loc string) ([]ghlsim.TagView, []ghlsim.ContactView) {
	t.Helper()
	l := env.Location(t, loc)
	return l.SocialTags, l.Contacts
}

func putMapping(t *testing.T, env *fleettest.Env, m settings.Mapping) {
	t.Helper()
	kv, err := settings.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(context.Background(), kv, m); err != nil {
		t.Fatal(err)
	}
}

func email(v string) *socialsyncv1.ContactRef {
	return &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Email{Email: v}}
}

func phone(v string) *socialsyncv1.ContactRef {
	return &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Phone{Phone: v}}
}

func externalID(v string) *socialsyncv1.ContactRef {
	return &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_ExternalId{ExternalId: v}}
}

// refKeys returns the keys of loc's cached answers in
// socialsync_contact_refs ("<loc>.<hash>"; the index by contact,
// "<loc>.contact.<id>", left out).
func refKeys(t *testing.T, env *fleettest.Env, loc string) []string {
	t.Helper()
	return bucketKeys(t, env, loc+".*")
}

// bucketKeys returns the keys of socialsync_contact_refs matching filter.
func bucketKeys(t *testing.T, env *fleettest.Env, filter string) []string {
	t.Helper()
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketContactRefs)
	if err != nil {
		t.Fatal(err)
	}
	lister, err := kv.ListKeysFiltered(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range lister.Keys() {
		out = append(out, k)
	}
	return out
}

// leaks returns the personal data of secrets found in text, compared in
// lower case.
func leaks(text string, secrets ...string) []string {
	text = strings.ToLower(text)
	var out []string
	for _, s := range secrets {
		if strings.Contains(text, strings.ToLower(s)) {
			out = append(out, s)
		}
	}
	return out
}

// A post event names contacts by email, phone number and external id:
// each is found (the duplicate lookup, the assumed custom-field search),
// tagged and cached under a keyed hash; a second event asks HighLevel
// nothing more. References that name nobody, or nothing valid, are dead-
// lettered alone, and no email or phone number reaches a key, a log line,
// a span or a dead letter.
func TestContactReferences(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, tags, contacts := newRefLocation(t, env, map[string]any{
		"socialTags": []string{"Launch", "Summer"},
		"contacts": []map[string]any{
			{"email": "Ann.Lee@example.com", "tags": []string{}},
			{"phone": "+14155550100", "tags": []string{}},
			{"tags": []string{"by hand"}},
		},
		"customFields": []string{"contact.crm_id"},
	})
	ctx := context.Background()
	client := env.Deps.Client(loc)
	defs, err := client.ContactCustomFields(ctx, loc)
	if err != nil || len(defs) != 1 {
		t.Fatalf("custom fields = %+v, %v", defs, err)
	}
	if _, err := client.SetContactCustomFields(ctx, contacts[2].ID, []ghl.CustomFieldInput{{ID: defs[0].ID, FieldValue: "CRM-42"}}); err != nil {
		t.Fatal(err)
	}
	primeCatalogue(t, env, loc, tags)
	putMapping(t, env, settings.Mapping{Location: loc, Contacts: settings.ContactsMapping{ExternalIDField: "contact.crm_id"}})
	var logs fleettest.Buffer
	spans := tracetest.NewSpanRecorder()
	startReplica(t, env, &logs, spans)

	ids := []string{contacts[0].ID, contacts[1].ID, contacts[2].ID}
	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", TagIds: []string{tags[0].ID}, Contacts: []*socialsyncv1.ContactRef{
		email("ANN.LEE@example.com"), phone("+1 (415) 555-0100"), externalID("CRM-42"),
		email("nobody.here@example.com"), email("not an email"), externalID("CRM-404"),
	}})
	waitTags(t, env, loc, ids, []string{social(tags[0])}, nil)
	waitHandled(t, env, seq)

	var dls []bus.DeadLetter
	fleettest.Eventually(t, 10*time.Second, "dead letters", func() bool {
		dls = bustest.DeadLetters(t, env.JS, "socialsync.dlq.contactsync."+loc)
		return len(dls) >= 3
	})
	want := map[string]string{
		"contactref 3": "no contact of the location has this email (contacts.createMissing is off)",
		"contactref 4": "contacts[4]",
		"contactref 5": "no contact of the location has this external id",
	}
	if len(dls) != len(want) {
		t.Fatalf("%d dead letters, want %d: %+v", len(dls), len(want), dls)
	}
	var reasons strings.Builder
	for _, dl := range dls {
		if w, ok := want[dl.Item]; !ok || !strings.Contains(dl.Reason, w) || !strings.Contains(dl.Reason, "post p1") || dl.Class != "permanent" {
			t.Errorf("dead letter %q: %q (%s); want one naming %q", dl.Item, dl.Reason, dl.Class, w)
		}
		reasons.WriteString(dl.Item + " " + dl.Reason + "\n")
	}

	// Three answers cached, under keys that hold no email or phone.
	keys := refKeys(t, env, loc)
	if len(keys) != 3 {
		t.Errorf("cached references %v, want 3", keys)
	}
	personal := []string{"ann.lee", "nobody.here", "not an email", "4155550100", "555-0100", "example.com"}
	if l := leaks(strings.Join(keys, "\n"), personal...); len(l) > 0 {
		t.Errorf("cache keys %v hold %v", keys, l)
	}

	// Another event of the same people asks HighLevel no lookup.
	lookups := func() (n int) {
		for _, r := range env.Requests(t, loc) {
			if strings.HasPrefix(r.Path, "/contacts/search") {
				n++
			}
		}
		return n
	}
	before := lookups()
	seq = publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p2", TagIds: []string{tags[1].ID}, Contacts: []*socialsyncv1.ContactRef{
		email("ann.lee@EXAMPLE.com"), phone("+14155550100"), externalID("CRM-42"),
	}})
	waitTags(t, env, loc, ids, []string{social(tags[0]), social(tags[1])}, nil)
	waitHandled(t, env, seq)
	if after := lookups(); after != before {
		t.Errorf("%d lookups for cached references, want none", after-before)
	}
	if !hasTag(contactTags(t, env, loc, contacts[2].ID), "by hand") {
		t.Errorf("the contact found by external id lost its own tag")
	}

	if l := leaks(reasons.String(), personal...); len(l) > 0 {
		t.Errorf("dead letters hold %v:\n%s", l, reasons.String())
	}
	if l := leaks(logs.String(), personal...); len(l) > 0 {
		t.Errorf("logs hold %v", l)
	}
	if l := leaks(fleettest.SpanText(spans), personal...); len(l) > 0 {
		t.Errorf("spans hold %v", l)
	}
	if !strings.Contains(logs.String(), "item dead-lettered") || len(spans.Ended()) == 0 {
		t.Errorf("the replica's logs and spans were not captured: %d bytes of logs, %d spans", len(logs.String()), len(spans.Ended()))
	}
}

// Two replicas handle two events a second apart that name the same new
// email, while HighLevel's search index lags 5 s and each call takes
// most of a second: one contact is created (one upsert, without tags),
// and it carries both events' tags.
func TestReplicasCreateOneContact(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, tags, _ := newRefLocation(t, env, map[string]any{"socialTags": []string{"Alpha", "Beta"}})
	primeCatalogue(t, env, loc, tags)
	putMapping(t, env, settings.Mapping{Location: loc, Contacts: settings.ContactsMapping{CreateMissing: true}})
	env.Admin(t, "PUT", "/_sandbox/config", map[string]any{"searchIndexLag": "5s"}, nil)
	env.Admin(t, "PUT", "/_sandbox/faults", map[string]any{"latencyMs": 700}, nil)
	var logs fleettest.Buffer
	spans := tracetest.NewSpanRecorder()
	startReplica(t, env, &logs, spans)
	startReplica(t, env, &logs, spans)

	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", TagIds: []string{tags[0].ID},
		Contacts: []*socialsyncv1.ContactRef{email("New.Person@example.com")}})
	time.Sleep(time.Second) // the scenario: the second event a second later
	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p2", TagIds: []string{tags[1].ID},
		Contacts: []*socialsyncv1.ContactRef{email("new.person@example.com")}})

	var created []ghlsim.ContactView
	fleettest.Eventually(t, 30*time.Second, "one contact with both tags", func() bool {
		created = created[:0]
		_, all := refLocation(t, env, loc)
		for _, c := range all {
			if strings.EqualFold(c.Email, "new.person@example.com") {
				created = append(created, c)
			}
		}
		return len(created) == 1 && hasTag(created[0].Tags, social(tags[0])) && hasTag(created[0].Tags, social(tags[1]))
	})
	waitHandled(t, env, seq)
	env.Admin(t, "PUT", "/_sandbox/faults", map[string]any{"latencyMs": 0}, nil)
	if _, all := refLocation(t, env, loc); len(all) != 1 {
		t.Errorf("%d contacts in the location, want 1: %+v", len(all), all)
	}
	upserts := 0
	for _, r := range env.Requests(t, loc) {
		if r.Path == "/contacts/upsert" {
			upserts++
		}
		for _, tw := range r.TagWrites {
			if tw.Op != "add" {
				t.Errorf("%s %s wrote tags %q (%s); want adds only", r.Method, r.Path, tw.Tags, tw.Op)
			}
		}
	}
	if upserts != 1 {
		t.Errorf("%d upserts, want 1", upserts)
	}
	if dls := bustest.DeadLetters(t, env.JS, "socialsync.dlq.contactsync."+loc); len(dls) != 0 {
		t.Errorf("dead letters: %+v", dls)
	}
	if l := leaks(logs.String()+fleettest.SpanText(spans), "new.person"); len(l) > 0 {
		t.Errorf("logs or spans hold %v", l)
	}
}
