package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync"
)

// A populated fleet backed up and restored into a new, empty NATS holds
// the same buckets and reports, and carries on there: the restored
// relations keep a repeated event from writing again, the restored sealed
// tokens reach HighLevel, and a restore over data is refused.
func TestBackupRestoreRoundTrip(t *testing.T) {
	env := fleettest.Start(t, "empty")
	ctx := context.Background()
	loc, tagIDs, contacts := workersLocation(t, env, "Promo", "Launch")
	cat, err := relations.NewCatalogue([]relations.Tag{{ID: tagIDs[0], Name: "Promo"}, {ID: tagIDs[1], Name: "Launch"}}, time.Now()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tagsKV, err := env.JS.KeyValue(ctx, topology.BucketTags)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tagsKV.Put(ctx, relations.CatalogueKey(loc), cat); err != nil {
		t.Fatal(err)
	}
	w, err := NewContactSync(ctx, contactsync.Config{Config: env.Deps.Config, Concurrency: 2, TagPrefix: "social:", BulkMin: 2}, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	stop := env.RunWorker(t, "contactsync", w)
	publishPost(t, env, loc, "p1", tagIDs[:1], contacts)
	fleettest.Eventually(t, 30*time.Second, "contact tags", func() bool { return tagged(t, env, loc, "social:promo") })
	settingsKV, err := env.JS.KeyValue(ctx, topology.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(ctx, settingsKV, settings.Mapping{Location: loc, Reconcile: settings.ReconcileMapping{Policy: settings.PolicyRepair}}); err != nil {
		t.Fatal(err)
	}
	reports, err := env.JS.ObjectStore(ctx, topology.ObjectStoreReports)
	if err != nil {
		t.Fatal(err)
	}
	report := []byte(strings.Repeat("a report that spans more than one chunk ", 5000))
	if _, err := reports.PutBytes(ctx, loc+"/weekly.html", report); err != nil {
		t.Fatal(err)
	}
	stop()

	file := filepath.Join(t.TempDir(), "fleet.tar.gz")
	out, errOut, code := runCLI(t, "backup", "--nats", env.URL(), "-o", file)
	if code != 0 || !strings.Contains(out, "written to "+file) {
		t.Fatalf("backup: exit %d: %s%s", code, out, errOut)
	}

	srv := bustest.StartServer(t)
	out, errOut, code = runCLI(t, "restore", "--nats", srv.ClientURL(), "-f", file)
	if code != 0 || !strings.Contains(out, "restored ") {
		t.Fatalf("restore: exit %d: %s%s", code, out, errOut)
	}
	js := bustest.Connect(t, srv)
	for _, b := range []string{topology.BucketTags, topology.BucketRelations, topology.BucketSettings, topology.BucketLocations, topology.BucketTokens} {
		if got, want := bucketContents(t, js, b), bucketContents(t, env.JS, b); !maps.Equal(got, want) || len(want) == 0 {
			t.Errorf("bucket %s restored with %d keys, want the %d backed up, alike", b, len(got), len(want))
		}
	}
	restored, err := js.ObjectStore(ctx, topology.ObjectStoreReports)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := restored.GetBytes(ctx, loc+"/weekly.html"); err != nil || string(got) != string(report) {
		t.Errorf("report restored as %d bytes (%v), want %d", len(got), err, len(report))
	}
	if _, errOut, code := runCLI(t, "restore", "--nats", srv.ClientURL(), "-f", file); code == 0 || !strings.Contains(errOut, "KV_"+topology.BucketRelations) {
		t.Errorf("a restore over data: exit %d: %s", code, errOut)
	}

	// The fleet carries on against the restored NATS.
	cfg := env.Deps.Config
	cfg.NATSURL = srv.ClientURL()
	deps, err := fleet.Connect(ctx, "restored", cfg, fleet.Options{Log: env.Deps.Log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deps.Close(context.Background()) })
	w2, err := NewContactSync(ctx, contactsync.Config{Config: cfg, Concurrency: 2, TagPrefix: "social:", BulkMin: 2}, deps)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.RunWorker(t, deps, "contactsync", w2)
	promo := tagAdds(t, env, loc, "social:promo")
	subject, _ := topology.PostTriggers.Subject(loc)
	for _, ev := range []*socialsyncv1.PostEvent{
		{LocationId: loc, PostId: "p1", TagIds: tagIDs[:1], ContactIds: contacts, OccurredAt: timestamppb.Now(), EventId: "workers-p1-again"},
		{LocationId: loc, PostId: "p2", TagIds: tagIDs[1:], ContactIds: contacts, OccurredAt: timestamppb.Now(), EventId: "workers-p2"},
	} {
		if _, err := deps.Publisher.Publish(ctx, subject, ev); err != nil {
			t.Fatal(err)
		}
	}
	fleettest.Eventually(t, 30*time.Second, "the new post's tags, through the restored tokens", func() bool { return tagged(t, env, loc, "social:launch") })
	fleettest.Eventually(t, 10*time.Second, "both events handled", func() bool {
		info := bustest.ConsumerInfo(t, js, topology.StreamTriggers, topology.DurableContactSync)
		return info.NumPending == 0 && info.NumAckPending == 0
	})
	if n := tagAdds(t, env, loc, "social:promo") - promo; n != 0 {
		t.Errorf("the repeated post added social:promo %d times after the restore: the relations were not restored", n)
	}
}

// bucketContents reads every key of a bucket with its value.
func bucketContents(t *testing.T, js jetstream.JetStream, bucket string) map[string]string {
	t.Helper()
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = string(e.Value())
	}
	return out
}

// tagAdds counts the additions of tag HighLevel took at loc, one per
// contact, bulk or not.
func tagAdds(t *testing.T, env *fleettest.Env, loc, tag string) int {
	t.Helper()
	n := 0
	for _, r := range env.Requests(t, loc) {
		for _, w := range r.TagWrites {
			if r.Status/100 == 2 && w.Op == "add" && slices.Contains(w.Tags, tag) {
				n++
			}
		}
	}
	return n
}

// An archive that is not socialsync's, or of a newer format, is refused
// before anything is written, saying why.
func TestRestoreRefusesOtherArchives(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.tar.gz")
	if err := os.WriteFile(garbage, []byte("not gzip at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	newer := filepath.Join(dir, "newer.tar.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tarJSON(tw, "manifest.json", backupManifest{Format: backupFormat, Version: backupVersion + 1}, time.Now()); err != nil {
		t.Fatal(err)
	}
	_ = tw.Close()
	_ = zw.Close()
	if err := os.WriteFile(newer, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{garbage: "not a socialsync backup (gzip)", newer: "newer than this socialsync reads"} {
		// No NATS listens there: the archive is refused before connecting.
		if _, errOut, code := runCLI(t, "restore", "--nats", "nats://127.0.0.1:1", "-f", file); code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("restore -f %s: exit %d: %s; want %q", filepath.Base(file), code, errOut, want)
		}
	}
	if _, errOut, code := runCLI(t, "backup"); code == 0 || !strings.Contains(errOut, "-o or --dir is required") {
		t.Errorf("backup without -o: exit %d: %s", code, errOut)
	}
}

// backup --dir writes an archive named by the time of its clock, and
// --keep then deletes the directory's archives older than the retention
// by the time in their names, and the leftovers of interrupted backups
// older than it: nothing else, and never the archive just written.
func TestBackupDirKeepsTheRetention(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	kv, err := env.JS.KeyValue(ctx, topology.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "a-setting", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	now := time.Date(2031, 3, 1, 3, 0, 7, 0, time.UTC)
	clock := func() time.Time { return now }
	archive := func(age time.Duration) string { return backupName(now.Add(-age)) }
	write := func(name string, modAge time.Duration) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-modAge), now.Add(-modAge)); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	gone := []string{archive(14*day + time.Second), archive(40 * day), backupTempPrefix + "123"}
	// Recent archives stay whatever their file times say: the name is the
	// backup's time.
	stay := []string{archive(14 * day), archive(13 * day), archive(time.Hour), backupTempPrefix + "456",
		"socialsync-latest.tar.gz", "socialsync-20300101T000000.tar.gz", "notes.txt", "socialsync-20300101T000000Z.tar.gz.sha256"}
	for _, name := range gone {
		write(name, 20*day)
	}
	for _, name := range stay[:3] {
		write(name, 100*day)
	}
	write(stay[3], 13*day)
	for _, name := range stay[4:] {
		write(name, 100*day)
	}
	if err := os.Mkdir(filepath.Join(dir, archive(50*day)), 0o700); err != nil {
		t.Fatal(err)
	}
	stay = append(stay, archive(50*day)) // a directory: not an archive

	out, errOut, code := runCLIAt(t, clock, "backup", "--nats", env.URL(), "--dir", dir, "--keep", "14d")
	if code != 0 {
		t.Fatalf("backup --dir --keep: exit %d: %s%s", code, out, errOut)
	}
	written := filepath.Join(dir, "socialsync-20310301T030007Z.tar.gz")
	if !strings.Contains(out, "written to "+written) {
		t.Errorf("backup does not name %s:\n%s", written, out)
	}
	f, err := os.Open(written)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ar, err := readBackup(f)
	if err != nil {
		t.Fatalf("the archive written does not read back: %v", err)
	}
	if !ar.manifest.Created.Equal(now) || !strings.Contains(string(ar.data["KV_"+topology.BucketSettings]), "a-setting") {
		t.Errorf("archive created %v with settings %q; want %v and the setting", ar.manifest.Created, ar.data["KV_"+topology.BucketSettings], now)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := append(slices.Clone(stay), filepath.Base(written))
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left in the directory:\n%v\nwant\n%v", left, want)
	}
	for _, name := range gone {
		if !strings.Contains(out, "deleted "+filepath.Join(dir, name)+" (older than 14d)") {
			t.Errorf("the output does not name %s as deleted:\n%s", name, out)
		}
	}

	// Another backup in the same second would overwrite it: refused.
	if _, errOut, code := runCLIAt(t, clock, "backup", "--nats", env.URL(), "--dir", dir); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("a second backup in the same second: exit %d: %s", code, errOut)
	}
	// A week later with --keep 0: a new archive, nothing deleted.
	later := now.Add(7 * day)
	if out, errOut, code := runCLIAt(t, func() time.Time { return later }, "backup", "--nats", env.URL(), "--dir", dir, "--keep", "0"); code != 0 || strings.Contains(out, "deleted") {
		t.Errorf("backup --keep 0: exit %d: %s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, backupName(later))); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, archive(14*day))); err != nil {
		t.Errorf("--keep 0 deleted an archive: %v", err)
	}
}

// backup's --dir and --keep refuse what they cannot do, before connecting.
func TestBackupDirUsage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", file, "--dir", dir}, "-o and --dir both given"},
		{[]string{"-o", file, "--keep", "14d"}, "--keep prunes the archives of --dir"},
		{[]string{"--dir", dir, "--keep", "14x"}, `"14x": want whole days (14d) or a duration (36h)`},
		{[]string{"--dir", dir, "--keep", "-3d"}, `"-3d": want whole days`},
		{[]string{"--dir", dir, "--keep", "-36h"}, "cannot be negative"},
		{[]string{"--dir", filepath.Join(dir, "missing")}, "--dir: stat"},
		{[]string{"--dir", file}, "is not a directory"},
	} {
		// No NATS listens there: each is refused before connecting.
		args := append([]string{"backup", "--nats", "nats://127.0.0.1:1"}, c.args...)
		if _, errOut, code := runCLI(t, args...); code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d: %s; want %q", c.args, code, errOut, c.want)
		}
	}
	var r retention
	for in, want := range map[string]time.Duration{"14d": 14 * 24 * time.Hour, "36h": 36 * time.Hour, "0": 0, "1d": 24 * time.Hour} {
		if err := r.Set(in); err != nil || time.Duration(r) != want {
			t.Errorf("--keep %s: %v %v, want %v", in, time.Duration(r), err, want)
		}
	}
}

// A backup that fails deletes nothing: a fleet whose backups fail keeps
// its last archives.
func TestBackupFailedDeletesNothing(t *testing.T) {
	srv := bustest.StartServer(t) // no socialsync stream: the backup fails
	dir := t.TempDir()
	now := time.Date(2031, 3, 1, 3, 0, 0, 0, time.UTC)
	old := backupName(now.Add(-90 * 24 * time.Hour))
	if err := os.WriteFile(filepath.Join(dir, old), []byte("the last good one"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLIAt(t, func() time.Time { return now }, "backup", "--nats", srv.ClientURL(), "--dir", dir, "--keep", "14d")
	if code == 0 || !strings.Contains(errOut, "topology not applied") {
		t.Fatalf("backup of a server without socialsync streams: exit %d: %s", code, errOut)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != old {
		t.Errorf("after a failed backup the directory holds %v, want only %s", entries, old)
	}
}
