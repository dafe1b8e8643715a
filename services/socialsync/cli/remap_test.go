package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Saving a mapping whose contact-tag template changed asks contactsync to
// rename the tags it gave; saving it again unchanged asks nothing.
// `mappings status` shows the renaming's progress.
func TestMappingsSetRequestsRemap(t *testing.T) {
	env := fleettest.Start(t, "empty")
	l := env.NewLocation(t, map[string]any{"timezone": "UTC"})
	file := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(file, []byte("location: "+l.ID+"\ncontactTag: \"sm-{{tagName}}\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	requests := func() int {
		return len(bustest.Messages(t, env.JS, topology.StreamTriggers, "socialsync.trigger.remap."+l.ID))
	}
	out, errOut, code := runCLI(t, "mappings", "set", "--nats", env.URL(), "-f", file, "--offline")
	if code != 0 || !strings.Contains(out, "mappings status --location "+l.ID) {
		t.Fatalf("set: exit %d: %s%s", code, out, errOut)
	}
	if n := requests(); n != 1 {
		t.Errorf("%d renaming requests after a new template, want 1", n)
	}
	if _, errOut, code := runCLI(t, "mappings", "set", "--nats", env.URL(), "-f", file, "--offline"); code != 0 {
		t.Fatalf("set again: exit %d: %s", code, errOut)
	}
	if n := requests(); n != 1 {
		t.Errorf("%d renaming requests after the same template again, want 1", n)
	}

	out, _, code = runCLI(t, "mappings", "status", "--nats", env.URL(), "--location", l.ID)
	if code != 0 || !strings.Contains(out, "never changed") {
		t.Errorf("status before any run: exit %d: %s", code, out)
	}
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(relations.RemapRun{Template: "sm-{{tagName}}", State: relations.RemapRunning, Contacts: []string{"a", "b", "c"},
		Cursor: 2, Total: 3, Changed: 2})
	if _, err := kv.Put(context.Background(), relations.RemapKey(l.ID), data); err != nil {
		t.Fatal(err)
	}
	out, _, code = runCLI(t, "mappings", "status", "--nats", env.URL(), "--location", l.ID)
	if code != 0 || !strings.Contains(out, `to "sm-{{tagName}}": 2/3 contacts done, 2 renamed`) || !strings.Contains(out, "running") {
		t.Errorf("status mid-way: exit %d: %s", code, out)
	}
	// Followed, it ends when the renaming is done.
	data, _ = json.Marshal(relations.RemapRun{Template: "sm-{{tagName}}", State: relations.RemapDone, Contacts: []string{"a", "b", "c"},
		Cursor: 3, Total: 3, Changed: 3})
	if _, err := kv.Put(context.Background(), relations.RemapKey(l.ID), data); err != nil {
		t.Fatal(err)
	}
	out, _, code = runCLI(t, "mappings", "status", "--nats", env.URL(), "--location", l.ID, "--follow", "--timeout", "20s")
	if code != 0 || !strings.Contains(out, "3/3 contacts done, 3 renamed") || !strings.Contains(out, "done at") {
		t.Errorf("status --follow: exit %d: %s", code, out)
	}
}
