package bench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// The scale benchmark of issue 18 ("Scale on one machine"): 10,000
// registered locations, 200 of them active, one process per worker
// against a real nats-server, everything on 127.0.0.1. The simulator runs
// in this process with the "empty" seed and limits out of the way, so it
// is not what is measured. The workers are started twice: once with no
// location registered (the baseline of their memory), then with all of
// them, so that the figures per 1,000 locations are the difference.

const (
	scaleLocations = 10_000
	scaleActive    = 200
	// scaleEvents post events per active location, each naming 2 of its
	// 3 tags and 2 of its contacts, fresh ones each time.
	scaleEvents   = 5
	scaleSegment  = "scale-fans"
	scaleAPIKey   = "bench-scale-api-key"
	scaleHealthN  = 5 // reads of the health page
	scaleRegister = 32
)

// scaleWorkers are the processes started, one each.
var scaleWorkers = []string{"gateway", "fetcher", "enricher", "stats", "contactsync", "automation"}

var scaleCommands = map[string]string{
	"nats-server": "github.com/nats-io/nats-server/v2",
	"socialsync":  "github.com/socialsync/socialsync/services/socialsync/cmd/socialsync",
	"fetcher":     "github.com/socialsync/socialsync/services/fetcher/cmd/fetcher",
	"enricher":    "github.com/socialsync/socialsync/services/enricher/cmd/enricher",
	"stats":       "github.com/socialsync/socialsync/services/stats/cmd/stats",
	"contactsync": "github.com/socialsync/socialsync/services/contactsync/cmd/contactsync",
	"automation":  "github.com/socialsync/socialsync/services/automation/cmd/automation",
	"gateway":     "github.com/socialsync/socialsync/services/gateway/cmd/gateway",
}

// scaleProc is one process of the benchmark's fleet.
type scaleProc struct {
	name  string
	cmd   *exec.Cmd
	out   *tailBuffer
	done  chan struct{}
	addr  string // health address of a worker
	start time.Time
}

// tailBuffer keeps the last 64 KiB a process wrote, for a failure's log.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 64<<10; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// scaleFleet is nats-server, the simulator and the worker processes.
type scaleFleet struct {
	b       *testing.B
	bin     string
	env     []string
	natsURL string
	simURL  string
	mu      sync.Mutex
	procs   []*scaleProc
}

