package tagging

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestTargets(t *testing.T) {
	tests := []struct {
		name           string
		known, listed  []string
		deleted        bool
		linked, unlink []string
	}{
		{"first event", nil, []string{"c2", "c1", "c2"}, false, []string{"c1", "c2"}, nil},
		{"same contacts", []string{"c1", "c2"}, []string{"c2", "c1"}, false, []string{"c1", "c2"}, nil},
		{"a contact dropped", []string{"c1", "c2", "c3"}, []string{"c1", "c3"}, false, []string{"c1", "c3"}, []string{"c2"}},
		{"contacts not listed", []string{"c1", "c2"}, nil, false, []string{"c1", "c2"}, nil},
		{"deleted", []string{"c1", "c2"}, []string{"c3"}, true, nil, []string{"c1", "c2", "c3"}},
		{"deleted, never seen", nil, nil, true, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			linked, unlinked := Targets(tt.known, tt.listed, tt.deleted)
			if d := cmp.Diff(tt.linked, linked, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("linked (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.unlink, unlinked, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("unlinked (-want +got):\n%s", d)
			}
		})
	}
}
