package settings_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/settings"
)

func TestParseMapping(t *testing.T) {
	tests := []struct {
		name, file string
		wantErr    string // substring; empty: valid
	}{
		{"full", `
location: loc1
contactTag: "sm-{{tagName}}"
contactFields:
  - { from: tagName, to: contact.last_social_tag }
customValues:
  - { name: "Weekly impressions", from: totals.impressions }
  - { name: "IG reach", from: instagram.reach }
`, ""},
		{"default template", "location: loc1\n", ""},
		{"contacts", "contacts:\n  createMissing: true\n  externalIdField: contact.crm_id\n", ""},
		{"bad external id field", "contacts:\n  externalIdField: \"crm id\"\n", "contacts.externalIdField"},
		{"reconcile policy", "reconcile:\n  policy: repair\n", ""},
		{"bad reconcile policy", "reconcile:\n  policy: fix\n", "reconcile.policy"},
		{"reconcile schedule", "reconcile:\n  every: 24h\n", ""},
		{"reconcile schedule too short", "reconcile:\n  every: 10m\n", "reconcile.every"},
		{"unknown contacts option", "contacts:\n  create: true\n", "line 2"},
		{"unknown placeholder", `contactTag: "social:{{tagNmae}}"`, "unknown placeholder {{tagNmae}}"},
		{"template without text", `contactTag: "{{ tagName }}"`, "needs text besides"},
		{"template without placeholder", `contactTag: "social"`, "lacks the placeholder"},
		{"unclosed", `contactTag: "s:{{tagName}} {{x"`, "unclosed"},
		{"unknown field in the file", "location: loc1\ncontactTags: \"x:{{tagName}}\"\n", "line 2"},
		{"unknown tag-detail field", "contactFields:\n  - { from: colour, to: contact.c }\n", `contactFields[0].from: unknown tag-detail field "colour"`},
		{"bad custom field key", "contactFields:\n  - { from: tagId, to: \"contact c\" }\n", "contactFields[0].to"},
		{"unknown statistic", "customValues:\n  - { name: x, from: totals.reach }\n", `customValues[0].from: unknown statistic "totals.reach"`},
		{"unknown platform", "customValues:\n  - { name: x, from: myspace.posts }\n", `unknown platform "myspace"`},
		{"reserved name", "customValues:\n  - { name: socialsync_x, from: totals.posts }\n", "recommendations"},
		{"twice", "customValues:\n  - { name: a, from: totals.posts }\n  - { name: A, from: totals.likes }\n", "mapped twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := settings.ParseMapping([]byte(tt.file))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("accepted, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && (!strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, settings.ErrInvalid)):
				t.Fatalf("error %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestContactTagFor(t *testing.T) {
	for _, tt := range []struct{ tmpl, name, want string }{
		{"", " Summer Sale ", "social:Summer Sale"},
		{"sm-{{tagName}}-x", "Promo", "sm-Promo-x"},
		{"s:{{ tagName }}", "$1 {{tagName}}", "s:$1 {{tagName}}"},
	} {
		if got := (settings.Mapping{ContactTag: tt.tmpl}).ContactTagFor(tt.name); got != tt.want {
			t.Errorf("%q with %q = %q, want %q", tt.tmpl, tt.name, got, tt.want)
		}
	}
}

func TestMetricValue(t *testing.T) {
	a := ghl.Statistics{Totals: ghl.StatTotals{Impressions: 10}, Breakdowns: ghl.Breakdowns{
		Reach: ghl.MetricBreakdown{Platforms: map[string]ghl.ValueWithChange{"instagram": {Value: 4}}}}}
	for path, want := range map[string]float64{"totals.impressions": 20, "instagram.reach": 8, "facebook.reach": 0} {
		m, err := settings.ParseMetric(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Value([]ghl.Statistics{a, a}); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
}
