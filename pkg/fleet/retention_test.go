package fleet_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/topology"
)

// The SOCIALSYNC_RETENTION_ variables reach the contact references' TTL
// and the dead letters' and events' max age; unset, the documented
// defaults hold.
func TestRetentionVariables(t *testing.T) {
	topo := func(r fleet.Retention) (refs, dlq, events time.Duration) {
		opts := fleet.DefaultStorageLimits().Topology(1)
		r.Apply(&opts)
		tp := topology.New(opts)
		for _, s := range tp.Streams {
			switch s.Name {
			case bus.StreamDLQ:
				dlq = s.MaxAge
			case topology.StreamEvents:
				events = s.MaxAge
			}
		}
		for _, kv := range tp.KeyValues {
			if kv.Bucket == topology.BucketContactRefs {
				refs = kv.TTL
			}
		}
		return refs, dlq, events
	}
	var def fleet.Retention
	if err := envconfig.Process(fleet.RetentionPrefix, &def); err != nil {
		t.Fatal(err)
	}
	if def != fleet.DefaultRetention() {
		t.Errorf("struct tag defaults %+v, DefaultRetention %+v", def, fleet.DefaultRetention())
	}
	if refs, dlq, events := topo(def); refs != 30*24*time.Hour || dlq != 14*24*time.Hour || events != 30*24*time.Hour {
		t.Errorf("defaults: contact refs %v, dead letters %v, events %v; want 720h, 336h, 720h", refs, dlq, events)
	}
	t.Setenv("SOCIALSYNC_RETENTION_CONTACT_REFS", "168h")
	t.Setenv("SOCIALSYNC_RETENTION_DEAD_LETTERS", "72h")
	t.Setenv("SOCIALSYNC_RETENTION_EVENTS", "48h")
	var set fleet.Retention
	if err := envconfig.Process(fleet.RetentionPrefix, &set); err != nil {
		t.Fatal(err)
	}
	if err := set.Validate(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if refs, dlq, events := topo(set); refs != 168*time.Hour || dlq != 72*time.Hour || events != 48*time.Hour {
		t.Errorf("set: contact refs %v, dead letters %v, events %v; want 168h, 72h, 48h", refs, dlq, events)
	}
}

// A retention that cannot work is refused with its variable's name.
func TestRetentionRefusedNamesTheVariable(t *testing.T) {
	for _, tc := range []struct {
		r    fleet.Retention
		want string
	}{
		{fleet.Retention{ContactRefs: time.Minute}, "SOCIALSYNC_RETENTION_CONTACT_REFS"},
		{fleet.Retention{DeadLetters: time.Hour}, "SOCIALSYNC_RETENTION_DEAD_LETTERS"},
		{fleet.Retention{Events: 12 * time.Hour}, "SOCIALSYNC_RETENTION_EVENTS"},
	} {
		err := tc.r.Validate(24 * time.Hour)
		if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an ErrConfig naming %s", tc.r, err, tc.want)
		}
	}
	cfg := fleet.DefaultConfig()
	cfg.Retention.Events = time.Hour
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "SOCIALSYNC_RETENTION_EVENTS") {
		t.Errorf("Config.Validate with a 1h event retention: %v", err)
	}
}
