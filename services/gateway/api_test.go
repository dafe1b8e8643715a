package gateway_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/gateway"
)

// seeded is what seed stored for a location.
type seeded struct {
	loc      string
	tags     []string // ids, catalogue order
	tagNames map[string]string
	days     []string
}

// seed stores, in the formats the workers write, what the pipeline would
// have stored for loc: the catalogue and details HighLevel (the simulator)
// returns, two posts with their tags and contacts, and two days of
// statistics fetched from the simulator.
func (w *world) seed(t *testing.T, loc string) seeded {
	t.Helper()
	ctx := context.Background()
	c := w.Deps.Client(loc)
	tags, err := c.AllSocialTags(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	s := seeded{loc: loc, tagNames: map[string]string{}}
	type catTag struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	var cat []catTag
	for _, tg := range tags {
		if tg.Deleted {
			continue
		}
		cat = append(cat, catTag{tg.ID, tg.Tag})
		s.tags = append(s.tags, tg.ID)
		s.tagNames[tg.ID] = tg.Tag
		detail, _ := protojson.Marshal(&socialsyncv1.TagDetail{TagId: tg.ID, TagName: tg.Tag, CreatedBy: tg.CreatedBy,
			CreatedAt: timestamppb.New(tg.CreatedAt), UpdatedAt: timestamppb.New(tg.UpdatedAt)})
		w.put(t, topology.BucketTagDetails, loc+"."+tg.ID, detail)
	}
	if len(s.tags) < 2 {
		t.Fatalf("location %s has %d tags; the test needs 2", loc, len(s.tags))
	}
	w.put(t, topology.BucketTags, loc, jsonBody(t, map[string]any{"tags": cat, "fetchedAt": time.Now().UTC()}))
	// post1 carries tags 0 and 1 and reached c1, c2; post2 carries tag 0
	// and reached c2, c3.
	// The relations name posts by their keys (ids.Key), as the enricher
	// and contactsync write them.
	post1, _ := ids.Key("", "post1")
	post2, _ := ids.Key("", "post2")
	w.put(t, topology.BucketRelations, "tagposts."+loc+"."+s.tags[0], []byte(`{"postIds":["`+post1+`","`+post2+`"]}`))
	w.put(t, topology.BucketRelations, "tagposts."+loc+"."+s.tags[1], []byte(`{"postIds":["`+post1+`"]}`))
	w.put(t, topology.BucketRelations, "postcontacts."+loc+"."+post1, []byte(`{"contactIds":["c1","c2"]}`))
	w.put(t, topology.BucketRelations, "postcontacts."+loc+"."+post2, []byte(`{"contactIds":["c2","c3"]}`))

	accounts, err := c.Accounts(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	var profiles []string
	for _, a := range accounts.Accounts {
		profiles = append(profiles, a.ProfileID)
	}
	chunks, err := c.Statistics(ctx, loc, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	type chunk struct {
		ProfileIDs []string `json:"profileIds"`
		Statistics any      `json:"statistics"`
	}
	var stored []chunk
	for _, ch := range chunks {
		stored = append(stored, chunk{ch.ProfileIDs, ch.Statistics})
	}
	for _, day := range []string{"2026-11-25", "2026-11-26"} {
		w.put(t, topology.BucketStatsHistory, loc+"."+day, jsonBody(t, map[string]any{"day": day, "takenAt": time.Now().UTC(),
			"profileIds": profiles, "chunks": stored, "trigger": "t", "published": true}))
		s.days = append([]string{day}, s.days...)
	}
	return s
}

func (w *world) put(t *testing.T, bucket, key string, value []byte) {
	t.Helper()
	ctx := context.Background()
	kv, err := w.JS.KeyValue(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, key, value); err != nil {
		t.Fatal(err)
	}
}

// deadLetter stores a dead letter of worker for loc whose original is m on
// subject, as the bus would.
func (w *world) deadLetter(t *testing.T, worker, loc, subject string, data []byte) uint64 {
	t.Helper()
	msg := nats.NewMsg("socialsync.dlq." + worker + "." + loc)
	msg.Data = data
	msg.Header.Set(bus.HeaderContentType, bus.ContentTypeProtobuf)
	msg.Header.Set(bus.HeaderDLQReason, "bad input: post_id \"\": want 1 to 64 letters and digits")
	msg.Header.Set(bus.HeaderDLQClass, "bad_input")
	msg.Header.Set(bus.HeaderDLQSubject, subject)
	msg.Header.Set(bus.HeaderDLQDeliveries, "1")
	msg.Header.Set(bus.HeaderDLQStream, topology.StreamTriggers)
	msg.Header.Set(bus.HeaderDLQSequence, "42")
	msg.Header.Set(bus.HeaderDLQConsumer, worker)
	msg.Header.Set(bus.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	ack, err := w.JS.PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// contract validates every request the test makes and every answer the
// gateway gives against openapi.yaml, and records the operations
// answered with a 2xx.
type contract struct {
	router routers.Router
	ok     map[string]bool
	doc    *openapi3.T
}

func loadContract(t *testing.T) *contract {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(gateway.OpenAPI())
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not valid OpenAPI 3: %v", err)
	}
	doc.Servers = nil
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{router: r, ok: map[string]bool{}, doc: doc}
}

type call struct {
	method, path string
	header       http.Header
	body         string
	// invalid marks a request the contract itself refuses (the test
	// checks the gateway's answer to it).
	invalid bool
	status  int
}

// do makes c against the world, checks it, and returns the answer.
func (k *contract) do(t *testing.T, w *world, c call) answer {
	t.Helper()
	h := http.Header{}
	for key, vs := range c.header {
		h[key] = vs
	}
	if h.Get("Authorization") == "" && strings.HasPrefix(c.path, "/v1/") && !strings.HasPrefix(c.path, "/v1/webhooks") {
		h.Set("Authorization", "Bearer "+testKey)
	}
	if c.body != "" && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	a := w.do(t, c.method, c.path, h, []byte(c.body))
	if c.status != 0 && a.status != c.status {
		t.Errorf("%s %s: %d %s; want %d", c.method, c.path, a.status, a.body, c.status)
	}
	req, _ := http.NewRequest(c.method, "http://gateway"+c.path, bytes.NewReader([]byte(c.body)))
	req.Header = h
	route, params, err := k.router.FindRoute(req)
	if err != nil && c.invalid {
		a.errorCode(t)
		return a
	}
	if err != nil {
		t.Errorf("%s %s: not in openapi.yaml: %v", c.method, c.path, err)
		return a
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); (err != nil) != c.invalid {
		t.Errorf("%s %s: request validation: %v (invalid=%v)", c.method, c.path, err, c.invalid)
	}
	req.Body = io.NopCloser(bytes.NewReader([]byte(c.body)))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: a.status, Header: a.header, Options: opts}
	out.SetBodyBytes(a.body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: response %d does not match openapi.yaml: %v\n%s", c.method, c.path, a.status, err, a.body)
	}
	if a.status/100 == 2 {
		k.ok[route.Operation.OperationID] = true
	}
	return a
}

// covered fails for every documented operation no call answered with a
// 2xx: the document and the handler stay in step.
func (k *contract) covered(t *testing.T) {
	t.Helper()
	for path, item := range k.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !k.ok[op.OperationID] {
				t.Errorf("%s %s (%s) was never answered with a 2xx", method, path, op.OperationID)
			}
		}
	}
}

func TestAPIFollowsItsOpenAPIDocument(t *testing.T) {
	w := start(t)
	k := loadContract(t)
	s := w.seed(t, w.Locations[0].ID)
	loc := s.loc

	// Authentication.
	a := k.do(t, w, call{method: "GET", path: "/v1/locations", header: http.Header{"Authorization": {"Bearer wrong"}}, status: 401})
	if a.errorCode(t) != "unauthenticated" {
		t.Errorf("wrong key: %s", a.body)
	}
	k.do(t, w, call{method: "GET", path: "/v1/locations", header: http.Header{"Authorization": {"Basic " + testKey}}, status: 401})
	k.do(t, w, call{method: "GET", path: "/v1/me", status: 200})
	req, _ := http.NewRequest("GET", w.srv.URL+"/v1/locations", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no key: %d %v", resp.StatusCode, resp.Header)
	}

	// Locations, paged: every demo location once, with its token state.
	var seen []string
	cursor := ""
	for range 10 {
		var page struct {
			Items []struct {
				ID    string
				Token struct{ Status string }
			}
			NextCursor string
		}
		k.do(t, w, call{method: "GET", path: "/v1/locations?limit=2" + cursor, status: 200}).json(t, &page)
		for _, l := range page.Items {
			seen = append(seen, l.ID)
			if l.Token.Status != "valid" {
				t.Errorf("location %s: token %q", l.ID, l.Token.Status)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = "&cursor=" + page.NextCursor
	}
	if len(seen) != len(w.Locations) {
		t.Errorf("paged locations: %v; want %d", seen, len(w.Locations))
	}
	a = k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc, status: 200})
	if strings.Contains(string(a.body), w.Locations[0].Token) {
		t.Fatal("a location's answer holds its token")
	}
	k.do(t, w, call{method: "GET", path: "/v1/locations/nope0", status: 404})
	k.do(t, w, call{method: "GET", path: "/v1/locations/bad.id", status: 400, invalid: true})
	k.do(t, w, call{method: "GET", path: "/v1/locations?limit=0", status: 400, invalid: true})
	k.do(t, w, call{method: "GET", path: "/v1/locations?cursor=zzz", status: 400})

	// Tags with performance and relations.
	var tags struct {
		Items []struct {
			ID, Name        string
			Posts, Contacts int
			Details         *struct{ CreatedBy string }
		}
	}
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/tags?limit=500", status: 200}).json(t, &tags)
	if len(tags.Items) != len(s.tags) || tags.Items[0].ID != s.tags[0] || tags.Items[0].Posts != 2 || tags.Items[0].Contacts != 3 ||
		tags.Items[1].Posts != 1 || tags.Items[1].Contacts != 2 || tags.Items[0].Details == nil {
		t.Errorf("tags: %+v", tags.Items)
	}
	var rel struct{ PostIDs, ContactIDs []string }
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/tags/" + s.tags[0], status: 200}).json(t, &rel)
	if fmt.Sprint(rel.PostIDs) != "[post1 post2]" || fmt.Sprint(rel.ContactIDs) != "[c1 c2 c3]" {
		t.Errorf("relations of %s: %+v", s.tags[0], rel)
	}
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/tags/nosuchtag", status: 404})
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/tags?limit=1", status: 200})

	// Statistics history, newest first, filtered and paged.
	var stats struct {
		Items []struct {
			Day       string
			Platforms map[string]struct{ Impressions float64 }
			Series    struct{ Impressions map[string][]float64 }
			DayRange  []string
		}
		NextCursor string
	}
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/stats?limit=1", status: 200}).json(t, &stats)
	if len(stats.Items) != 1 || stats.Items[0].Day != s.days[0] || len(stats.Items[0].Platforms) == 0 || stats.NextCursor == "" ||
		len(stats.Items[0].DayRange) != 7 || len(stats.Items[0].Series.Impressions) == 0 {
		t.Errorf("stats: %+v", stats)
	}
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/stats?from=2026-11-26&to=2026-11-26", status: 200}).json(t, &stats)
	if len(stats.Items) != 1 || stats.Items[0].Day != "2026-11-26" {
		t.Errorf("stats of one day: %+v", stats.Items)
	}
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/stats?from=yesterday", status: 400, invalid: true})

	// Triggers: published where the workers read them.
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/triggers/post",
		body: `{"postId":"post3","tagIds":["` + s.tags[1] + `"],"contactIds":["c4"],"change":"CHANGE_CREATED","eventId":"api-1"}`, status: 202})
	a = k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/triggers/post", body: `{"postId":"post3","eventId":"api-1"}`, status: 202})
	if !strings.Contains(string(a.body), `"duplicate":true`) {
		t.Errorf("same eventId again: %s", a.body)
	}
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/triggers/post", body: `{"postId":"p","locationId":"other1"}`, status: 422})
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/triggers/post", body: `{"post":"p"}`, status: 400, invalid: true})
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/triggers/tagdetails", body: `{"tagIds":["` + s.tags[0] + `"]}`, status: 202})
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/triggers/tagdetails", body: `{"tagIds":[]}`, status: 422, invalid: true})
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/triggers/stats", status: 202})
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/triggers/stats", body: `{"platforms":["Face Book"]}`, status: 422, invalid: true})
	// A range within the last 7 days, whatever the location's time zone
	// and even across a midnight; one reaching older days names the limit.
	utcToday := time.Now().UTC()
	inReach := `{"range":{"from":"` + utcToday.AddDate(0, 0, -3).Format(time.DateOnly) + `","to":"` + utcToday.AddDate(0, 0, -2).Format(time.DateOnly) + `"}}`
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/triggers/stats", body: inReach, status: 202})
	a = k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/triggers/stats", body: `{"range":{"from":"2020-01-01","to":"2020-01-08"}}`, status: 422})
	if !strings.Contains(string(a.body), "serves only the last 7 days") {
		t.Errorf("range of 2020: %s; want the limit named", a.body)
	}
	// Reconciliation: requested, then followed.
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/reconcile", status: 404})
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/reconcile", body: `{"dryRun":true,"runId":"api-run-1"}`, status: 202})
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/reconcile", body: `{"runId":"no way"}`, status: 422, invalid: true})
	putRun(t, w.Env, loc, doneRun("api-run-1"))
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/reconcile", status: 200})
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/remap", status: 404})
	putRemap(t, w.Env, loc)
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/remap", status: 200})
	posts := bustest.Decode[socialsyncv1.PostEvent](t, bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.post."+loc))
	if len(posts) != 1 || posts[0].GetPostId() != "post3" || posts[0].GetSource() != "highlevel" {
		t.Errorf("post triggers: %v", posts)
	}
	if n := len(bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.stats."+loc)); n != 2 {
		t.Errorf("stats triggers: %d", n)
	}

	// Dead letters: list, inspect, replay one, replay all of a location.
	bad := bustest.Marshal(t, &socialsyncv1.PostEvent{LocationId: loc, PostId: "post9", EventId: "dl-1"})
	seq1 := w.deadLetter(t, "contactsync", loc, "socialsync.trigger.post."+loc, bad)
	seq2 := w.deadLetter(t, "fetcher", loc, "socialsync.trigger.post."+loc, bad)
	other := w.Locations[1].ID
	w.deadLetter(t, "fetcher", other, "socialsync.trigger.post."+other, bustest.Marshal(t, &socialsyncv1.PostEvent{LocationId: other, PostId: "p"}))
	var dls struct {
		Items []struct {
			Seq    uint64
			Reason string
		}
		Total      int
		NextCursor string
	}
	k.do(t, w, call{method: "GET", path: "/v1/deadletters?location=" + loc + "&limit=1", status: 200}).json(t, &dls)
	if dls.Total != 2 || len(dls.Items) != 1 || dls.Items[0].Seq != seq1 || dls.NextCursor == "" {
		t.Errorf("dead letters of %s: %+v", loc, dls)
	}
	cursor = dls.NextCursor
	dls.NextCursor = ""
	k.do(t, w, call{method: "GET", path: "/v1/deadletters?location=" + loc + "&cursor=" + cursor, status: 200}).json(t, &dls)
	if len(dls.Items) != 1 || dls.Items[0].Seq != seq2 || dls.NextCursor != "" {
		t.Errorf("second page: %+v", dls)
	}
	k.do(t, w, call{method: "GET", path: "/v1/deadletters?worker=fetcher", status: 200}).json(t, &dls)
	if dls.Total != 2 {
		t.Errorf("fetcher's dead letters: %+v", dls)
	}
	a = k.do(t, w, call{method: "GET", path: "/v1/deadletters/" + strconv.FormatUint(seq1, 10), status: 200})
	if !contains(string(a.body), `"postId":"post9"`, `"originalSubject":"socialsync.trigger.post.`+loc+`"`) {
		t.Errorf("inspect: %s", a.body)
	}
	k.do(t, w, call{method: "GET", path: "/v1/deadletters/999999", status: 404})
	k.do(t, w, call{method: "GET", path: "/v1/deadletters/x", status: 400, invalid: true})
	k.do(t, w, call{method: "POST", path: "/v1/deadletters/" + strconv.FormatUint(seq1, 10) + "/replay", status: 200})
	k.do(t, w, call{method: "POST", path: "/v1/deadletters/" + strconv.FormatUint(seq1, 10) + "/replay", status: 404})
	var all struct {
		Replayed []struct{ Seq uint64 }
		Failed   []struct{ Seq uint64 }
	}
	k.do(t, w, call{method: "POST", path: "/v1/deadletters/replay", body: `{"location":"` + loc + `"}`, status: 200}).json(t, &all)
	if len(all.Replayed) != 1 || all.Replayed[0].Seq != seq2 || len(all.Failed) != 0 {
		t.Errorf("replay all of %s: %+v", loc, all)
	}
	k.do(t, w, call{method: "POST", path: "/v1/deadletters/replay", body: `{}`, status: 422, invalid: true})
	replays := bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.post."+loc)
	if len(replays) != 3 || replays[1].Header.Get(bus.HeaderMsgID) != "replay:"+strconv.FormatUint(seq1, 10) ||
		replays[1].Header.Get(bus.HeaderReplayFor) != topology.DurableContactSync {
		t.Errorf("post triggers after the replays: %d", len(replays))
	}
	k.do(t, w, call{method: "GET", path: "/v1/deadletters", status: 200}).json(t, &dls)
	if dls.Total != 1 {
		t.Errorf("dead letters left: %+v", dls)
	}

	// Pipeline health.
	var p struct {
		Consumers []struct {
			Worker string
			Lag    uint64
		}
		DeadLetters struct{ Total uint64 }
		Locations   []struct {
			ID      string
			Rate    *struct{ Remaining int64 }
			Waiting uint64
		}
	}
	k.do(t, w, call{method: "GET", path: "/v1/pipeline", status: 200}).json(t, &p)
	for _, l := range p.Locations {
		// No worker runs here: the three post triggers of loc wait.
		if l.ID == loc && l.Waiting < uint64(len(replays)) {
			t.Errorf("pipeline: %s waits for %d triggers, want at least %d", loc, l.Waiting, len(replays))
		}
	}
	if len(p.Consumers) != len(w.Deps.Topology.Consumers) || p.DeadLetters.Total != 1 || len(p.Locations) != len(w.Locations) ||
		p.Locations[0].Rate == nil || p.Locations[0].Rate.Remaining <= 0 {
		t.Errorf("pipeline: %+v", p)
	}
	var one struct {
		Locations  []struct{ ID string }
		NextCursor string
	}
	k.do(t, w, call{method: "GET", path: "/v1/pipeline?location=" + loc, status: 200}).json(t, &one)
	if len(one.Locations) != 1 || one.Locations[0].ID != loc {
		t.Errorf("pipeline of %s: %+v", loc, one)
	}
	k.do(t, w, call{method: "GET", path: "/v1/pipeline?limit=2", status: 200}).json(t, &one)
	if len(one.Locations) != 2 || one.NextCursor == "" {
		t.Errorf("pipeline, 2 locations a page: %+v", one)
	}
	k.do(t, w, call{method: "GET", path: "/v1/pipeline?location=a.b", status: 400, invalid: true})
	// The view across locations (overview_test.go checks its ranks).
	k.do(t, w, call{method: "GET", path: "/v1/locations/health?limit=2", status: 200})
	// A location's settings (settings_test.go checks the refusals).
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/settings", status: 200})
	k.do(t, w, call{method: "PUT", path: "/v1/locations/" + loc + "/settings/mapping", body: `{"contactTag":"social:{{tagName}}"}`, status: 200})
	k.do(t, w, call{method: "PUT", path: "/v1/locations/" + loc + "/settings/mapping", body: `{"contactTag":"{{tagName}}"}`, status: 422})
	k.do(t, w, call{method: "PUT", path: "/v1/locations/" + loc + "/settings/stats", body: `{"cron":"0 0 6 * * *"}`, status: 200})
	var fetcherLag uint64
	for _, c := range p.Consumers {
		if c.Worker == topology.DurableFetcher {
			fetcherLag += c.Lag
		}
	}
	if fetcherLag == 0 {
		t.Errorf("fetcher lag 0 with post triggers waiting: %+v", p.Consumers)
	}

	// Live events: the first event after connecting arrives.
	ev := w.readEvent(t, "/v1/events?location="+loc, func() {
		w.publishEvent(t, &socialsyncv1.TagChanged{LocationId: loc, TagId: "new1", TagName: "launch", Change: socialsyncv1.Change_CHANGE_CREATED})
	})
	if !contains(ev, `"type":"tag"`, `"location":"`+loc+`"`, `"tagName":"launch"`) {
		t.Errorf("live event: %s", ev)
	}
	// A client that reconnects with Last-Event-ID gets what it missed
	// first.
	var first struct{ Seq uint64 }
	_ = json.Unmarshal([]byte(ev), &first)
	// The event arrives while this client is away (another one sees it).
	w.readEvent(t, "/v1/events", func() {
		w.publishEvent(t, &socialsyncv1.TagChanged{LocationId: loc, TagId: "new2", TagName: "missed", Change: socialsyncv1.Change_CHANGE_CREATED})
	})
	missed := w.readEvent(t, "/v1/events?location="+loc, func() {}, "Last-Event-ID", strconv.FormatUint(first.Seq, 10))
	if !contains(missed, `"tagName":"missed"`) {
		t.Errorf("after reconnecting: %s", missed)
	}
	k.ok["streamEvents"] = true
	k.do(t, w, call{method: "GET", path: "/v1/events?location=a.b", status: 400, invalid: true})
	k.do(t, w, call{method: "GET", path: "/v1/openapi.yaml", status: 200})
	k.do(t, w, call{method: "POST", path: "/v1/webhooks/posts", body: `{}`, header: http.Header{gateway.HeaderSignature: {"t=1,v1=" + strings.Repeat("0", 64)}}, status: 401, invalid: true})
	body := `{"locationId":"` + loc + `","postId":"p7","eventId":"wh-7"}`
	k.do(t, w, call{method: "POST", path: "/v1/webhooks/posts", body: body,
		header: http.Header{gateway.HeaderSignature: {gateway.Sign(testSecret, time.Now(), []byte(body))}}, status: 202})
	hl := `{"type":"ContactTagUpdate","locationId":"` + loc + `","id":"c7","tags":["vip"],"webhookId":"wh-hl-7"}`
	k.do(t, w, call{method: "POST", path: "/v1/highlevel/webhooks", body: hl,
		header: http.Header{gateway.HeaderHighLevelSignature: {base64.StdEncoding.EncodeToString(ed25519.Sign(hlTestKey, []byte(hl)))}}, status: 200})
	k.do(t, w, call{method: "POST", path: "/v1/highlevel/webhooks", body: hl,
		header: http.Header{gateway.HeaderHighLevelSignature: {"AAAA"}}, status: 401})
	k.do(t, w, call{method: "GET", path: "/v1/nothing", status: 404, invalid: true})
	k.do(t, w, call{method: "POST", path: "/v1/oauth/authorizations", body: `{"userType":"Company"}`, status: 201})
	k.do(t, w, call{method: "POST", path: "/v1/oauth/authorizations", body: `{"userType":"Agency"}`, status: 422, invalid: true})

	w.checkReports(t, k, s)
	w.checkSegments(t, k, s)
	w.checkWorkflows(t, k)
	w.checkSources(t, k)
	w.checkLifecycle(t, k, loc)
	w.checkConsole(t, k, loc, testKey)
	w.checkRemoval(t, k, w.Locations[len(w.Locations)-1].ID)
	k.covered(t)
}

