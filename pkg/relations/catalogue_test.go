package relations

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewCatalogueDropsRepeatsAndBadIDs(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	got := NewCatalogue([]Tag{{"a1", "A"}, {"", "no id"}, {"a1", "A again"}, {"b.2", "dotted"}, {strings.Repeat("f", 65), "long"}, {"c3", "C"}}, at)
	want := Catalogue{Tags: []Tag{{"a1", "A"}, {"c3", "C"}}, FetchedAt: at.UTC()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewCatalogue (-want +got):\n%s", diff)
	}
}

func TestCatalogueRoundTrip(t *testing.T) {
	c := NewCatalogue([]Tag{{"a1", "Alpha"}}, time.Date(2025, 3, 1, 12, 0, 0, 5e6, time.UTC))
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"tags":[{"id":"a1","name":"Alpha"}],"fetchedAt":"2025-03-01T12:00:00.005Z"}`; string(data) != want {
		t.Errorf("stored form = %s, want %s", data, want)
	}
	back, err := UnmarshalCatalogue(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	empty, _ := Catalogue{}.Marshal()
	if !strings.Contains(string(empty), `"tags":[]`) {
		t.Errorf("an empty catalogue is stored as %s, want tags []", empty)
	}
	if _, err := UnmarshalCatalogue([]byte("{")); err == nil {
		t.Error("UnmarshalCatalogue accepted a broken value")
	}
}
