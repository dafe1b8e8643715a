package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
)

func init() {
	// Reports are served as HTML and Markdown too; the contract checks
	// them as text.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/markdown", openapi3filter.PlainBodyDecoder)
}

var yamlHeader = http.Header{"Content-Type": {"application/yaml"}}

// checkReports covers the reports and recommendations of s.loc: built on
// demand while none is stored, then the stored ones.
func (w *world) checkReports(t *testing.T, k *contract, s seeded) {
	t.Helper()
	loc := s.loc
	base := "/v1/locations/" + loc
	var list struct {
		Items []struct {
			From, To string
			Formats  []string
		}
		Latest *struct{ From, To string }
	}
	k.do(t, w, call{method: "GET", path: base + "/reports", status: 200}).json(t, &list)
	if len(list.Items) != 0 || list.Latest != nil {
		t.Errorf("reports before any is stored: %+v", list)
	}
	a := k.do(t, w, call{method: "GET", path: base + "/reports/latest", status: 404})
	if !strings.Contains(a.errorCode(t), "not_found") {
		t.Errorf("latest before any: %s", a.body)
	}
	// Not stored: built from the history, as `socialsync report` builds it.
	a = k.do(t, w, call{method: "GET", path: base + "/reports/range?from=2026-11-20&to=2026-11-26", status: 200})
	var built report.Report
	a.json(t, &built)
	if a.header.Get("X-Socialsync-Report") != "built" || built.From != "2026-11-20" || built.Days != 7 || len(built.Series) == 0 ||
		len(built.Platforms) == 0 || len(built.Tags) == 0 {
		t.Errorf("built report: %s %.300s", a.header.Get("X-Socialsync-Report"), a.body)
	}
	a = k.do(t, w, call{method: "GET", path: base + "/reports/range?from=2026-11-20&to=2026-11-26&format=csv", status: 200})
	if !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") || !bytes.Contains(a.body, []byte(",")) {
		t.Errorf("csv: %s %.200s", a.header.Get("Content-Type"), a.body)
	}
	k.do(t, w, call{method: "GET", path: base + "/reports/range", status: 200}) // the 28 days before today
	k.do(t, w, call{method: "GET", path: base + "/reports/range?from=2026-11-27&to=2026-11-20", status: 400})
	k.do(t, w, call{method: "GET", path: base + "/reports/range?from=2000-01-01&to=2026-11-20", status: 400})
	k.do(t, w, call{method: "GET", path: base + "/reports/range?from=yesterday", status: 400, invalid: true})
	k.do(t, w, call{method: "GET", path: base + "/reports/latest?format=pdf", status: 400, invalid: true})
	k.do(t, w, call{method: "GET", path: "/v1/locations/nope0/reports", status: 404})

	var rec struct {
		Source  string
		From    string
		Cadence []struct {
			Platform, Status string
			Missing          []string
		}
	}
	k.do(t, w, call{method: "GET", path: base + "/recommendations", status: 200}).json(t, &rec)
	// Two days of history are not enough: every platform says so, and why.
	if rec.Source != "built" || len(rec.Cadence) == 0 || rec.Cadence[0].Status != report.StatusNotEnoughData || len(rec.Cadence[0].Missing) == 0 {
		t.Errorf("recommendations with no stored report: %+v", rec)
	}

	// Stored as the stats worker stores them.
	ctx := context.Background()
	store, err := w.JS.ObjectStore(ctx, topology.ObjectStoreReports)
	if err != nil {
		t.Fatal(err)
	}
	built.From, built.GeneratedAt = "2026-11-21", time.Now().UTC()
	built.Recommendations.From = "2026-11-21"
	for _, f := range report.Formats() {
		var b bytes.Buffer
		if err := report.Write(&b, built, f); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{report.Name(loc, built.From, built.To, f), report.LatestName(loc, f)} {
			if _, err := store.Put(ctx, jetstream.ObjectMeta{Name: name}, bytes.NewReader(b.Bytes())); err != nil {
				t.Fatal(err)
			}
		}
	}
	k.do(t, w, call{method: "GET", path: base + "/reports?limit=1", status: 200}).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].From != "2026-11-21" || fmt.Sprint(list.Items[0].Formats) != "[csv html json md]" ||
		list.Latest == nil || list.Latest.From != "2026-11-21" {
		t.Errorf("stored reports: %+v", list)
	}
	for _, f := range []string{"json", "csv", "md", "html"} {
		a = k.do(t, w, call{method: "GET", path: base + "/reports/latest?format=" + f, status: 200})
		if a.header.Get("X-Socialsync-Report") != "stored" || len(a.body) == 0 {
			t.Errorf("latest %s: %v", f, a.header)
		}
		if f == "html" && (!bytes.Contains(a.body, []byte("<html")) || !strings.Contains(a.header.Get("Content-Security-Policy"), "default-src 'none'")) {
			t.Errorf("latest html: %v %.200s", a.header, a.body)
		}
	}
	a = k.do(t, w, call{method: "GET", path: base + "/reports/range?from=2026-11-21&to=2026-11-26", status: 200})
	if a.header.Get("X-Socialsync-Report") != "stored" {
		t.Errorf("stored range: %v", a.header)
	}
	k.do(t, w, call{method: "GET", path: base + "/recommendations", status: 200}).json(t, &rec)
	if rec.Source != "stored" || rec.From != "2026-11-21" || rec.Cadence[0].Status != report.StatusNotEnoughData {
		t.Errorf("recommendations of the stored report: %+v", rec)
	}
}

