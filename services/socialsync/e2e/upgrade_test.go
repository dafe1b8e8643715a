package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// upgradeWorkers are the workers of the previous release (v0.1.0 had
// all six): TestRollingUpgrade runs each of them old and new.
var upgradeWorkers = []string{"fetcher", "enricher", "stats", "contactsync", "automation", "gateway"}

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
// tree (git archive), with the module cache and the go.work it carries,
// once per release commit and Go version: the binaries are kept in the
// user's cache directory (linking six binaries takes a minute on a loaded
// machine). It fails when they cannot be built, but in a shallow clone,
// which does not hold the release.
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
	commit, err := exec.Command("git", "-C", root, "rev-parse", rev+"^{commit}").Output()
	if err != nil {
		t.Fatalf("the previous release %s (%s) is not in this clone: %v", name, rev, err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir = filepath.Join(cache, "socialsync-e2e", "previous-"+strings.TrimSpace(string(commit))+"-"+runtime.Version())
	if built(dir) {
		return dir, name
	}
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
	bin := filepath.Join(src, "bin")
	args := []string{"build", "-buildvcs=false", "-trimpath", "-o", bin + string(os.PathSeparator)}
	for _, w := range upgradeWorkers {
		args = append(args, "./services/"+w+"/cmd/"+w)
	}
	build := exec.Command("go", args...)
	build.Dir = src
	build.Env = append(os.Environ(), "GOWORK="+filepath.Join(src, "go.work"), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the workers of %s (%s): %v\n%s", name, rev, err, out)
	}
	// Renamed whole into place: another test binary building the same
	// release at once finds either nothing or every binary.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err == nil {
		if err := os.Rename(bin, dir); err == nil || built(dir) {
			return dir, name
		}
	}
	return bin, name
}

