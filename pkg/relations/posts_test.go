package relations

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTagPosts(t *testing.T) {
	p := TagPosts{}.With("p2").With("p1").With("p2")
	if diff := cmp.Diff([]string{"p1", "p2"}, p.PostIDs); diff != "" {
		t.Errorf("With (-want +got):\n%s", diff)
	}
	if !p.Has("p1") || p.Has("p3") {
		t.Errorf("Has on %v", p.PostIDs)
	}
	q := p.Without("p1").Without("p9")
	if diff := cmp.Diff([]string{"p2"}, q.PostIDs); diff != "" {
		t.Errorf("Without (-want +got):\n%s", diff)
	}
	if len(p.PostIDs) != 2 {
		t.Error("Without changed its receiver")
	}
	data, _ := TagPosts{}.Marshal()
	if string(data) != `{"postIds":[]}` {
		t.Errorf("empty list stored as %s", data)
	}
	r := PostRecord{TagIDs: []string{"a"}, UpdatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	data, _ = r.Marshal()
	if string(data) != `{"tagIds":["a"],"updatedAt":"2025-03-01T12:00:00Z"}` {
		t.Errorf("post record stored as %s", data)
	}
	back, err := UnmarshalPostRecord(data)
	if err != nil || !cmp.Equal(r, back) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
