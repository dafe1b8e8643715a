package gateway_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
)

// putRemap stores a renaming of loc's contact tags half done, as
// contactsync does.
func putRemap(t *testing.T, env *fleettest.Env, loc string) {
	t.Helper()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	data, err := json.Marshal(relations.RemapRun{Template: "sp-{{tagName}}", State: relations.RemapRunning, RequestedBy: "cli",
		StartedAt: at, UpdatedAt: at, Contacts: []string{"c1", "c2"}, Cursor: 1, Total: 2, Changed: 1})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), relations.RemapKey(loc), data); err != nil {
		t.Fatal(err)
	}
}