const segmentsYAML = `segments:
  - name: product-curious
    anyTags: ["social:launch", "social:demo"]
  - name: launch-and-sale
    allTags: ["social:launch", "social:sale"]
    locations: [%s]
`

// checkSegments covers segments: apply (YAML and JSON), validation
// refusals naming the line and field, sizes per location, delete.
func (w *world) checkSegments(t *testing.T, k *contract, s seeded) {
	t.Helper()
	loc, other := s.loc, w.Locations[1].ID
	var res struct {
		DryRun  bool
		Names   []string
		Applied []struct{ Name, Action string }
	}
	body := fmt.Sprintf(segmentsYAML, other)
	k.do(t, w, call{method: "PUT", path: "/v1/segments?dryRun=true", header: yamlHeader, body: body, status: 200}).json(t, &res)
	if !res.DryRun || fmt.Sprint(res.Names) != "[product-curious launch-and-sale]" || len(res.Applied) != 0 {
		t.Errorf("dry run: %+v", res)
	}
	k.do(t, w, call{method: "GET", path: "/v1/segments", status: 200}).json(t, &struct{}{})
	k.do(t, w, call{method: "PUT", path: "/v1/segments", header: yamlHeader, body: body, status: 200}).json(t, &res)
	if len(res.Applied) != 2 || res.Applied[0].Action != "created" {
		t.Errorf("apply: %+v", res)
	}
	k.do(t, w, call{method: "PUT", path: "/v1/segments", header: yamlHeader, body: body, status: 200}).json(t, &res)
	if res.Applied[0].Action != "unchanged" {
		t.Errorf("apply again: %+v", res)
	}

	// Refusals: the line, column and field of the problem, nothing stored.
	var bad struct {
		Error struct {
			Code, Message, Field string
			Line, Column         int
		}
	}
	k.do(t, w, call{method: "PUT", path: "/v1/segments", header: yamlHeader, status: 422,
		body: "segments:\n  - name: ok-one\n    anyTags: [\"social:a\"]\n  - name: Bad Name\n    anyTags: [\"social:b\"]\n"}).json(t, &bad)
	if bad.Error.Code != "invalid_definition" || bad.Error.Line != 4 || !strings.HasPrefix(bad.Error.Field, "segments[1].name") ||
		!strings.Contains(bad.Error.Message, "body:4:") {
		t.Errorf("bad name: %+v", bad)
	}
	k.do(t, w, call{method: "PUT", path: "/v1/segments", status: 422,
		body: "{\"segments\": [\n  {\"name\": \"json-one\", \"postedWithinDays\": -3}\n]}"}).json(t, &bad)
	if bad.Error.Line != 2 || !strings.Contains(bad.Error.Field, "postedWithinDays") {
		t.Errorf("bad JSON definition: %+v", bad)
	}
	k.do(t, w, call{method: "PUT", path: "/v1/segments", header: yamlHeader, body: "segments: [\n", status: 422, invalid: true})
	k.do(t, w, call{method: "PUT", path: "/v1/segments", header: http.Header{"Content-Type": {"text/csv"}}, body: "a,b", status: 415, invalid: true})
	k.do(t, w, call{method: "PUT", path: "/v1/segments?prune=maybe", header: yamlHeader, body: body, status: 400, invalid: true})
	k.do(t, w, call{method: "GET", path: "/v1/segments/ok-one", status: 404})

	// Sizes: membership as the contactsync workers keep it.
	w.put(t, topology.BucketSegments, "member."+loc+".c1", []byte(`{"segments":["product-curious"]}`))
	w.put(t, topology.BucketSegments, "member."+loc+".c2", []byte(`{"segments":["product-curious","launch-and-sale"]}`))
	w.put(t, topology.BucketSegments, "member."+other+".c9", []byte(`{"segments":["product-curious"]}`))
	var one struct {
		Name       string
		Loaded     bool
		Definition map[string]any
		Members    map[string]int
		Total      int
	}
	k.do(t, w, call{method: "GET", path: "/v1/segments/product-curious", status: 200}).json(t, &one)
	if !one.Loaded || one.Members[loc] != 2 || one.Members[other] != 1 || one.Total != 3 || one.Definition["name"] != "product-curious" {
		t.Errorf("segment: %+v", one)
	}
	var mine struct {
		Items []struct {
			Name    string
			Members int
		}
	}
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc + "/segments", status: 200}).json(t, &mine)
	// launch-and-sale applies to the other location only.
	if len(mine.Items) != 1 || mine.Items[0].Name != "product-curious" || mine.Items[0].Members != 2 {
		t.Errorf("segments of %s: %+v", loc, mine)
	}
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + other + "/segments", status: 200}).json(t, &mine)
	if len(mine.Items) != 2 || mine.Items[0].Name != "launch-and-sale" || mine.Items[1].Members != 1 {
		t.Errorf("segments of %s: %+v", other, mine)
	}

	// A broken stored definition is listed, flagged.
	w.put(t, topology.BucketSegments, "def.broken", []byte(`{"name":"broken","postedWithinDays":"soon"}`))
	var defs struct {
		Items []struct {
			Name   string
			Loaded bool
			Error  string
		}
		NextCursor string
	}
	k.do(t, w, call{method: "GET", path: "/v1/segments?limit=2", status: 200}).json(t, &defs)
	if len(defs.Items) != 2 || defs.Items[0].Name != "broken" || defs.Items[0].Loaded || defs.Items[0].Error == "" || defs.NextCursor == "" {
		t.Errorf("segments with a broken one: %+v", defs)
	}

	k.do(t, w, call{method: "DELETE", path: "/v1/segments/launch-and-sale", status: 204})
	k.do(t, w, call{method: "DELETE", path: "/v1/segments/launch-and-sale", status: 404})
	k.do(t, w, call{method: "DELETE", path: "/v1/segments/Bad%20Name", status: 400, invalid: true})
	k.do(t, w, call{method: "GET", path: "/v1/segments/launch-and-sale", status: 404})
	// prune deletes what the file does not define.
	k.do(t, w, call{method: "PUT", path: "/v1/segments?prune=true", status: 200,
		body: `{"segments":[{"name":"product-curious","anyTags":["social:launch","social:demo"]}]}`}).json(t, &res)
	if len(res.Applied) != 2 || res.Applied[1].Name != "broken" || res.Applied[1].Action != "deleted" {
		t.Errorf("prune: %+v", res)
	}
}

