package e2e

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// upgradeWorkers are the workers a post event goes through.
var upgradeWorkers = []string{"fetcher", "enricher", "contactsync"}

// previousRelease returns the revision of the previous release: the newest
// tag reachable from HEAD's parent when the clone has one, else the newest
// entry of deploy/releases.txt (tags may not travel with the history).
func previousRelease(t *testing.T, root string) (name, rev string) {
	t.Helper()
	if out, err := exec.Command("git", "-C", root, "describe", "--tags", "--abbrev=0", "HEAD^").Output(); err == nil {
		tag := strings.TrimSpace(string(out))
		return tag, tag
	}
	f, err := os.Open(filepath.Join(root, "deploy", "releases.txt"))
	if err != nil {
		t.Fatalf("no git tag and no list of releases: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if fields := strings.Fields(line); len(fields) == 2 {
			return fields[0], fields[1]
		}
		t.Fatalf("deploy/releases.txt: want <version> <commit>, got %q", line)
	}
	t.Fatal("deploy/releases.txt names no release")
	return "", ""
}

// buildPrevious builds the previous release's upgradeWorkers from its
// tree (git archive), with the module cache and the go.work it carries.
// It fails when they cannot be built, but in a shallow clone, which does
// not hold the release.
func buildPrevious(t *testing.T) (dir, name string) {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel", "--is-shallow-repository").Output()
	if err != nil {
		t.Fatalf("the rolling-upgrade test builds the previous release from git history: %v", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 2 && lines[1] == "true" {
		t.Skip("a shallow clone does not hold the previous release: fetch the full history (git fetch --unshallow)")
	}
	root := lines[0]
	name, rev := previousRelease(t, root)
	src := t.TempDir()
	archive := exec.Command("git", "-C", root, "archive", "--format=tar", rev)
	var tarball, stderr bytes.Buffer
	archive.Stdout, archive.Stderr = &tarball, &stderr
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s (%s): %v: %s", name, rev, err, stderr.String())
	}
	untar := exec.Command("tar", "-x", "-C", src)
	untar.Stdin = &tarball
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v: %s", name, err, out)
	}
	dir = filepath.Join(src, "bin")
	args := []string{"build", "-buildvcs=false", "-trimpath", "-o", dir + string(os.PathSeparator)}
	for _, w := range upgradeWorkers {
		args = append(args, "./services/"+w+"/cmd/"+w)
	}
	build := exec.Command("go", args...)
	build.Dir = src
	build.Env = append(os.Environ(), "GOWORK="+filepath.Join(src, "go.work"), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the workers of %s (%s): %v\n%s", name, rev, err, out)
	}
	return dir, name
}

// startFrom starts a worker binary of dir with its health server on a free
// port.
func (f *fleet) startFrom(dir, name string) *proc {
	f.t.Helper()
	bin := f.bin
	f.bin = dir
	defer func() { f.bin = bin }()
	return f.worker(name)
}