func (w *world) publishEvent(t *testing.T, m *socialsyncv1.TagChanged) {
	t.Helper()
	if _, err := w.Deps.Publisher.Publish(context.Background(), "socialsync.event.tag."+m.GetLocationId(), m); err != nil {
		t.Fatal(err)
	}
}

// readEvent opens the event stream at path, calls publish once it is
// connected, and returns the data of the first event.
func (w *world) readEvent(t *testing.T, path string, publish func(), header ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", w.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	published := false
	for {
		n, err := resp.Body.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if !published && bytes.Contains(buf, []byte(": connected")) {
			published = true
			publish()
		}
		if i := bytes.Index(buf, []byte("\ndata: ")); i >= 0 {
			rest := buf[i+len("\ndata: "):]
			if j := bytes.IndexByte(rest, '\n'); j >= 0 {
				var v map[string]any
				if json.Unmarshal(rest[:j], &v) != nil {
					t.Fatalf("event data is not JSON: %s", rest[:j])
				}
				return string(rest[:j])
			}
		}
		if err != nil {
			t.Fatalf("event stream ended: %v; read %q", err, buf)
		}
	}
}

// The gateway, which holds no token key, shows a token from its record's
// clear metadata; a record stored before that metadata existed is shown
// as unknown, naming the command that writes it.
func TestTokenStateWithoutKey(t *testing.T) {
	w := start(t)
	loc := w.Locations[0].ID
	var got struct {
		Token struct{ Status, Error string }
	}
	w.api(t, "GET", "/v1/locations/"+loc, "").json(t, &got)
	if got.Token.Status != "valid" || got.Token.Error != "" {
		t.Fatalf("token of %s: %+v, want valid", loc, got.Token)
	}
	ctx := context.Background()
	kv, err := w.JS.KeyValue(ctx, topology.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	delete(rec, "meta")
	old, _ := json.Marshal(rec)
	if _, err := kv.Put(ctx, loc, old); err != nil {
		t.Fatal(err)
	}
	w.api(t, "GET", "/v1/locations/"+loc, "").json(t, &got)
	if got.Token.Status != "unknown" || !strings.Contains(got.Token.Error, "socialsync locations reseal") {
		t.Fatalf("token of an older record: %+v, want unknown naming socialsync locations reseal", got.Token)
	}
}
