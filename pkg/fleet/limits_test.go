package fleet_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Every stream, bucket and object store of the topology has its
// SOCIALSYNC_LIMIT_<NAME>_BYTES variable, and the variable reaches it.
func TestEveryStoreHasALimitVariable(t *testing.T) {
	vars := map[string]bool{}
	typ := reflect.TypeOf(fleet.StorageLimits{})
	for i := range typ.NumField() {
		if tag := typ.Field(i).Tag.Get("envconfig"); strings.HasSuffix(tag, "_BYTES") {
			vars["SOCIALSYNC_LIMIT_"+tag] = true
		}
	}
	topo := topology.New(topology.Options{})
	var names []string
	for _, s := range topo.Streams {
		names = append(names, s.Name)
	}
	for _, kv := range topo.KeyValues {
		names = append(names, "KV_"+kv.Bucket)
	}
	for _, o := range topo.ObjectStores {
		names = append(names, "OBJ_"+o.Bucket)
	}
	if len(names) != len(vars) {
		t.Errorf("%d stores, %d limit variables", len(names), len(vars))
	}
	for _, name := range names {
		v := topology.LimitVar(name)
		if !vars[v] {
			t.Errorf("%s: no variable %s in StorageLimits", name, v)
			continue
		}
		t.Setenv(v, "3MiB")
		var l fleet.StorageLimits
		if err := envconfig.Process(fleet.LimitsPrefix, &l); err != nil {
			t.Fatal(err)
		}
		if got := l.Topology(1).MaxBytes[name]; got != 3<<20 {
			t.Errorf("%s=3MiB: %s's limit is %d", v, name, got)
		}
		t.Setenv(v, "")
	}
}

func TestLimitVariables(t *testing.T) {
	tests := []struct {
		env, value string
		want       string // "" for accepted
	}{
		{"SOCIALSYNC_LIMIT_TRIGGERS_BYTES", "2GiB", ""},
		{"SOCIALSYNC_LIMIT_EVENTS_BYTES", "1073741824", ""},
		{"SOCIALSYNC_LIMIT_DLQ_BYTES", "500MB", ""},
		{"SOCIALSYNC_LIMIT_TRIGGERS_BYTES", "lots", "SOCIALSYNC_LIMIT_TRIGGERS_BYTES"},
		{"SOCIALSYNC_LIMIT_EVENTS_BYTES", "-5GiB", "SOCIALSYNC_LIMIT_EVENTS_BYTES"},
		{"SOCIALSYNC_LIMIT_RELATIONS_BYTES", "0", "SOCIALSYNC_LIMIT_RELATIONS_BYTES"},
		{"SOCIALSYNC_LIMIT_TAGS_BYTES", "4KiB", "SOCIALSYNC_LIMIT_TAGS_BYTES"},
		{"SOCIALSYNC_LIMIT_FLEET_LOCATIONS", "many", "SOCIALSYNC_LIMIT_FLEET_LOCATIONS"},
		{"SOCIALSYNC_LIMIT_FLEET_LOCATIONS", "-1", "SOCIALSYNC_LIMIT_FLEET_LOCATIONS"},
		{"SOCIALSYNC_LIMIT_TRIGGERS_PER_SUBJECT", "-3", "SOCIALSYNC_LIMIT_TRIGGERS_PER_SUBJECT"},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			var l fleet.StorageLimits
			err := envconfig.Process(fleet.LimitsPrefix, &l)
			if err == nil {
				err = l.Validate()
				if err != nil && !errors.Is(err, fleet.ErrConfig) {
					t.Errorf("Validate() = %v, want ErrConfig", err)
				}
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

// fleet.Config reads the same variables.
func TestConfigReadsLimits(t *testing.T) {
	t.Setenv("SOCIALSYNC_LIMIT_FLEET_LOCATIONS", "7")
	t.Setenv("SOCIALSYNC_LIMIT_EVENTS_BYTES", "5MiB")
	var c fleet.Config
	if err := envconfig.Process("socialsync", &c); err != nil {
		t.Fatal(err)
	}
	if c.Limits.FleetLocations != 7 || c.Limits.Events != 5<<20 {
		t.Errorf("limits %+v; want 7 locations, events 5MiB", c.Limits)
	}
}

// The defaults follow from the footprint table and the fleet size.
func TestLimitsFollowTheFleetSize(t *testing.T) {
	t.Setenv("SOCIALSYNC_LIMIT_FLEET_LOCATIONS", "1000")
	t.Setenv("SOCIALSYNC_LIMIT_TRIGGERS_PER_SUBJECT", "50")
	var l fleet.StorageLimits
	if err := envconfig.Process(fleet.LimitsPrefix, &l); err != nil {
		t.Fatal(err)
	}
	topo := topology.New(l.Topology(1))
	for _, s := range topo.Streams {
		if s.Name != topology.StreamEvents {
			continue
		}
		var f topology.Footprint
		for _, fp := range topology.Footprints {
			if fp.Name == s.Name {
				f = fp
			}
		}
		if want := f.MaxBytes(1000); s.MaxBytes != want || want <= topology.Footprints[1].MaxBytes(100) {
			t.Errorf("events limit for 1,000 locations: %d, want %d", s.MaxBytes, want)
		}
	}
	if got := topo.Streams[1]; got.Name != topology.StreamTriggers || got.MaxMsgsPerSubject != 50 {
		t.Errorf("%s per subject: %d, want 50", got.Name, got.MaxMsgsPerSubject)
	}
}
