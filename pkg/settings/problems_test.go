package settings_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/settings"
)

// Problems names each field that cannot be applied, as a form shows it
// next to the field; Validate reports the same.
func TestProblemsNameTheirField(t *testing.T) {
	m := settings.Mapping{Location: "Loc1", ContactTag: "{{tagName}}",
		ContactFields: []settings.FieldMapping{{From: "tagName", To: "contact.a"}, {From: "nope", To: "contact.a"}},
		Reconcile:     settings.ReconcileMapping{Every: "5m"}}
	var fields []string
	for _, p := range m.Problems() {
		fields = append(fields, p.Field)
	}
	want := []string{"contactTag", "contactFields[1].from", "contactFields[1].to", "reconcile.every"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("mapping problems (-want +got):\n%s", diff)
	}
	if err := m.Validate(); !errors.Is(err, settings.ErrInvalid) {
		t.Errorf("Validate: %v", err)
	}
	if ps := (settings.Mapping{Location: "Loc1", ContactTag: "social:{{tagName}}"}).Problems(); len(ps) != 0 {
		t.Errorf("a valid mapping: %v", ps)
	}

	for _, c := range []struct {
		name string
		s    settings.Stats
		want []string
	}{
		{"valid", settings.Stats{Cron: "0 0 6 * * *", Timezone: "Europe/Paris", RetentionDays: 30}, nil},
		{"five fields", settings.Stats{Cron: "0 6 * * *"}, []string{"cron"}},
		{"a zone for @every", settings.Stats{Cron: "@every 1h", Timezone: "Europe/Paris"}, []string{"timezone"}},
		{"unknown zone and retention", settings.Stats{Timezone: "Mars/Base", RetentionDays: -1}, []string{"timezone", "retentionDays"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, p := range c.s.Problems() {
				got = append(got, p.Field)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
