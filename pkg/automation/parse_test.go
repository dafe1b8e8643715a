package automation

import (
	"errors"
	"strings"
	"testing"
)

// A bad file is refused with the line and the field at fault.
func TestParseRefusesWithLineAndField(t *testing.T) {
	tests := []struct {
		name     string
		segments bool
		in       string
		want     []string // substrings of the error
	}{
		{"unknown field", false, "workflows:\n  - name: a\n    on: tag.created\n    actoins:\n      - publish: { subject: x }\n",
			[]string{"w.yaml:4:5:", `unknown field "actoins"`}},
		{"unknown name in when", false, "workflows:\n  - name: a\n    on: tag.created\n    when: 'tagNme startsWith \"promo\"'\n    actions:\n      - publish: { subject: x }\n",
			[]string{"w.yaml:4:", "workflows[0].when", "tagNme"}},
		{"unknown metric field", false, "workflows:\n  - name: a\n    on: stats.snapshot\n    when: impressions.chnge > 20\n    actions:\n      - publish: { subject: x }\n",
			[]string{"w.yaml:4:", "workflows[0].when", "chnge"}},
		{"when not boolean", false, "workflows:\n  - name: a\n    on: tag.created\n    when: tagName\n    actions:\n      - publish: { subject: x }\n",
			[]string{"w.yaml:4:", "workflows[0].when"}},
		{"unknown trigger", false, "workflows:\n  - name: a\n    on: tag.exploded\n    actions:\n      - publish: { subject: x }\n",
			[]string{"w.yaml:3:", "workflows[0].on", "tag.exploded"}},
		{"wildcard subject", false, "workflows:\n  - name: a\n    on: tag.created\n    actions:\n      - publish: { subject: \"acme.*\" }\n",
			[]string{"w.yaml:5:", "workflows[0].actions[0].publish.subject"}},
		{"reserved subject", false, "workflows:\n  - name: a\n    on: tag.created\n    actions:\n      - publish: { subject: socialsync.trigger.post.x }\n",
			[]string{"w.yaml:5:", "reserved"}},
		{"two kinds in one action", false, "workflows:\n  - name: a\n    on: tag.created\n    actions:\n      - publish: { subject: a }\n        webhook: { url: \"https://h.example\", secret: s }\n",
			[]string{"w.yaml:5:", "workflows[0].actions[0]", "exactly one"}},
		{"webhook without secret", false, "workflows:\n  - name: a\n    on: tag.created\n    actions:\n      - webhook: { url: \"https://h.example/x\" }\n",
			[]string{"w.yaml:5:", "workflows[0].actions[0].webhook"}},
		{"webhook host not a name", false, "workflows:\n  - name: a\n    on: tag.created\n    actions:\n      - webhook: { url: \"https://hooks!.example/x\", secret: s }\n",
			[]string{"w.yaml:5:", "workflows[0].actions[0].webhook.url", "not a host name"}},
		{"webhook port out of range", false, "workflows:\n  - name: a\n    on: tag.created\n    actions:\n      - webhook: { url: \"https://hooks.example:99999/x\", secret: s }\n",
			[]string{"w.yaml:5:", "workflows[0].actions[0].webhook.url", "port"}},
		{"stats tags need contacts", false, "workflows:\n  - name: a\n    on: stats.snapshot\n    actions:\n      - addContactTags: { tags: [x] }\n",
			[]string{"w.yaml:5:", "workflows[0].actions[0].addContactTags", "contacts"}},
		{"duplicate workflow", false, "workflows:\n  - name: a\n    on: tag.created\n    actions: [{publish: {subject: x}}]\n  - name: a\n    on: tag.deleted\n    actions: [{publish: {subject: x}}]\n",
			[]string{"w.yaml:5:", "workflows[1].name", "twice"}},
		{"bad value expression", false, "workflows:\n  - name: a\n    on: tag.created\n    actions:\n      - setCustomValue: { name: n, valueExpr: 'tagName +' }\n",
			[]string{"w.yaml:5:", "valueExpr"}},
		{"includeDiscovered off tag.created", false, "workflows:\n  - name: a\n    on: tag.renamed\n    includeDiscovered: true\n    actions: [{publish: {subject: x}}]\n",
			[]string{"w.yaml:", "workflows[0].includeDiscovered", "tag.created"}},
		{"syntax error", false, "workflows:\n  - name: a\n   on: x\n", []string{"w.yaml:3:"}},
		{"segment bad name", true, "segments:\n  - name: Promo\n    allTags: [social:promo]\n", []string{"s.yaml:2:", "segments[0].name"}},
		{"segment unknown field", true, "segments:\n  - name: p\n    allTags: [social:promo]\n    postedWithinDay: 3\n",
			[]string{"s.yaml:4:", `unknown field "postedWithinDay"`}},
		{"segment without rule", true, "segments:\n  - name: p\n", []string{"s.yaml:2:", "no rule"}},
		{"segment empty tag", true, "segments:\n  - name: p\n    anyTags: [\"a\", \" \"]\n", []string{"s.yaml:3:", "segments[0].anyTags[1]", "empty tag"}},
		{"segment of segments", true, "segments:\n  - name: p\n    allTags: [\"segment:q\"]\n", []string{"s.yaml:3:", "segments[0].allTags[0]"}},
		{"segment contradiction", true, "segments:\n  - name: p\n    allTags: [a]\n    noneTags: [A]\n", []string{"s.yaml:4:", "segments[0].noneTags"}},
		{"segment minPosts alone", true, "segments:\n  - name: p\n    allTags: [a]\n    minPosts: 2\n", []string{"s.yaml:4:", "segments[0].minPosts"}},
		{"segment days out of range", true, "segments:\n  - name: p\n    postedWithinDays: -1\n", []string{"s.yaml:3:", "postedWithinDays"}},
		{"no segments", true, "segments: []\n", []string{"s.yaml:1:", "no segments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.segments {
				_, err = ParseSegments("s.yaml", []byte(tt.in))
			} else {
				_, err = ParseWorkflows("w.yaml", []byte(tt.in))
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// The minimal forms parse, and a stored definition reads back
// the same.
func TestParseMinimalForms(t *testing.T) {
	segs, err := ParseSegments("s.yaml", []byte("segments:\n  - name: promo-fans\n    allTags: [\"social:promo\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if segs[0].Tag() != "segment:promo-fans" {
		t.Errorf("tag %q", segs[0].Tag())
	}
	data, _ := segs[0].Encode()
	back, err := DecodeSegment(data)
	if err != nil || back.Name != "promo-fans" || back.AllTags[0] != "social:promo" {
		t.Errorf("decoded %+v, %v", back, err)
	}
	wfs, err := ParseWorkflows("w.yaml", []byte(`workflows:
  - name: announce-new-tags
    on: tag.created
    when: 'tagName startsWith "promo"'
    actions:
      - publish: { subject: "acme.newtag" }
      - addContactTags: { tags: ["hot-lead"] }
`))
	if err != nil {
		t.Fatal(err)
	}
	w := wfs[0]
	for _, tc := range []struct {
		name string
		want bool
	}{{"promo-summer", true}, {"summer", false}} {
		got, err := w.Match(TagEnv{TagName: tc.name})
		if err != nil || got != tc.want {
			t.Errorf("Match(%q) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	data, _ = w.Encode()
	back2, err := DecodeWorkflow(data)
	if err != nil || back2.Name != w.Name || len(back2.Actions) != 2 {
		t.Errorf("decoded %+v, %v", back2, err)
	}
	if _, err := DecodeWorkflow([]byte(`{"name":"x","on":"tag.created","when":"nope +","actions":[{"publish":{"subject":"a"}}]}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("a broken stored workflow decoded: %v", err)
	}
	if _, err := DecodeWorkflow([]byte(`{"name":"x","on":"tag.created","extra":1,"actions":[{"publish":{"subject":"a"}}]}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("a stored workflow with an unknown field decoded: %v", err)
	}
}

// A webhook's bodyExpr shapes the body for receivers like chat webhooks.
func TestWebhookBodyExpr(t *testing.T) {
	wfs, err := ParseWorkflows("w.yaml", []byte(`workflows:
  - name: chat
    on: tag.created
    actions:
      - webhook: { url: "https://hooks.example.com/x", secret: s, bodyExpr: '{"text": "New social tag: " + tagName}' }
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := wfs[0].body(nil, 0, TagEnv{TagName: "promo"}, []byte(`{}`))
	if err != nil || string(b) != `{"text":"New social tag: promo"}` {
		t.Errorf("body %s, %v", b, err)
	}
	_, err = ParseWorkflows("w.yaml", []byte(`workflows:
  - name: chat
    on: tag.created
    actions:
      - webhook: { url: "https://hooks.example.com/x", secret: s, bodyExpr: '{"text": tagNam}' }
`))
	if err == nil || !strings.Contains(err.Error(), "w.yaml:5:") || !strings.Contains(err.Error(), "bodyExpr") {
		t.Errorf("bad bodyExpr: %v", err)
	}
}
