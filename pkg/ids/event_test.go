package ids_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/ids"
)

func TestEventKey(t *testing.T) {
	a, err := ids.EventKey("crm", "LOC1", "1001")
	if err != nil {
		t.Fatal(err)
	}
	if a != "crm/LOC1/MTAwMQ" {
		t.Errorf("EventKey = %q, want crm/LOC1/MTAwMQ", a)
	}
	// Another source, another location: another key for the same id.
	for _, other := range [][2]string{{"shop", "LOC1"}, {"crm", "LOC2"}, {ids.APISource, "LOC1"}} {
		k, err := ids.EventKey(other[0], other[1], "1001")
		if err != nil {
			t.Fatal(err)
		}
		if k == a {
			t.Errorf("EventKey(%q, %q, 1001) = %q, the same as crm's for LOC1", other[0], other[1], k)
		}
	}
	for _, bad := range [][3]string{
		{"", "LOC1", "1"}, {"a.b", "LOC1", "1"}, {"crm", "", "1"}, {"crm", "LOC-1", "1"},
		{"crm", "LOC1", ""}, {"crm", "LOC1", "a\nb"}, {"crm", "LOC1", strings.Repeat("x", 257)},
		{"crm", "LOC1", "refresh:LOC1:7"}, {"crm", "LOC1", "POLL:LOC1:p:t"},
	} {
		if k, err := ids.EventKey(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("EventKey(%q, %q, %q) = %q, want an error", bad[0], bad[1], bad[2], k)
		}
	}
}

// Every id socialsync's publishers make, as they make it, is reserved;
// ids from outside that merely look alike are not.
func TestCheckEventIDRefusesInternalIDs(t *testing.T) {
	internal := []string{
		"refresh:LOC1:12", "tagchanged:LOC1:t1:created:3", "tagdetails:LOC1:3:0", "tagdetailsstored:LOC1:abc:0",
		"poll:LOC1:p1:2031-01-01T00:00:00.000Z", "contacttags:LOC1:c1:add:crm/cA:4", "segment:LOC1:c1:vip:add:2",
		"segments:def:vip:3:LOC1", "stats:LOC1:2031-01-01:00ff:0", "recommendation:LOC1:2031-01-01:00ff",
		"event:x", "msg:x", "content:x", "backfill-LOC1-2031-01-01", "demo:LOC1:p1", "replay:42",
		"dlq:SOCIALSYNC_TRIGGERS:4:fetcher", "creds.LOC1.needs_reauth.3", "reconcile:LOC1:run-1", "sched-1796083200", "remap:LOC1:m1",
		"remove-LOC1-kq3x9c", "remove.LOC1.1796083200000000000",
	}
	for _, id := range internal {
		err := ids.CheckEventID("event_id", id)
		var e *ids.Error
		if !errors.As(err, &e) || e.Field != "event_id" || !strings.Contains(e.Error(), "reserves") {
			t.Errorf("CheckEventID(%q) = %v, want an *ids.Error saying the prefix is reserved", id, err)
		}
	}
	for _, id := range []string{"1001", "crm-1", "refreshed", "poll-7", "stats", "Bestellung-ä/42", "order:refresh:1"} {
		if err := ids.CheckEventID("event_id", id); err != nil {
			t.Errorf("CheckEventID(%q) = %v, want nil", id, err)
		}
	}
	if got := ids.InternalPrefixes(); len(got) != len(internal) {
		t.Errorf("%d reserved prefixes, the test names %d: name the new one's id here", len(got), len(internal))
	}
}

// idLiteral finds the ids socialsync's publishers make in the source tree:
// a message or event id built from a literal beginning ("refresh:…",
// "creds.…", "backfill-…") assigned to an id, set as EventId or
// Nats-Msg-Id, or returned with a location or id after it (the stats
// worker's ids). Its first group is the beginning.
var idLiteral = regexp.MustCompile(`(?:\bid :?= |EventId: +|WithMsgID\(|HeaderMsgID, )(?:fmt\.Sprintf\()?"([a-z]+[:.-])|return "([a-z]+:)" \+ (?:loc|id)\b`)

// Every id a publisher of this repository makes starts with a reserved
// prefix: a new kind of id fails here until its prefix is reserved.
func TestEveryInternalIDPrefixIsReserved(t *testing.T) {
	found := map[string][]string{}
	for _, dir := range []string{"../../pkg", "../../services"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range idLiteral.FindAllSubmatch(src, -1) {
				p := string(m[1]) + string(m[2])
				found[p] = append(found[p], path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The scan must see the ids it is meant to guard, or it proves nothing.
	for _, p := range []string{"refresh:", "poll:", "creds.", "replay:", "dlq:", "backfill-", "stats:", "content:"} {
		if _, ok := found[p]; !ok {
			t.Errorf("the scan did not find the %q ids: fix idLiteral", p)
		}
	}
	for p, where := range found {
		if !ids.Reserved(p + "x") {
			t.Errorf("ids starting %q (%s) are not reserved: add the prefix to internalPrefixes in pkg/ids/event.go", p, strings.Join(where, ", "))
		}
	}
}