// built reports whether dir holds every binary of upgradeWorkers.
func built(dir string) bool {
	for _, w := range upgradeWorkers {
		if st, err := os.Stat(filepath.Join(dir, w)); err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
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

// startReady starts the worker binaries names of dir and waits until
// each answers /readyz with 200, alive. A worker that exits because its
// health port, free when picked, was taken meanwhile (other processes
// share the machine) is started again on another one.
func (f *fleet) startReady(dir string, names ...string) []*proc {
	f.t.Helper()
	ps := make([]*proc, len(names))
	for i, name := range names {
		ps[i] = f.startFrom(dir, name)
	}
	for i, p := range ps {
		for attempt := 1; ; attempt++ {
			if ready(f.t, p) {
				break
			}
			if !strings.Contains(p.out.String(), "address already in use") || attempt == 3 {
				f.t.Fatalf("%s of %s exited before it was ready:\n%s", p.name, dir, tail(p.out.String(), 20))
			}
			p = f.startFrom(dir, p.name)
			ps[i] = p
		}
	}
	return ps
}

// ready waits until p answers /readyz with 200 while running: true; false
// when p exited first.
func ready(t *testing.T, p *proc) bool {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-p.done:
			return false
		default:
		}
		if res, err := http.Get("http://" + p.addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				select {
				case <-p.done: // another process's port
					return false
				default:
					return true
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s at %s not ready after 90s", p.name, p.addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRollingUpgrade runs every worker of the previous release (built
// from the last release's tree: fetcher, enricher, stats, contactsync,
// automation and the gateway) and this release's side by side against one
// NATS while work flows through each, through a whole upgrade: the old
// fleet alone; old and new replicas together; a rollback to the old ones
// alone (they read what the new ones wrote); the roll forward, one old
// process stopped at each post event; then `socialsync migrate`, after
// which records and messages carry schema 2. Each phase sends post
// triggers (through the CLI and through the live gateways in turn, old and
// new), asks for the details of a tag through a gateway, for statistics
// through another, and every contact posted joins a segment (the
// automation worker's path): every contact gets its tags and its segment's,
// every tag its details (read back through every live gateway), every
// statistics request its stored and published snapshot, nothing is
// dead-lettered, and no contact tag is written twice but for one an old
// replica stopping mid-message may send again.
func TestRollingUpgrade(t *testing.T) {
	oldBin, release := buildPrevious(t)
	t.Logf("previous release: %s", release)
	f := newFleet(t)
	d := f.firstLocation()
	f.register(d)
	f.admin(http.MethodPut, "/_sandbox/faults", map[string]any{"latencyMs": 30}, nil)
	const apiKey = "upgrade-api-key"
	hash := sha256.Sum256([]byte(apiKey))
	f.env = append(f.env, "SOCIALSYNC_API_KEY_HASHES="+hex.EncodeToString(hash[:]),
		// While v0.1.0 replicas run, this release writes the rate budgets
		// in the version v0.1.0 reads (docs/operations.md); v0.1.0 ignores
		// the variable.
		"SOCIALSYNC_RATE_PREVIOUS_BUDGETS=true")

	// The automation worker's path: a segment of the seed's tags, which
	// every contact posted joins (segment:upgrade-fans).
	var anyTags []string
	for _, tag := range d.SocialTags {
		anyTags = append(anyTags, fmt.Sprintf("%q", "social:"+strings.ToLower(tag.Tag)))
	}
	segFile := filepath.Join(t.TempDir(), "segments.yaml")
	if err := os.WriteFile(segFile, []byte("segments:\n  - name: upgrade-fans\n    anyTags: ["+strings.Join(anyTags, ", ")+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.cli("segments", "apply", "-f", segFile, "--nats", f.natsURL)
	const segmentTag = "segment:upgrade-fans"

	nc, err := nats.Connect(f.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	history, err := js.KeyValue(context.Background(), topology.BucketStatsHistory)
	if err != nil {
		t.Fatal(err)
	}

	// gateways are the gateways running, old and new; requests go to each
	// in turn.
	var gateways []*proc
	var requests int
	gateway := func() *proc {
		t.Helper()
		if len(gateways) == 0 {
			t.Fatal("no gateway running")
		}
		requests++
		return gateways[requests%len(gateways)]
	}

	expected := map[string][]string{}
	var posts int
	// phase publishes n post triggers, each carrying a tag created for the
	// phase (new to the catalogue: the fetcher and the enricher have work)
	// and one of the seed's, for two contacts; asks for the phase tag's
	// details and for statistics through the gateways; and waits for all of
	// it to be done.
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
			tags := []string{tag.ID, seed.ID}
			if posts%3 == 0 {
				f.post(d.ID, tags, contacts)
			} else {
				var p struct {
					ID string `json:"_id"`
				}
				f.admin(http.MethodPost, "/_sandbox/locations/"+d.ID+"/posts", map[string]any{"tags": tags, "platform": "facebook"}, &p)
				gatewayTrigger(t, gateway(), apiKey, d.ID, "post", map[string]any{"postId": p.ID, "tagIds": tags, "contactIds": contacts, "eventId": "upgrade:" + p.ID})
			}
			for _, c := range contacts {
				expected[c] = append(expected[c], "social:"+strings.ToLower(tag.Tag), "social:"+strings.ToLower(seed.Tag), segmentTag)
			}
			posts++
			if during != nil {
				during(i)
			}
		}
		gatewayTrigger(t, gateway(), apiKey, d.ID, "tagdetails", map[string]any{"tagIds": []string{tag.ID}, "eventId": "upgrade-details-" + name})
		statsID := "upgrade-stats-" + name
		gatewayTrigger(t, gateway(), apiKey, d.ID, "stats", map[string]any{"eventId": statsID})
		// While old and new replicas share the location's rate budget, the
		// calls come in bursts a window apart (docs/operations.md,
		// "Upgrading from v0.1.0"): a minute on a quiet machine.
		eventually(t, 240*time.Second, "every contact tag of the phase "+name, func() bool {
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
		eventually(t, 120*time.Second, "the statistics of the phase "+name+" stored and published", func() bool {
			return statsRun(t, history, d.ID, "event:"+statsID)
		})
		// What the workers stored, read through every live gateway: the
		// phase tag with its details and its posts' contacts, the day's
		// statistics.
		for _, gw := range gateways {
			eventually(t, 60*time.Second, "the phase tag "+tag.ID+" with its details through the "+gw.name+" at "+gw.addr, func() bool {
				var got struct {
					Contacts int `json:"contacts"`
					Details  *struct {
						Deleted bool `json:"deleted"`
					} `json:"details"`
				}
				return gatewayGet(t, gw, apiKey, "/v1/locations/"+d.ID+"/tags/"+tag.ID, &got) && got.Details != nil && got.Contacts > 0
			})
			var stats struct {
				Items []json.RawMessage `json:"items"`
			}
			if !gatewayGet(t, gw, apiKey, "/v1/locations/"+d.ID+"/stats", &stats) || len(stats.Items) == 0 {
				t.Errorf("no statistics through the gateway at %s: %+v", gw.addr, stats)
			}
		}
	}
	startAll := func(dir string) []*proc {
		ps := f.startReady(dir, upgradeWorkers...)
		for _, p := range ps {
			if p.name == "gateway" {
				gateways = append(gateways, p)
			}
		}
		return ps
	}
	stop := func(p *proc) {
		gateways = slices.DeleteFunc(gateways, func(g *proc) bool { return g == p })
		p.stop(t)
	}

	old := startAll(oldBin)
	phase("old", 4, nil)

	newer := startAll(f.bin)
	phase("mixed", 6, nil)
	checkMarks(t, f, false)

	// Rollback: the new processes go, the old ones read what they wrote.
	for _, p := range newer {
		stop(p)
	}
	phase("rollback", 4, nil)

	// Roll forward: one old process stopped at each event.
	newer = startAll(f.bin)
	var rolled time.Time
	phase("roll", len(old), func(i int) {
		stop(old[i])
		rolled = time.Now()
	})

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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dlq, err := js.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := dlq.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Errorf("dead letters: %v (%v); want none", info.State.Msgs, err)
		t.Log(f.cli("dlq", "list", "--nats", f.natsURL))
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
	// This release wrote the rate budgets in the version v0.1.0 reads: an
	// old replica that could not read one would have counted its
	// location's window as full and paced every replica.
	var unreadable int
	for _, p := range old {
		unreadable += strings.Count(p.out.String(), "undecodable rate budget")
	}
	if unreadable > 0 {
		t.Errorf("the previous release's processes found %d rate budgets they could not read", unreadable)
	}
	t.Logf("%d posts, %d contact tag writes, %d gateway requests; the fleet ran %v", posts, len(f.writes(d.ID)), requests, time.Since(began).Round(time.Second))
}

// gatewayTrigger publishes a trigger through a gateway's API
// (POST /v1/locations/{loc}/triggers/{kind}) and fails unless it is
// accepted. An answer of 429 or 5xx (JetStream slow to acknowledge on a
// loaded machine) is asked again, up to five times: the trigger's eventId
// makes the same message.
func gatewayTrigger(t *testing.T, gw *proc, apiKey, loc, kind string, body any) {
	t.Helper()
	data, _ := json.Marshal(body)
	for attempt := 1; ; attempt++ {
		req, _ := http.NewRequest(http.MethodPost, "http://"+gw.addr+"/v1/locations/"+loc+"/triggers/"+kind, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("trigger %s through the gateway at %s: %v", kind, gw.addr, err)
		}
		answer, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case res.StatusCode == http.StatusAccepted:
			return
		case (res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500) && attempt < 5:
			time.Sleep(time.Second)
		default:
			t.Fatalf("trigger %s through the gateway at %s: %s: %s", kind, gw.addr, res.Status, answer)
		}
	}
}

// gatewayGet reads path from a gateway's API into out; false unless it
// answers 200 with JSON.
func gatewayGet(t *testing.T, gw *proc, apiKey, path string, out any) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+gw.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	return res.StatusCode == http.StatusOK && json.NewDecoder(res.Body).Decode(out) == nil
}

// statsRun reports whether the statistics history of loc holds a
// snapshot of the request trigger, published.
func statsRun(t *testing.T, history jetstream.KeyValue, loc, trigger string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := history.ListKeys(ctx, jetstream.MetaOnly())
	if err != nil {
		return false
	}
	for k := range keys.Keys() {
		if !strings.HasPrefix(k, loc+".") {
			continue
		}
		e, err := history.Get(ctx, k)
		if err != nil {
			continue
		}
		var rec struct {
			Trigger   string `json:"trigger"`
			Published bool   `json:"published"`
		}
		if json.Unmarshal(e.Value(), &rec) == nil && rec.Trigger == trigger && rec.Published {
			return true
		}
	}
	return false
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