// waitReady waits until every process answers /readyz with 200.
func waitReady(t *testing.T, procs ...*proc) {
	t.Helper()
	for _, p := range procs {
		eventually(t, 90*time.Second, p.name+" ready", func() bool {
			res, err := http.Get("http://" + p.addr + "/readyz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == http.StatusOK
		})
	}
}

// TestRollingUpgrade runs the previous release's fetcher, enricher and
// contactsync (built from the last release's tree) and this release's side
// by side against one NATS while post events flow, through a whole upgrade:
// the old fleet alone; old and new replicas together; a rollback to the old
// ones alone (they read what the new ones wrote); the roll forward, one old
// replica stopped at a time while events flow; then `socialsync migrate`,
// after which records and messages carry schema 2. Every contact gets its
// tags, nothing is dead-lettered, and no contact tag is written twice but
// for one an old replica stopping mid-message may send again.
func TestRollingUpgrade(t *testing.T) {
	oldBin, release := buildPrevious(t)
	t.Logf("previous release: %s", release)
	f := newFleet(t)
	d := f.firstLocation()
	f.register(d)
	f.admin(http.MethodPut, "/_sandbox/faults", map[string]any{"latencyMs": 30}, nil)

	expected := map[string][]string{}
	var posts int
	// phase publishes n post triggers, each carrying a tag created for the
	// phase (new to the catalogue: the fetcher and the enricher have work)
	// and one of the seed's, for two contacts.
	began := time.Now()
	phase := func(name string, n int, during func(i int)) {
		t.Helper()
		start := time.Now()
		defer func() { t.Logf("phase %s: %d posts in %v", name, n, time.Since(start).Round(100*time.Millisecond)) }()
		var tag struct {
			ID  string `json:"_id"`
			Tag string `json:"tag"`
		}
		f.admin(http.MethodPost, "/_sandbox/locations/"+d.ID+"/socialTags", map[string]any{"tag": "upgrade " + name}, &tag)
		for i := range n {
			seed := d.SocialTags[posts%len(d.SocialTags)]
			contacts := []string{d.Contacts[(2*posts)%len(d.Contacts)].ID, d.Contacts[(2*posts+1)%len(d.Contacts)].ID}
			f.post(d.ID, []string{tag.ID, seed.ID}, contacts)
			for _, c := range contacts {
				expected[c] = append(expected[c], "social:"+strings.ToLower(tag.Tag), "social:"+strings.ToLower(seed.Tag))
			}
			posts++
			if during != nil {
				during(i)
			}
		}
		eventually(t, 120*time.Second, "every contact tag of the phase "+name, func() bool {
			got := contactTags(f.location(d.ID))
			for c, tags := range expected {
				for _, tag := range tags {
					if !slices.Contains(got[c], tag) {
						return false
					}
				}
			}
			return true
		})
	}
	startAll := func(dir string) []*proc {
		var ps []*proc
		for _, w := range upgradeWorkers {
			ps = append(ps, f.startFrom(dir, w))
		}
		waitReady(t, ps...)
		return ps
	}

	old := startAll(oldBin)
	phase("old", 4, nil)

	newer := startAll(f.bin)
	phase("mixed", 6, nil)
	checkMarks(t, f, false)

	// Rollback: the new replicas go, the old ones read what they wrote.
	for _, p := range newer {
		p.stop(t)
	}
	phase("rollback", 4, nil)

	// Roll forward: one old replica stopped at every other event.
	newer = startAll(f.bin)
	var rolled time.Time
	phase("roll", 6, func(i int) {
		if i%2 == 1 && i/2 < len(old) {
			old[i/2].stop(t)
			rolled = time.Now()
		}
	})
	for _, p := range old {
		p.stop(t)
	}
	if rolled.IsZero() {
		rolled = time.Now()
	}

	status := f.cli("migrate", "--status", "--nats", f.natsURL)
	if !strings.Contains(status, "fleet minimum: 1") || !strings.Contains(status, "schema 1:") {
		t.Errorf("migrate --status before the raise:\n%s", status)
	}
	out := f.cli("migrate", "--nats", f.natsURL)
	t.Logf("socialsync migrate:\n%s", out)
	status = f.cli("migrate", "--status", "--nats", f.natsURL)
	if !strings.Contains(status, "fleet minimum: 2") || strings.Contains(status, "schema 1:") {
		t.Errorf("migrate --status after the raise: want minimum 2 and no record of schema 1 left:\n%s", status)
	}
	// migrate waited out the replicas' reading of the minimum before it
	// rewrote the records: what they write now is of schema 2.
	phase("migrated", 3, nil)
	checkMarks(t, f, true)
	if markedEvents(t, f) == 0 {
		t.Error("no event of schema 2 after the raise")
	}

	// Nothing dead-lettered.
	nc, err := nats.Connect(f.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dlq, err := js.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := dlq.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Errorf("dead letters: %v (%v); want none", info.State.Msgs, err)
		f.cli("dlq", "list", "--nats", f.natsURL)
	}

	// No contact tag written twice, but for an add an old replica had
	// sent when it was stopped, which its redelivery may send once more.
	seen, before := map[string]int{}, map[string]bool{}
	for _, r := range f.log(d.ID) {
		for _, w := range tagAdds(r) {
			seen[w]++
			if r.At.Before(rolled) {
				before[w] = true
			}
		}
	}
	for w, n := range seen {
		if n > 2 || n == 2 && !before[w] {
			t.Errorf("written %d times: %s", n, w)
		}
	}
	t.Logf("%d posts, %d contact tag writes; the fleet ran %v", posts, len(f.writes(d.ID)), time.Since(began).Round(time.Second))
}

// checkMarks checks the stored tag catalogue and relations: unmarked (the
// previous release's form) before the raise, of schema 2 after.
func checkMarks(t *testing.T, f *fleet, marked bool) {
	t.Helper()
	nc, err := nats.Connect(f.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, bucket := range []string{topology.BucketTags, topology.BucketRelations, topology.BucketTagDetails} {
		kv, err := js.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := kv.Keys(ctx)
		if err != nil {
			t.Fatalf("%s: %v", bucket, err)
		}
		for _, k := range keys {
			e, err := kv.Get(ctx, k)
			if err != nil || len(e.Value()) == 0 || e.Value()[0] != '{' {
				continue
			}
			if _, v := bus.RecordSchema(e.Value()); (v == 2) != marked {
				t.Errorf("%s %s is of schema %d (marked %v)", bucket, k, v, marked)
				return
			}
		}
	}
}

// markedEvents counts the events of SOCIALSYNC_EVENTS carrying schema 2.
func markedEvents(t *testing.T, f *fleet) int {
	t.Helper()
	nc, err := nats.Connect(f.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	var n int
	for _, m := range bustest.Messages(t, js, topology.StreamEvents, "socialsync.event.>") {
		if m.Header.Get(bus.HeaderSchema) == "2" {
			n++
		}
	}
	return n
}
