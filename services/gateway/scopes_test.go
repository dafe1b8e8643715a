package gateway_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/gateway"
)

// Every operation of openapi.yaml has an entry in the gateway's route
// table, and its x-scope says what the table asks: a route added without
// a scope, or documented with another, fails here.
func TestEveryRouteHasAScope(t *testing.T) {
	k := loadContract(t)
	table := gateway.RouteScopes()
	documented := map[string]bool{}
	for path, item := range k.doc.Paths.Map() {
		for method, op := range item.Operations() {
			pattern := method + " " + path
			documented[pattern] = true
			want, ok := table[pattern]
			if !ok {
				t.Errorf("%s (%s): no scope in the gateway's route table", pattern, op.OperationID)
				continue
			}
			got, _ := op.Extensions["x-scope"].(string)
			switch {
			case want == "signature" || want == "public":
				if op.Security == nil || len(*op.Security) != 0 || got != "" {
					t.Errorf("%s: takes no API key (%s), but openapi.yaml asks for one or names scope %q", pattern, want, got)
				}
			case got != want:
				t.Errorf("%s: x-scope %q in openapi.yaml, %q in the route table", pattern, got, want)
			}
		}
	}
	for pattern := range table {
		if !documented[pattern] {
			t.Errorf("%s: in the route table, not in openapi.yaml", pattern)
		}
	}
}

// scopeKeys are keys of every scope but one, by the scope they lack.
var scopeKeys = map[string]string{
	"read":        "sk-no-read-0123456789abcdef",
	"trigger":     "sk-no-trigger-0123456789abcdef",
	"definitions": "sk-no-definitions-0123456789abcd",
	"deadletters": "sk-no-deadletters-0123456789abcd",
	"admin":       "sk-no-admin-0123456789abcdef",
}

// A key without a route's scope is answered 403 naming the scope, on
// every route of the table; GET /v1/me says what each key holds.
func TestScopesAreEnforced(t *testing.T) {
	all := []string{"read", "trigger", "definitions", "deadletters"}
	hashes := []string{gateway.HashAPIKey(testKey)}
	for lacking, key := range scopeKeys {
		grant := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == lacking })
		hashes = append(hashes, gateway.HashAPIKey(key)+":"+strings.Join(grant, "+"))
	}
	w := startEnv(t, fleettest.Start(t, "demo"), func(c *gateway.Config) { c.APIKeyHashes = strings.Join(hashes, "\n") })
	k := loadContract(t)
	loc := w.Locations[0].ID
	for lacking, key := range scopeKeys {
		var me struct {
			Scopes       []string
			AllLocations bool
			Locations    []string
		}
		k.do(t, w, call{method: "GET", path: "/v1/me", header: bearer(key), status: 200}).json(t, &me)
		if slices.Contains(me.Scopes, lacking) || len(me.Scopes) != len(all)-1 && lacking != "admin" || !me.AllLocations {
			t.Errorf("key without %s: /v1/me says %+v", lacking, me)
		}
	}
	checked := 0
	for pattern, scope := range gateway.RouteScopes() {
		key, ok := scopeKeys[scope]
		if !ok {
			continue
		}
		checked++
		method, path, _ := strings.Cut(pattern, " ")
		path = strings.NewReplacer("{loc}", loc, "{tag}", "t1", "{name}", "x", "{seq}", "1").Replace(path)
		a := w.do(t, method, path, bearer(key), nil)
		if a.status != http.StatusForbidden || a.errorCode(t) != "missing_scope" || !strings.Contains(string(a.body), "lacks the "+scope+" scope") {
			t.Errorf("%s without scope %s: %d %s", pattern, scope, a.status, a.body)
		}
	}
	if checked < 25 {
		t.Errorf("%d routes checked; the table has more", checked)
	}
	var me struct{ Scopes []string }
	k.do(t, w, call{method: "GET", path: "/v1/me", status: 200}).json(t, &me)
	if fmt.Sprint(me.Scopes) != "[read trigger definitions deadletters admin]" {
		t.Errorf("a hash without scopes: %v; want every scope", me.Scopes)
	}
}

