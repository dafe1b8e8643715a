package gateway_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/gateway"
)

type refusalBody struct {
	Error struct {
		Code     string
		Field    string
		Problems []struct{ Field, Message string }
	}
}

func problemFields(r refusalBody) []string {
	var out []string
	for _, p := range r.Error.Problems {
		out = append(out, p.Field)
	}
	return out
}

// A location's mapping and schedule are read with the read scope and
// written with the admin scope; a refusal names every field at fault, and
// stores nothing.
func TestLocationSettingsNameTheFieldAtFault(t *testing.T) {
	env := fleettest.Start(t, "demo")
	const readerKey = "sk-reader-0123456789abcdef"
	w := startEnv(t, env, func(c *gateway.Config) { c.APIKeyHashes += ";" + gateway.HashAPIKey(readerKey) + ":read" })
	loc := w.Locations[0].ID
	base := "/v1/locations/" + loc + "/settings"

	var got struct {
		Mapping       struct{ ContactTag string }
		MappingStored bool
		Stats         struct{ Cron string }
		Timezone      string
	}
	w.api(t, http.MethodGet, base, "").json(t, &got)
	if got.MappingStored || got.Mapping.ContactTag != "social:{{tagName}}" || got.Timezone == "" {
		t.Errorf("settings before any: %+v", got)
	}

	for _, c := range []struct {
		name, path, body string
		want             []string
	}{
		{"mapping", "/mapping", `{"contactTag":"{{tagName}}","contactFields":[{"from":"tagName","to":"contact.a"},{"from":"nope","to":"bad key"}],"reconcile":{"policy":"fix"}}`,
			[]string{"contactTag", "contactFields[1].from", "contactFields[1].to", "reconcile.policy"}},
		{"another location's mapping", "/mapping", `{"location":"Other1","contactTag":"social:{{tagName}}"}`, []string{"location"}},
		{"schedule", "/stats", `{"cron":"0 6 * * *","timezone":"Mars/Base","retentionDays":-2}`, []string{"cron", "timezone", "retentionDays"}},
		{"a zone for @every", "/stats", `{"cron":"@every 1h","timezone":"Europe/Paris"}`, []string{"timezone"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := w.api(t, http.MethodPut, base+c.path, c.body)
			var r refusalBody
			a.json(t, &r)
			if a.status != http.StatusUnprocessableEntity || r.Error.Code != "invalid" || r.Error.Field != c.want[0] {
				t.Errorf("%d %s", a.status, a.body)
			}
			if diff := cmp.Diff(c.want, problemFields(r)); diff != "" {
				t.Errorf("fields at fault (-want +got):\n%s", diff)
			}
		})
	}
	w.api(t, http.MethodGet, base, "").json(t, &got)
	if got.MappingStored || got.Stats.Cron != "" {
		t.Errorf("a refused setting was stored: %+v", got)
	}

	// The reader may read, not write.
	a := w.do(t, http.MethodPut, base+"/mapping", http.Header{"Authorization": {"Bearer " + readerKey}, "Content-Type": {"application/json"}},
		[]byte(`{"contactTag":"fb:{{tagName}}"}`))
	if a.status != http.StatusForbidden {
		t.Errorf("a read key writes a mapping: %d %s", a.status, a.body)
	}

	if a := w.api(t, http.MethodPut, base+"/mapping", `{"contactTag":"fb:{{tagName}}"}`); a.status != http.StatusOK {
		t.Fatalf("store a mapping: %d %s", a.status, a.body)
	}
	if a := w.api(t, http.MethodPut, base+"/stats", `{"cron":"0 0 7 * * *","timezone":"Europe/Paris"}`); a.status != http.StatusOK {
		t.Fatalf("store a schedule: %d %s", a.status, a.body)
	}
	w.api(t, http.MethodGet, base, "").json(t, &got)
	if !got.MappingStored || got.Mapping.ContactTag != "fb:{{tagName}}" || got.Stats.Cron != "0 0 7 * * *" {
		t.Errorf("settings stored: %+v", got)
	}
	// The new template asked contactsync to rename the tags it gave, as
	// `mappings set` does; the same template again asks nothing.
	triggers, err := env.JS.Stream(context.Background(), topology.StreamTriggers)
	if err != nil {
		t.Fatal(err)
	}
	remaps := func() uint64 {
		info, err := triggers.Info(context.Background(), jetstream.WithSubjectFilter("socialsync.trigger.remap."+loc))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	if n := remaps(); n != 1 {
		t.Errorf("%d renaming requests after a new template, want 1", n)
	}
	if a := w.api(t, http.MethodPut, base+"/mapping", `{"contactTag":"fb:{{tagName}}","reconcile":{"policy":"repair"}}`); a.status != http.StatusOK {
		t.Fatalf("store a mapping: %d %s", a.status, a.body)
	}
	if n := remaps(); n != 1 {
		t.Errorf("%d renaming requests after the same template again, want 1", n)
	}
}
