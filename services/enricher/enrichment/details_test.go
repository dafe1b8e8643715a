package enrichment

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRequestedTags(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr bool
	}{
		{"deduplicated in order", []string{"b2", "a1", "b2"}, []string{"b2", "a1"}, false},
		{"none", nil, nil, true},
		{"empty id", []string{"a1", ""}, nil, true},
		{"id with a dot", []string{"a.1"}, nil, true},
		{"id with a wildcard", []string{">"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RequestedTags(tt.in)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrInvalidRequest)) {
				t.Fatalf("RequestedTags(%q) error = %v, want ErrInvalidRequest: %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); err == nil && diff != "" {
				t.Errorf("RequestedTags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplaces(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	stored := Detail{ID: "a1", Name: "Alpha", CreatedAt: t0, UpdatedAt: t0}
	tests := []struct {
		name    string
		fetched Detail
		stored  *Detail
		want    bool
	}{
		{"nothing stored", stored, nil, true},
		{"equal", stored, &stored, false},
		{"renamed later", Detail{ID: "a1", Name: "Alpha 2", CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)}, &stored, true},
		{"older fetch", Detail{ID: "a1", Name: "Alpha 0", CreatedAt: t0, UpdatedAt: t0.Add(-time.Minute)}, &stored, false},
		{"same time, different deleted flag", Detail{ID: "a1", Name: "Alpha", Deleted: true, CreatedAt: t0, UpdatedAt: t0}, &stored, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Replaces(tt.fetched, tt.stored); got != tt.want {
				t.Errorf("Replaces = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMarkDeleted(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	live := Detail{ID: "a1", Name: "Alpha", UpdatedAt: t0}
	got, changed := MarkDeleted(live, t0.Add(time.Minute))
	if !changed || !got.Deleted || !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("MarkDeleted(live) = %+v, %v", got, changed)
	}
	if _, changed := MarkDeleted(got, t0.Add(time.Hour)); changed {
		t.Error("marking a deleted detail deleted changed it")
	}
	if _, changed := MarkDeleted(live, t0.Add(-time.Minute)); changed {
		t.Error("a deletion older than the detail's last update changed it")
	}
}

func TestMissingContactTags(t *testing.T) {
	details := []Detail{
		{ID: "a1", Name: "Summer Sale"},
		{ID: "b2", Name: "  Launch "},
		{ID: "c3", Name: "Gone", Deleted: true},
		{ID: "d4", Name: ""},
		{ID: "e5", Name: "summer sale"}, // same contact tag as a1
		{ID: "f6", Name: "New"},
	}
	existing := []string{"social:launch", "vip"}
	got := MissingContactTags(existing, details, prefixed("social:"))
	if diff := cmp.Diff([]string{"social:Summer Sale", "social:New"}, got); diff != "" {
		t.Errorf("MissingContactTags (-want +got):\n%s", diff)
	}
	if got := MissingContactTags([]string{"Social:Summer Sale ", "social:new"}, details[:1], prefixed("social:")); len(got) != 0 {
		t.Errorf("names differing in case and spaces only are missing: %v", got)
	}
}

func prefixed(prefix string) func(string) string {
	return func(name string) string { return ContactTagName(prefix, name) }
}