// checkWorkflows covers workflows: apply, refusals, broken stored ones
// flagged, get, delete.
func (w *world) checkWorkflows(t *testing.T, k *contract) {
	t.Helper()
	body := "workflows:\n  - name: tag-to-nats\n    on: tag.created\n    actions:\n      - publish:\n          subject: \"crm.tags.new\"\n"
	var res struct {
		Applied []struct{ Name, Action string }
	}
	k.do(t, w, call{method: "PUT", path: "/v1/workflows", header: yamlHeader, body: body, status: 200}).json(t, &res)
	if len(res.Applied) != 1 || res.Applied[0].Action != "created" {
		t.Errorf("apply workflows: %+v", res)
	}
	var bad struct {
		Error struct {
			Code, Field string
			Line        int
		}
	}
	k.do(t, w, call{method: "PUT", path: "/v1/workflows", header: yamlHeader, status: 422,
		body: "workflows:\n  - name: wrong-trigger\n    on: tag.exploded\n    actions:\n      - publish:\n          subject: \"a.b\"\n"}).json(t, &bad)
	if bad.Error.Code != "invalid_definition" || bad.Error.Line != 3 || !strings.Contains(bad.Error.Field, "on") {
		t.Errorf("bad trigger: %+v", bad)
	}
	k.do(t, w, call{method: "PUT", path: "/v1/workflows?dryRun=true", status: 422,
		body: `{"workflows":[{"name":"x","on":"tag.created","when":"tagName ==","actions":[{"publish":{"subject":"a.b"}}]}]}`}).json(t, &bad)
	if !strings.Contains(bad.Error.Field, "when") {
		t.Errorf("bad expression: %+v", bad)
	}
	w.put(t, topology.BucketWorkflows, "broken-flow", []byte(`{"name":"broken-flow","on":"nothing"}`))
	var list struct {
		Items []struct {
			Name, Summary, Error string
			Loaded               bool
		}
	}
	k.do(t, w, call{method: "GET", path: "/v1/workflows", status: 200}).json(t, &list)
	if len(list.Items) != 2 || list.Items[0].Name != "broken-flow" || list.Items[0].Loaded || list.Items[0].Error == "" ||
		!list.Items[1].Loaded || !strings.Contains(list.Items[1].Summary, "tag.created") {
		t.Errorf("workflows: %+v", list)
	}
	var one struct {
		Name       string
		Definition json.RawMessage
	}
	k.do(t, w, call{method: "GET", path: "/v1/workflows/tag-to-nats", status: 200}).json(t, &one)
	if !strings.Contains(string(one.Definition), "crm.tags.new") {
		t.Errorf("workflow: %s", one.Definition)
	}
	k.do(t, w, call{method: "GET", path: "/v1/workflows/nope", status: 404})
	k.do(t, w, call{method: "DELETE", path: "/v1/workflows/broken-flow", status: 204})
	k.do(t, w, call{method: "GET", path: "/v1/workflows/broken-flow", status: 404})
}
