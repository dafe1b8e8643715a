package deploy

import (
	"bytes"
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/contactsync"
	"github.com/socialsync/socialsync/services/enricher"
	"github.com/socialsync/socialsync/services/fetcher"
	"github.com/socialsync/socialsync/services/socialsync/cli"
)

// TestBackupAndRestoreWithTheirOwnUsers populates a fleet on nats-server
// loaded with accounts.conf (a post trigger through the fetcher, the
// enricher and contactsync, each as its own user; a stored report), backs
// it up with `socialsync backup` as the backup user, run as the backup
// CronJob's container runs it (runBackupCronJob: its command line and
// environment as rendered, as a process, pruning the volume's old
// archives), and restores the
// archive with `socialsync restore` as the restore user into a second
// server loaded with the same accounts.conf where nothing was applied:
// every bucket and the report come back alike, the restored topology is
// the one `topology apply` declares (nothing left to create), and neither
// user hit a permission violation on the way.
func TestBackupAndRestoreWithTheirOwnUsers(t *testing.T) {
	n, simSrv, key, loc := withLocation(t)
	ctx := context.Background()
	t.Run("populate", func(t *testing.T) {
		runAs(t, n, "fetcher", simSrv.URL, key, func(c *fetcher.Config) *fleet.Config { return &c.Config }, nil, cli.NewFetcher)
		runAs(t, n, "enricher", simSrv.URL, key, func(c *enricher.Config) *fleet.Config { return &c.Config }, nil, cli.NewEnricher)
		runAs(t, n, "contactsync", simSrv.URL, key, func(c *contactsync.Config) *fleet.Config { return &c.Config }, nil, cli.NewContactSync)
		detail := fleettest.Location(t, simSrv.URL, loc.ID)
		var tagID, want string
		var contacts []string
		for _, tag := range detail.SocialTags {
			if !tag.Deleted && tagID == "" {
				tagID, want = tag.ID, "social:"+strings.ToLower(tag.Tag)
			}
		}
		for _, c := range detail.Contacts {
			if !c.Deleted && len(contacts) < 2 {
				contacts = append(contacts, c.ID)
			}
		}
		n.operatorRun(t, "trigger", "post", "--location", loc.ID, "--post", "65f151c99bc2bf3aaf970d72",
			"--tags", tagID, "--contacts", strings.Join(contacts, ","), "--event-id", "deploy-backup")
		fleettest.Eventually(t, 60*time.Second, "the post's tag on its contacts", func() bool {
			detail = fleettest.Location(t, simSrv.URL, loc.ID)
			tagged := 0
			for _, c := range detail.Contacts {
				if slices.Contains(contacts, c.ID) && slices.Contains(c.Tags, want) {
					tagged++
				}
			}
			return tagged == len(contacts)
		})
	})
	// The workers have stopped: the buckets hold still from here.
	opConn, _ := n.connect(t, "operator")
	source, err := jetstream.New(opConn)
	if err != nil {
		t.Fatal(err)
	}
	reports, err := source.ObjectStore(ctx, topology.ObjectStoreReports)
	if err != nil {
		t.Fatal(err)
	}
	report := []byte(strings.Repeat("a report of more than one chunk ", 6000))
	if _, err := reports.PutBytes(ctx, loc.ID+"/weekly.html", report); err != nil {
		t.Fatal(err)
	}

	// The backup CronJob's container, as a process: the archive it
	// writes on its volume is the one restored below.
	file := runBackupCronJob(t, n)
	if v := n.violations.list(); len(v) > 0 {
		t.Errorf("permission violations of socialsync backup as the backup user:\n%s", strings.Join(v, "\n"))
	}

	// A second server with the same accounts, nothing applied.
	m := startBareNATS(t)
	if out := m.run(t, "restore", "restore", "-f", file, "--timeout", "2m"); !strings.Contains(out, "restored ") {
		t.Fatalf("restore: %s", out)
	}
	if v := m.violations.list(); len(v) > 0 {
		t.Errorf("permission violations of socialsync restore as the restore user:\n%s", strings.Join(v, "\n"))
	}
	restoredConn, _ := m.connect(t, "operator")
	restored, err := jetstream.New(restoredConn)
	if err != nil {
		t.Fatal(err)
	}
	for _, bucket := range []string{topology.BucketLocations, topology.BucketTokens, topology.BucketTags, topology.BucketTagDetails, topology.BucketRelations} {
		got, want := bucketContents(t, restored, bucket), bucketContents(t, source, bucket)
		if len(want) == 0 || !maps.Equal(got, want) {
			t.Errorf("bucket %s restored with %d keys, want the %d backed up, alike", bucket, len(got), len(want))
		}
	}
	restoredReports, err := restored.ObjectStore(ctx, topology.ObjectStoreReports)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := restoredReports.GetBytes(ctx, loc.ID+"/weekly.html"); err != nil || string(got) != string(report) {
		t.Errorf("report restored as %d bytes (%v), want %d", len(got), err, len(report))
	}
	// The restored topology is the declared one: topology apply, as the
	// Job runs it, finds nothing to create.
	if out := m.run(t, "topology", "topology", "apply"); !strings.Contains(out, " 0 created, 0 updated,") {
		t.Errorf("topology apply after the restore created or updated something:\n%s", out)
	}
	// Each user may do its own command only: the other's is refused at
	// once, naming the server's refusal, rather than waiting out its
	// timeout for an answer that never comes.
	// (The last server started gives the CA of the environment: each
	// check starts after the previous server's last use.)
	for _, c := range []struct {
		user string
		env  func() *natsEnv
		args []string
	}{
		{"restore", func() *natsEnv { return m }, []string{"backup", "-o", filepath.Join(t.TempDir(), "refused.tar.gz")}},
		{"backup", func() *natsEnv { return startBareNATS(t) }, []string{"restore", "-f", file}},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{c.args[0], "--nats", c.env().url(c.user), "--timeout", "90s"}, c.args[1:]...)
		started := time.Now()
		if code := cli.Main(ctx, args, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "Permissions Violation") {
			t.Errorf("socialsync %s as %s: exit %d after %v: %s%s; want a permissions violation", c.args[0], c.user, code,
				time.Since(started).Round(time.Millisecond), out.String(), errOut.String())
		}
		t.Logf("socialsync %s as %s, refused after %v: %s", c.args[0], c.user, time.Since(started).Round(time.Millisecond), strings.TrimSpace(errOut.String()))
	}
}

// bucketContents reads every key of a bucket with its value.
func bucketContents(t *testing.T, js jetstream.JetStream, bucket string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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