func scaleBuild(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, pkg := range scaleCommands {
		args = append(args, pkg)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func scalePort(b *testing.B) int {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (f *scaleFleet) startProc(name string, env []string, args ...string) *scaleProc {
	f.b.Helper()
	cmd := exec.Command(filepath.Join(f.bin, name), args...)
	cmd.Env = append(append(append([]string{}, os.Environ()...), f.env...), env...)
	p := &scaleProc{name: name, cmd: cmd, out: &tailBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		f.b.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()
	return p
}

// worker starts a worker with its health server on a free port.
func (f *scaleFleet) worker(name string) *scaleProc {
	f.b.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", scalePort(f.b))
	env := []string{"SOCIALSYNC_HTTP_ADDR=" + addr}
	if name == "gateway" {
		sum := sha256.Sum256([]byte(scaleAPIKey))
		env = append(env, "SOCIALSYNC_TOKEN_KEY=", "SOCIALSYNC_GHL_CLIENT_SECRET=", "SOCIALSYNC_API_KEY_HASHES="+hex.EncodeToString(sum[:]))
	}
	p := f.startProc(name, env)
	p.addr = addr
	return p
}

func (p *scaleProc) stop(b *testing.B) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		b.Errorf("%s did not stop within 30s of SIGTERM", p.name)
	}
}

func (f *scaleFleet) stopAll() {
	f.mu.Lock()
	procs := slices.Clone(f.procs)
	f.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		select {
		case <-procs[i].done:
		default:
			procs[i].stop(f.b)
		}
	}
	if f.b.Failed() {
		for _, p := range procs {
			f.b.Logf("---- output of %s ----\n%s", p.name, tail(p.out.String(), 40))
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (f *scaleFleet) cli(args ...string) string {
	f.b.Helper()
	cmd := exec.Command(filepath.Join(f.bin, "socialsync"), args...)
	cmd.Env = append(append([]string{}, os.Environ()...), f.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.b.Fatalf("socialsync %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// procStatus returns VmRSS and VmHWM of pid in bytes.
func procStatus(pid int) (rss, hwm int64, err error) {
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %q: %w", k, v, err)
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	return rss, hwm, sc.Err()
}

// waitReady polls each worker's /readyz and returns how long each took
// from its start to its first 200.
func waitReady(b *testing.B, procs []*scaleProc, limit time.Duration) map[string]time.Duration {
	b.Helper()
	out := map[string]time.Duration{}
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for len(out) < len(procs) {
		for _, p := range procs {
			if _, ok := out[p.name]; ok {
				continue
			}
			select {
			case <-p.done:
				b.Fatalf("%s exited before it was ready:\n%s", p.name, tail(p.out.String(), 30))
			default:
			}
			res, err := client.Get("http://" + p.addr + "/readyz")
			if err != nil {
				continue
			}
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				out[p.name] = time.Since(p.start)
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("not every worker ready within %v: %v", limit, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return out
}

// activeLocation is a location that gets post events.
type activeLocation struct {
	id       string
	tags     []string // social tag ids
	contacts []string
}

// BenchmarkScale registers 10,000 locations, starts every worker as a
// process, and reports each one's time to ready and memory, the time
// until every location has its one statistics schedule, the time the
// 200 active locations' post events take, the time a segment definition's
// recomputation of every location takes, the health page's answer time
// and the bytes JetStream holds.
func BenchmarkScale(b *testing.B) {
	for b.Loop() {
		runScale(b)
	}
}

func runScale(b *testing.B) {
	ctx := context.Background()
	f := &scaleFleet{b: b, bin: scaleBuild(b)}
	b.Cleanup(f.stopAll)
	nats := f.startNATS()

	sim, err := ghlsim.New(ghlsim.Options{Seed: "empty"})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim) // 127.0.0.1
	b.Cleanup(srv.Close)
	f.simURL = srv.URL
	fleettest.Admin(b, f.simURL, http.MethodPut, "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"max": 1_000_000, "window": "10s", "daily": 1_000_000_000}}, nil)

	key := creds.NewKey()
	f.env = []string{
		"SOCIALSYNC_NATS_URL=" + f.natsURL,
		"SOCIALSYNC_GHL_BASE_URL=" + f.simURL,
		"SOCIALSYNC_TOKEN_KEY=" + key,
		"SOCIALSYNC_LOG_FORMAT=text",
		"SOCIALSYNC_SHUTDOWN_TIMEOUT=5s",
	}
	f.cli("topology", "apply")

	cfg := fleet.DefaultConfig()
	cfg.NATSURL, cfg.GHLBaseURL, cfg.TokenKey, cfg.HTTPAddr = f.natsURL, f.simURL, key, "127.0.0.1:0"
	deps, err := fleet.Connect(ctx, "bench-scale", cfg, fleet.Options{LogOutput: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { deps.Close(context.Background()) })

	// The baseline: every worker with no location registered.
	base := map[string]int64{}
	{
		var procs []*scaleProc
		for _, w := range scaleWorkers {
			procs = append(procs, f.worker(w))
		}
		b.Logf("ready with no location registered: %v", waitReady(b, procs, 60*time.Second))
		time.Sleep(3 * time.Second) // let the start-up work settle
		for _, p := range procs {
			rss, _, err := procStatus(p.cmd.Process.Pid)
			if err != nil {
				b.Fatal(err)
			}
			base[p.name] = rss
		}
		if base["nats-server"], _, err = procStatus(nats.cmd.Process.Pid); err != nil {
			b.Fatal(err)
		}
		for _, p := range procs {
			p.stop(b)
		}
	}

	// Register the locations: created in the simulator, then stored with
	// their tokens, scaleRegister at a time.
	regStart := time.Now()
	active := make([]activeLocation, scaleActive)
	all := make([]string, scaleLocations)
	var eg errgroup.Group
	eg.SetLimit(scaleRegister)
	for i := range scaleLocations {
		eg.Go(func() error {
			spec := map[string]any{"name": fmt.Sprintf("scale %05d", i), "timezone": "UTC"}
			if i < scaleActive {
				cs := make([]map[string]any, 2*scaleEvents)
				for j := range cs {
					cs[j] = map[string]any{"id": fmt.Sprintf("scale%04dc%010d", i, j)}
				}
				spec["socialTags"], spec["contacts"] = []string{"T0", "T1", "T2"}, cs
			}
			var created struct{ ID, Token string }
			if err := adminCall(ctx, f.simURL, http.MethodPost, "/_sandbox/locations", spec, &created); err != nil {
				return err
			}
			all[i] = created.ID
			if err := deps.Creds.AddPIT(ctx, creds.Location{ID: created.ID, Name: spec["name"].(string), Timezone: "UTC"}, created.Token); err != nil {
				return fmt.Errorf("register %s: %w", created.ID, err)
			}
			if i >= scaleActive {
				return nil
			}
			var d ghlsim.LocationView
			if err := adminCall(ctx, f.simURL, http.MethodGet, "/_sandbox/locations/"+created.ID, nil, &d); err != nil {
				return err
			}
			a := activeLocation{id: created.ID}
			for _, t := range d.SocialTags {
				a.tags = append(a.tags, t.ID)
			}
			for _, c := range d.Contacts {
				a.contacts = append(a.contacts, c.ID)
			}
			active[i] = a
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		b.Fatal(err)
	}
	registerTook := time.Since(regStart)

	// The fleet, with every location registered.
	var procs []*scaleProc
	byName := map[string]*scaleProc{}
	for _, w := range scaleWorkers {
		p := f.worker(w)
		procs = append(procs, p)
		byName[w] = p
	}
	fleetStart := time.Now()
	var sampling atomic.Bool
	sampling.Store(true)
	peakRSS := map[string]int64{}
	var peakMu sync.Mutex
	sampleDone := make(chan struct{})
	go func() { // VmRSS every 200 ms, beside VmHWM at the end
		defer close(sampleDone)
		for sampling.Load() {
			for _, p := range procs {
				if rss, _, err := procStatus(p.cmd.Process.Pid); err == nil {
					peakMu.Lock()
					peakRSS[p.name] = max(peakRSS[p.name], rss)
					peakMu.Unlock()
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	ready := waitReady(b, procs, 60*time.Second)

	// One statistics schedule per location.
	schedules, err := deps.JS.Stream(ctx, topology.StreamSchedules)
	if err != nil {
		b.Fatal(err)
	}
	countSchedules := func() (subjects int, msgs uint64) {
		info, err := schedules.Info(ctx, jetstream.WithSubjectFilter(topology.StatsSchedules.Filter()))
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range info.State.Subjects {
			msgs += n
		}
		return len(info.State.Subjects), msgs
	}
	fleettest.Eventually(b, 3*time.Minute, "a statistics schedule for every location", func() bool {
		n, _ := countSchedules()
		return n >= scaleLocations
	})
	scheduledTook := time.Since(fleetStart)
	if n, msgs := countSchedules(); n != scaleLocations || msgs != scaleLocations {
		b.Fatalf("statistics schedules: %d subjects holding %d messages, want %d of each", n, msgs, scaleLocations)
	}

	// The active locations' post events, all at once.
	activityStart := time.Now()
	type want struct{ contact, tag string }
	var wants []want
	var pub errgroup.Group
	pub.SetLimit(16)
	for _, a := range active {
		for e := range scaleEvents {
			tags := []string{a.tags[e%3], a.tags[(e+1)%3]}
			contacts := a.contacts[2*e : 2*e+2]
			for _, c := range contacts {
				for _, t := range tags {
					wants = append(wants, want{c, "social:t" + strconv.Itoa(slices.Index(a.tags, t))})
				}
			}
			pub.Go(func() error {
				subject, _ := topology.PostTriggers.Subject(a.id)
				postID := fmt.Sprintf("%016x%08x", e+1, slices.Index(all, a.id))
				_, err := deps.Publisher.Publish(ctx, subject, &socialsyncv1.PostEvent{
					LocationId: a.id, PostId: postID, TagIds: tags, ContactIds: contacts,
					OccurredAt: timestamppb.New(activityStart), Source: "bench", EventId: "scale:" + postID,
				})
				return err
			})
		}
	}
	if err := pub.Wait(); err != nil {
		b.Fatal(err)
	}
	fleettest.Eventually(b, 3*time.Minute, "every active location's contacts tagged", func() bool {
		got := map[string][]string{}
		for _, r := range fleettest.Requests(b, f.simURL, "") {
			if r.Status/100 != 2 {
				continue
			}
			for _, w := range r.TagWrites {
				if w.Op == "add" {
					for _, t := range w.Tags {
						got[w.ContactID] = append(got[w.ContactID], strings.ToLower(t))
					}
				}
			}
		}
		for _, w := range wants {
			if !slices.Contains(got[w.contact], w.tag) {
				return false
			}
		}
		return true
	})
	activityTook := time.Since(activityStart)

	// A segment definition: every location is recomputed.
	segFile := filepath.Join(b.TempDir(), "segments.yaml")
	if err := os.WriteFile(segFile, []byte("segments:\n  - name: "+scaleSegment+"\n    anyTags: [\"social:t0\"]\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	segStart := time.Now()
	f.cli("segments", "apply", "-f", segFile)
	segKV, err := deps.JS.KeyValue(ctx, topology.BucketSegments)
	if err != nil {
		b.Fatal(err)
	}
	fleettest.Eventually(b, 3*time.Minute, "the segment definition announced to every location", func() bool {
		_, err := segKV.Get(ctx, automation.AppliedKey(scaleSegment))
		return err == nil
	})
	segCons, err := deps.JS.Consumer(ctx, topology.StreamTriggers, topology.DurableSegments)
	if err != nil {
		b.Fatal(err)
	}
	fleettest.Eventually(b, 3*time.Minute, "every location's segments recomputed", func() bool {
		info, err := segCons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	segTook := time.Since(segStart)
	members, err := segKV.ListKeys(ctx, jetstream.MetaOnly())
	if err != nil {
		b.Fatal(err)
	}
	nMembers := 0
	for k := range members.Keys() {
		if strings.HasPrefix(k, "member.") {
			nMembers++
		}
	}
	if nMembers < scaleActive {
		b.Fatalf("%d segment members stored, want at least one per active location (%d)", nMembers, scaleActive)
	}

	// The cross-location page: its first page, a few times.
	var healthTimes []time.Duration
	for range scaleHealthN {
		req, _ := http.NewRequest(http.MethodGet, "http://"+byName["gateway"].addr+"/v1/locations/health?limit=50", nil)
		req.Header.Set("Authorization", "Bearer "+scaleAPIKey)
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var page struct {
			Items  []json.RawMessage `json:"items"`
			Counts map[string]int    `json:"counts"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		_ = res.Body.Close()
		healthTimes = append(healthTimes, time.Since(start))
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("GET /v1/locations/health: %d, %v", res.StatusCode, err)
		}
		if total := page.Counts["ok"] + page.Counts["warning"] + page.Counts["trouble"]; len(page.Items) != 50 || total != scaleLocations {
			b.Fatalf("GET /v1/locations/health: %d items, counts %v: want 50 of %d", len(page.Items), page.Counts, scaleLocations)
		}
	}
	slices.Sort(healthTimes)

	// Memory: the high-water mark and the current size of each worker.
	sampling.Store(false)
	<-sampleDone
	hwm := map[string]int64{}
	rss := map[string]int64{}
	for _, p := range procs {
		r, h, err := procStatus(p.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		rss[p.name], hwm[p.name] = r, h
	}
	natsRSS, natsHWM, _ := procStatus(nats.cmd.Process.Pid)

	// What JetStream holds.
	var total uint64
	var table strings.Builder
	streamBytes := map[string]uint64{}
	names := deps.JS.ListStreams(ctx)
	for info := range names.Info() {
		streamBytes[info.Config.Name] = info.State.Bytes
		total += info.State.Bytes
		fmt.Fprintf(&table, "  %-34s %8d msgs %12d bytes\n", info.Config.Name, info.State.Msgs, info.State.Bytes)
	}
	if err := names.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		b.Fatal(err)
	}
	b.Logf("registration of %d locations: %v; schedules complete %v after the workers started; activity %v; segment recomputation %v; health page %v",
		scaleLocations, registerTook.Round(time.Millisecond), scheduledTook.Round(time.Millisecond), activityTook.Round(time.Millisecond),
		segTook.Round(time.Millisecond), healthTimes)
	b.Logf("nats-server: VmRSS %d MB, VmHWM %d MB, baseline %d MB (+%.2f MB per 1,000 locations); JetStream holds %d bytes:\n%s",
		natsRSS>>20, natsHWM>>20, base["nats-server"]>>20, float64(natsRSS-base["nats-server"])/(1<<20)*1000/scaleLocations, total, table.String())

	mb := func(n int64) float64 { return float64(n) / (1 << 20) }
	var worstReady time.Duration
	var worstHWM int64
	for _, w := range scaleWorkers {
		worstReady, worstHWM = max(worstReady, ready[w]), max(worstHWM, hwm[w])
		b.Logf("%-12s ready %6v  VmHWM %6.1f MB  VmRSS %6.1f MB  sampled peak %6.1f MB  baseline %6.1f MB  (+%.2f MB per 1,000 locations)",
			w, ready[w].Round(time.Millisecond), mb(hwm[w]), mb(rss[w]), mb(peakRSS[w]), mb(base[w]), mb(rss[w]-base[w])*1000/scaleLocations)
		b.ReportMetric(ready[w].Seconds(), w+"-ready-s")
		b.ReportMetric(mb(hwm[w]), w+"-hwm-MB")
	}
	b.ReportMetric(worstReady.Seconds(), "worst-ready-s")
	b.ReportMetric(mb(worstHWM), "worst-hwm-MB")
	b.ReportMetric(registerTook.Seconds(), "register-s")
	b.ReportMetric(scheduledTook.Seconds(), "schedules-s")
	b.ReportMetric(activityTook.Seconds(), "activity-s")
	b.ReportMetric(segTook.Seconds(), "segments-s")
	b.ReportMetric(float64(healthTimes[len(healthTimes)/2].Microseconds())/1000, "health-p50-ms")
	b.ReportMetric(float64(healthTimes[len(healthTimes)-1].Microseconds())/1000, "health-max-ms")
	b.ReportMetric(mb(natsHWM), "nats-hwm-MB")
	b.ReportMetric(float64(total)/(1<<20), "jetstream-MB")
	b.ReportMetric(float64(streamBytes["KV_"+topology.BucketLocations])*1000/scaleLocations/1024, "locations-KiB/1000")
	b.ReportMetric(float64(streamBytes["KV_"+topology.BucketTokens])*1000/scaleLocations/1024, "tokens-KiB/1000")
	b.ReportMetric(float64(streamBytes[topology.StreamSchedules])*1000/scaleLocations/1024, "schedules-KiB/1000")
	b.ReportMetric(0, "ns/op")
}

// adminClient keeps a connection per registering goroutine.
var adminClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: scaleRegister}, Timeout: 30 * time.Second}

// adminCall calls the simulator's admin API from any goroutine.
func adminCall(ctx context.Context, simURL, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = strings.NewReader(string(data))
	}
	req, err := http.NewRequestWithContext(ctx, method, simURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := adminClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