const limitedKey = "sk-limited-0123456789abcdef"

func bearer(key string) http.Header { return http.Header{"Authorization": {"Bearer " + key}} }

// A key limited to one location sees and changes nothing of another: not
// in the routes of a location, the lists, the dead letters, the pipeline,
// the definitions, nor the live events.
func TestLocationLimitedKey(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc, other := env.Locations[0].ID, env.Locations[1].ID
	w := startEnv(t, env, func(c *gateway.Config) {
		c.APIKeyHashes = gateway.HashAPIKey(testKey) + "; " + gateway.HashAPIKey(limitedKey) + ":read+trigger+definitions+deadletters:" + loc
	})
	k := loadContract(t)
	w.seed(t, loc)
	w.seed(t, other)
	as := func(c call) answer {
		t.Helper()
		c.header = bearer(limitedKey)
		if strings.HasPrefix(c.body, "segments:") || strings.HasPrefix(c.body, "workflows:") {
			c.header.Set("Content-Type", "application/yaml")
		}
		return k.do(t, w, c)
	}
	refused := func(what string, a answer) {
		t.Helper()
		if a.status != http.StatusForbidden || a.errorCode(t) != "location_refused" {
			t.Errorf("%s: %d %s; want 403 location_refused", what, a.status, a.body)
		}
	}
	// A refusal of what the request did not name by its location (a dead
	// letter, a definition) does not name the other location.
	quiet := func(what string, a answer) {
		t.Helper()
		refused(what, a)
		if strings.Contains(string(a.body), other) {
			t.Errorf("%s: the refusal names the other location: %s", what, a.body)
		}
	}

	var me struct {
		Scopes       []string
		AllLocations bool
		Locations    []string
	}
	as(call{method: "GET", path: "/v1/me", status: 200}).json(t, &me)
	if me.AllLocations || fmt.Sprint(me.Locations) != "["+loc+"]" || fmt.Sprint(me.Scopes) != "[read trigger definitions deadletters]" {
		t.Errorf("/v1/me: %+v", me)
	}
	var locs struct{ Items []struct{ ID string } }
	as(call{method: "GET", path: "/v1/locations", status: 200}).json(t, &locs)
	if len(locs.Items) != 1 || locs.Items[0].ID != loc {
		t.Errorf("locations: %+v", locs)
	}

	// Every route of a location: its own answers, another (registered or
	// not) is refused before anything is read or published.
	before := len(bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.*."+other))
	putRun(t, env, loc, doneRun("r1")) // so that GET .../reconcile has one to show
	putRemap(t, env, loc)              // and GET .../remap
	for pattern, scope := range gateway.RouteScopes() {
		if !strings.Contains(pattern, "{loc}") {
			continue
		}
		method, path, _ := strings.Cut(pattern, " ")
		body := ""
		if method == http.MethodPost {
			body = `{}`
			if strings.HasSuffix(path, "tagdetails") {
				body = `{"tagIds":["t1"]}`
			}
		}
		for _, l := range []string{other, "unknownLoc1"} {
			a := w.do(t, method, strings.NewReplacer("{loc}", l, "{tag}", "t1").Replace(path), http.Header{"Authorization": {"Bearer " + limitedKey}, "Content-Type": {"application/json"}}, []byte(body))
			if scope == "admin" {
				// The admin scope is for every location: a limited key
				// never holds it (pause, resume).
				if a.status != http.StatusForbidden || a.errorCode(t) != "missing_scope" || strings.Contains(string(a.body), l) {
					t.Errorf("%s for %s: %d %s; want 403 missing_scope", pattern, l, a.status, a.body)
				}
				continue
			}
			refused(pattern+" for "+l, a)
		}
		if scope == "read" && !strings.Contains(pattern, "{tag}") && !strings.Contains(pattern, "/reports/") {
			if a := w.do(t, method, strings.Replace(path, "{loc}", loc, 1), bearer(limitedKey), nil); a.status != http.StatusOK {
				t.Errorf("%s for its own location: %d %s", pattern, a.status, a.body)
			}
		}
	}
	as(call{method: "POST", path: "/v1/locations/" + loc + "/triggers/stats", body: `{}`, status: 202})
	if after := len(bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.*."+other)); after != before {
		t.Errorf("triggers of %s: %d before, %d after the limited key's calls", other, before, after)
	}

	// Dead letters: listed, counted, inspected and replayed for its
	// location only.
	bad := bustest.Marshal(t, &socialsyncv1.PostEvent{LocationId: loc, PostId: ""})
	mine := w.deadLetter(t, "fetcher", loc, "socialsync.trigger.post."+loc, bad)
	theirs := w.deadLetter(t, "fetcher", other, "socialsync.trigger.post."+other, bustest.Marshal(t, &socialsyncv1.PostEvent{LocationId: other, PostId: ""}))
	var dls struct {
		Items []struct{ Seq uint64 }
		Total uint64
	}
	as(call{method: "GET", path: "/v1/deadletters", status: 200}).json(t, &dls)
	if dls.Total != 1 || len(dls.Items) != 1 || dls.Items[0].Seq != mine {
		t.Errorf("dead letters: %+v; want only %d", dls, mine)
	}
	refused("dead letters of the other location", as(call{method: "GET", path: "/v1/deadletters?location=" + other, status: 403}))
	quiet("the other location's dead letter", as(call{method: "GET", path: "/v1/deadletters/" + strconv.FormatUint(theirs, 10), status: 403}))
	quiet("replay of the other location's dead letter", as(call{method: "POST", path: "/v1/deadletters/" + strconv.FormatUint(theirs, 10) + "/replay", status: 403}))
	refused("replay of the other location's dead letters", as(call{method: "POST", path: "/v1/deadletters/replay", body: `{"location":"` + other + `"}`, status: 403}))
	var all struct{ Total uint64 }
	k.do(t, w, call{method: "GET", path: "/v1/deadletters?location=" + other, status: 200}).json(t, &all)
	if all.Total != 1 {
		t.Errorf("the other location's dead letters after the refusals: %d; want 1", all.Total)
	}
	as(call{method: "GET", path: "/v1/deadletters/" + strconv.FormatUint(mine, 10), status: 200})

	// The pipeline: its location and its dead letters; no fleet-wide
	// figures.
	var p struct {
		Consumers   []json.RawMessage
		Streams     []json.RawMessage
		DeadLetters struct {
			Total      uint64
			ByLocation map[string]uint64
		}
		Locations []struct{ ID string }
	}
	as(call{method: "GET", path: "/v1/pipeline", status: 200}).json(t, &p)
	if len(p.Locations) != 1 || p.Locations[0].ID != loc || p.DeadLetters.Total != 1 || p.DeadLetters.ByLocation[other] != 0 ||
		len(p.Consumers) != 0 || len(p.Streams) != 0 {
		t.Errorf("pipeline: %+v", p)
	}
	refused("pipeline of the other location", as(call{method: "GET", path: "/v1/pipeline?location=" + other, status: 403}))

	// Definitions: it sees, stores and deletes only those that name its
	// location alone.
	admin := func(body string) {
		t.Helper()
		k.do(t, w, call{method: "PUT", path: "/v1/segments", header: yamlHeader, body: body, status: 200})
	}
	admin(fmt.Sprintf("segments:\n  - name: everywhere\n    anyTags: [\"social:a\"]\n  - name: theirs\n    anyTags: [\"social:a\"]\n    locations: [%s]\n"+
		"  - name: both\n    anyTags: [\"social:a\"]\n    locations: [%s, %s]\n  - name: mine\n    anyTags: [\"social:a\"]\n    locations: [%s]\n", other, loc, other, loc))
	var segs struct{ Items []struct{ Name string } }
	as(call{method: "GET", path: "/v1/segments", status: 200}).json(t, &segs)
	if len(segs.Items) != 1 || segs.Items[0].Name != "mine" {
		t.Errorf("segments: %+v; want only mine", segs)
	}
	as(call{method: "GET", path: "/v1/locations/" + loc + "/segments", status: 200}).json(t, &segs)
	if len(segs.Items) != 1 || segs.Items[0].Name != "mine" {
		t.Errorf("segments of %s: %+v; want only mine", loc, segs)
	}
	for _, name := range []string{"everywhere", "theirs", "both"} {
		quiet("segment "+name, as(call{method: "GET", path: "/v1/segments/" + name, status: 403}))
		quiet("delete segment "+name, as(call{method: "DELETE", path: "/v1/segments/" + name, status: 403}))
	}
	refused("a segment that names the other location", as(call{method: "PUT", path: "/v1/segments", status: 403,
		body: fmt.Sprintf("segments:\n  - name: new-one\n    anyTags: [\"social:a\"]\n    locations: [%s]\n", other)}))
	refused("a segment that names no location", as(call{method: "PUT", path: "/v1/segments", status: 403,
		body: "segments:\n  - name: new-one\n    anyTags: [\"social:a\"]\n"}))
	quiet("a segment that replaces another location's", as(call{method: "PUT", path: "/v1/segments", status: 403,
		body: fmt.Sprintf("segments:\n  - name: theirs\n    anyTags: [\"social:b\"]\n    locations: [%s]\n", loc)}))
	mineToo := fmt.Sprintf("segments:\n  - name: mine-too\n    anyTags: [\"social:b\"]\n    locations: [%s]\n", loc)
	as(call{method: "PUT", path: "/v1/segments", status: 200, body: mineToo})
	as(call{method: "DELETE", path: "/v1/segments/mine-too", status: 204})
	// Its prune deletes only what it sees.
	as(call{method: "PUT", path: "/v1/segments", status: 200, body: mineToo})
	var pruned struct {
		Applied []struct{ Name, Action string }
	}
	as(call{method: "PUT", path: "/v1/segments?prune=true", status: 200,
		body: fmt.Sprintf("segments:\n  - name: mine\n    anyTags: [\"social:a\"]\n    locations: [%s]\n", loc)}).json(t, &pruned)
	if fmt.Sprint(pruned.Applied) != "[{mine unchanged} {mine-too deleted}]" {
		t.Errorf("the limited key's prune: %+v; want mine unchanged, mine-too deleted, nothing else", pruned.Applied)
	}
	var stored struct{ Items []struct{ Name string } }
	k.do(t, w, call{method: "GET", path: "/v1/segments", status: 200}).json(t, &stored)
	if len(stored.Items) != 4 {
		t.Errorf("segments after the limited key's refusals: %+v; want the four stored", stored)
	}
	refused("a workflow that names the other location", as(call{method: "PUT", path: "/v1/workflows", status: 403,
		body: fmt.Sprintf("workflows:\n  - name: theirs\n    on: tag.created\n    locations: [%s]\n    actions:\n      - publish:\n          subject: \"a.b\"\n", other)}))
	as(call{method: "PUT", path: "/v1/workflows", status: 200,
		body: fmt.Sprintf("workflows:\n  - name: mine\n    on: tag.created\n    locations: [%s]\n    actions:\n      - publish:\n          subject: \"a.b\"\n", loc)})
	k.do(t, w, call{method: "PUT", path: "/v1/workflows", header: yamlHeader, status: 200,
		body: "workflows:\n  - name: fleet\n    on: tag.created\n    actions:\n      - publish:\n          subject: \"a.b\"\n"})
	var wfs struct{ Items []struct{ Name string } }
	as(call{method: "GET", path: "/v1/workflows", status: 200}).json(t, &wfs)
	if len(wfs.Items) != 1 || wfs.Items[0].Name != "mine" {
		t.Errorf("workflows: %+v; want only mine", wfs)
	}
	quiet("workflow fleet", as(call{method: "GET", path: "/v1/workflows/fleet", status: 403}))

	// Live events: the other location's never reach it, live or caught
	// up after a reconnection.
	auth := []string{"Authorization", "Bearer " + limitedKey}
	first := w.readEvent(t, "/v1/events", func() {
		w.publishEvent(t, &socialsyncv1.TagChanged{LocationId: loc, TagId: "z1", TagName: "zero", Change: socialsyncv1.Change_CHANGE_CREATED})
	})
	var z struct{ Seq uint64 }
	_ = json.Unmarshal([]byte(first), &z)
	ev := w.readEvent(t, "/v1/events", func() {
		w.publishEvent(t, &socialsyncv1.TagChanged{LocationId: other, TagId: "x1", TagName: "theirs", Change: socialsyncv1.Change_CHANGE_CREATED})
		w.publishEvent(t, &socialsyncv1.TagChanged{LocationId: loc, TagId: "a1", TagName: "mine", Change: socialsyncv1.Change_CHANGE_CREATED})
	}, auth...)
	if !contains(ev, `"location":"`+loc+`"`, `"tagName":"mine"`) {
		t.Errorf("live event: %s; want %s's", ev, loc)
	}
	caught := w.readEvent(t, "/v1/events", func() {}, append(auth, "Last-Event-ID", strconv.FormatUint(z.Seq, 10))...)
	if !contains(caught, `"tagName":"mine"`) {
		t.Errorf("caught up: %s; want %s's event, not %s's", caught, loc, other)
	}
	refused("events of the other location", w.do(t, "GET", "/v1/events?location="+other, bearer(limitedKey), nil))
}

// SOCIALSYNC_API_KEY_HASHES: the original comma-separated hashes (every
// scope, every location) still work beside scoped entries, and a bad entry
// is an error naming the variable and the entry.
func TestParseKeyHashes(t *testing.T) {
	h := gateway.HashAPIKey("a-key-of-0123456789")
	h2 := gateway.HashAPIKey("b-key-of-0123456789")
	h3 := gateway.HashAPIKey(testKey)
	const all = "read+trigger+definitions+deadletters+admin:"
	for list, want := range map[string]map[string]string{
		h + "," + h2:                            {h: all, h2: all},
		" " + h + " , " + strings.ToUpper(h2):   {h: all, h2: all},
		h + "," + h2 + ";" + h3 + ":read:L1,L2": {h: all, h2: all, h3: "read:L1,L2"},
		h + ":read+trigger\n" + h2 + ":admin":   {h: "read+trigger:", h2: all},
		h + ":deadletters+read:L2,L1 " + h2:     {h: "read+deadletters:L1,L2", h2: all},
	} {
		got, err := gateway.ParseKeyHashes(list)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%q: %v %v; want %v", list, got, err, want)
		}
	}
	for list, says := range map[string]string{
		h + ":write":                  "entry 1: unknown scope \"write\"",
		h + ":":                       "entry 1: unknown scope \"\"",
		h2 + ";" + h + ":admin:L1":    "entry 2: the admin scope is for every location",
		h + ":read:L1,a.b":            "entry 1: location 2: want a HighLevel location id",
		h2 + "," + h + ":read":        "entry 1: want 64 hex digits (sha256sum of the key) before ':'; separate entries with ';'",
		h + "," + h2 + "\n" + h:       "entry 3: the same key as entry 1",
		h + ":read+trigger:L1,,L2":    "entry 1: location 2",
		h + ":sk-Secret-Key-123":      "entry 1: unknown scope of 17 characters",
		h + ":read:sk-Secret-Key-123": "entry 1: location 1: want a HighLevel location id",
		"; \n ,":                      "is required",
		h2 + "," + h + "," + "zzzz":   "entry 3: want 64 hex digits",
	} {
		_, err := gateway.ParseKeyHashes(list)
		if err != nil && strings.Contains(err.Error(), "Secret") {
			t.Errorf("%q: the error quotes what may be a key: %v", list, err)
		}
		if err == nil || !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), "SOCIALSYNC_API_KEY_HASHES: ") || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v; want an error saying %q", list, err, says)
		}
	}
}
