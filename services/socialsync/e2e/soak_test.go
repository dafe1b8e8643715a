package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/topology"
)

// The soak's settings. The budget is HighLevel's real one (the workers'
// defaults), so the drain time is judged against production's pace.
const (
	soakLocations   = 5
	soakReplicas    = 2
	soakRateMax     = 100
	soakRateWindow  = 10 * time.Second
	soakKillEvery   = 5 * time.Second
	soakNATSOutage  = 6 * time.Second
	soakUndecodable = 10
	soakUnknownTags = 5
	soakDeletedTags = 10 // post events carrying the tag deleted in HighLevel
	soakConcurrency = 4  // SOCIALSYNC_CONTACTSYNC_CONCURRENCY (the default)
	soakContacts    = 2  // contacts per post event
	soakMaxTags     = 2  // live tags per post event
	soakSenders     = 8
)

// TestSoak is the soak `make soak` runs (SOCIALSYNC_SOAK=1): post events
// through the signed webhook and straight into NATS, duplicated, repeated
// under new ids, carrying deleted and never-known tags and poison, while
// HighLevel fails now and then, a worker replica is SIGKILLed every five
// seconds and NATS (the stream leader of SOCIALSYNC_TRIGGERS on a cluster)
// is SIGKILLed once. Nothing may be lost, nothing written twice but what a
// kill explains, no location may exceed its window. See docs/soak.md.
//
// SOCIALSYNC_SOAK_CLUSTER=3 runs it against three clustered nats-servers
// with every stream, consumer and bucket at three replicas;
// SOCIALSYNC_SOAK_EVENTS sets the number of post events (default 1000) and
// SOCIALSYNC_SOAK_SEND how long sending them takes (default 90s).
func TestSoak(t *testing.T) {
	if os.Getenv("SOCIALSYNC_SOAK") != "1" {
		t.Skip("the soak runs with `make soak` (SOCIALSYNC_SOAK=1)")
	}
	nodes := envInt(t, "SOCIALSYNC_SOAK_CLUSTER", 1)
	events := envInt(t, "SOCIALSYNC_SOAK_EVENTS", 1000)
	sendFor := envDuration(t, "SOCIALSYNC_SOAK_SEND", 90*time.Second)
	if nodes != 1 && nodes != 3 {
		t.Fatalf("SOCIALSYNC_SOAK_CLUSTER: want 1 or 3, got %d", nodes)
	}

	s := newSoak(t, nodes)
	if s.natsCLI != "" {
		t.Logf("publishing to NATS with the nats CLI (%s)", s.natsCLI)
	} else {
		t.Logf("publishing to NATS with nats.go (no nats CLI on PATH)")
	}
	s.prepare()
	plan := s.plan(events)
	s.startFleet()

	start := time.Now()
	stopChaos := s.chaos(start.Add(sendFor * 2 / 5))
	deleted := make(chan struct{})
	go func() { defer close(deleted); s.deleteTags(start.Add(sendFor / 3)) }()
	s.send(plan, sendFor)
	<-deleted
	sent := time.Since(start)
	t.Logf("sent %d post events (%d sends, %d via the webhook, %d through NATS), %d undecodable, %d stats triggers in %v",
		events, len(plan.sends), s.viaWebhook.Load(), s.viaNATS.Load(), soakUndecodable, s.statsSent.Load(), sent.Round(time.Millisecond))

	drained := s.waitTags(start, 5*time.Minute)
	drain := drained.Sub(start)
	kills, natsKills := stopChaos()
	s.waitSettled(2 * time.Minute)

	s.checkTags()
	s.checkDeadLetters()
	dupAdds := s.checkWrites(kills + natsKills)
	calls, minDrain := s.checkWindow()
	s.checkLogs()
	s.checkAlive()
	s.checkWaited(natsKills)

	t.Logf("SOAK FIGURES (nats nodes %d): %d post events, %d worker kills+restarts, %d nats-server kill(s); "+
		"duplicate adds %d (bound %d); HighLevel calls %d = %.2f per event; drain %v vs theoretical minimum %v at %d/%v (%.2fx); sending took %v",
		nodes, events, kills, natsKills, dupAdds, (kills+natsKills)*soakBatch, calls, float64(calls)/float64(events),
		drain.Round(100*time.Millisecond), minDrain.Round(100*time.Millisecond), soakRateMax, soakRateWindow,
		drain.Seconds()/minDrain.Seconds(), sent.Round(100*time.Millisecond))
}

// soakBatch is the most contact tag adds one replica has in flight when it
// dies: its concurrent post events times each one's adds.
const soakBatch = soakConcurrency * soakContacts * soakMaxTags

// saveLogs writes every process's output to dir, one file per process.
func (f *fleet) saveLogs(dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Log(err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, p := range f.procs {
		name := fmt.Sprintf("%s/%03d-%s.log", dir, i, p.name)
		if err := os.WriteFile(name, []byte(p.out.String()), 0o644); err != nil {
			f.t.Log(err)
		}
	}
	f.t.Logf("process logs in %s", dir)
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s: want a positive integer, got %q", name, v)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s: want a positive duration, got %q", name, v)
	}
	return d
}

// natsNode is one nats-server of the soak, restarted with the same
// arguments (port, store directory, routes).
type natsNode struct {
	name string
	args []string
	addr string
	mu   sync.Mutex
	proc *proc
}

// soak is the state of one soak run.
type soak struct {
	t       *testing.T
	f       *fleet
	nodes   []*natsNode
	secret  string
	apiKey  string
	gwAddr  string
	natsCLI string // the nats CLI's path, or empty to publish with nats.go

	locs    []ghlsim.LocationView
	deleted map[string]string // location → the live tag deleted in HighLevel before the run
	unknown map[string]string // never-known tag id → location
	initial map[string]map[string][]string

	mu       sync.Mutex
	expected map[string]map[string]map[string]bool // location → contact → contact tag
	badIDs   map[string]string                     // undecodable message id → location

	workers map[string][]*proc
	wmu     sync.Mutex

	nc         *nats.Conn
	js         jetstream.JetStream
	viaWebhook atomic.Int64
	viaNATS    atomic.Int64
	statsSent  atomic.Int64
}

func newSoak(t *testing.T, n int) *soak {
	t.Helper()
	f := &fleet{t: t, bin: build(t)}
	// Cleanups run last first: the processes stop, then their logs are
	// kept.
	if dir := os.Getenv("SOCIALSYNC_SOAK_LOGS"); dir != "" {
		t.Cleanup(func() { f.saveLogs(dir) })
	}
	t.Cleanup(f.stopAll)
	s := &soak{t: t, f: f, workers: map[string][]*proc{}, deleted: map[string]string{}, unknown: map[string]string{},
		expected: map[string]map[string]map[string]bool{}, badIDs: map[string]string{}}
	clientPorts := make([]int, n)
	routePorts := make([]int, n)
	for i := range n {
		clientPorts[i], routePorts[i] = freePort(t), freePort(t)
	}
	var urls []string
	for i := range n {
		node := &natsNode{name: fmt.Sprintf("soak-%d", i+1), addr: fmt.Sprintf("127.0.0.1:%d", clientPorts[i])}
		node.args = []string{"-a", "127.0.0.1", "-p", fmt.Sprint(clientPorts[i]), "-n", node.name, "-js", "-sd", t.TempDir()}
		if n > 1 {
			var routes []string
			for j := range n {
				if j != i {
					routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[j]))
				}
			}
			node.args = append(node.args, "--cluster_name", "soak", "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]),
				"--routes", strings.Join(routes, ","))
		}
		node.proc = f.start("nats-server", nil, node.args...)
		s.nodes = append(s.nodes, node)
		urls = append(urls, "nats://"+node.addr)
	}
	for _, node := range s.nodes {
		waitTCP(t, node.addr)
	}
	f.natsURL = strings.Join(urls, ",")

	simPort := freePort(t)
	f.simURL = fmt.Sprintf("http://127.0.0.1:%d", simPort)
	f.start("socialsync", nil, "sandbox", "--listen", fmt.Sprintf("127.0.0.1:%d", simPort), "--seed", "demo")
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", simPort))

	s.secret = randomHex(t, 24)
	s.apiKey = randomHex(t, 24)
	sum := sha256.Sum256([]byte(s.apiKey))
	f.env = []string{
		"SOCIALSYNC_NATS_URL=" + f.natsURL,
		"SOCIALSYNC_GHL_BASE_URL=" + f.simURL,
		"SOCIALSYNC_TOKEN_KEY=" + creds.NewKey(),
		"SOCIALSYNC_LOG_FORMAT=text",
		"SOCIALSYNC_SHUTDOWN_TIMEOUT=5s",
		fmt.Sprintf("SOCIALSYNC_STREAM_REPLICAS=%d", n),
		fmt.Sprintf("SOCIALSYNC_RATE_MAX=%d", soakRateMax),
		"SOCIALSYNC_RATE_WINDOW=" + soakRateWindow.String(),
		fmt.Sprintf("SOCIALSYNC_CONTACTSYNC_CONCURRENCY=%d", soakConcurrency),
		"SOCIALSYNC_WEBHOOK_SECRET=" + s.secret,
		"SOCIALSYNC_API_KEY_HASHES=" + hex.EncodeToString(sum[:]),
	}
	if p, err := exec.LookPath("nats"); err == nil {
		s.natsCLI = p
	}

	nc, err := nats.Connect(f.natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s.nc = nc
	if s.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "JetStream available", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := s.js.AccountInfo(ctx)
		return err == nil
	})
	// The operator step: the workers wait, not ready, until it has run.
	f.cli("topology", "apply")
	return s
}

// prepare registers the locations, picks the tag of each to delete,
// remembers the contacts' tags and turns HighLevel's faults on.
func (s *soak) prepare() {
	f := s.f
	s.locs = f.locations(soakLocations)
	for i, d := range s.locs {
		f.register(d)
		// The last tag is deleted in HighLevel once the fleet has
		// fetched the catalogue (deleteTags); no other event uses it.
		s.deleted[d.ID] = d.SocialTags[len(d.SocialTags)-1].ID
		s.locs[i].SocialTags = d.SocialTags[:len(d.SocialTags)-1]
	}
	s.initial = map[string]map[string][]string{}
	for _, d := range s.locs {
		s.initial[d.ID] = contactTags(d)
	}
	f.admin(http.MethodPut, "/_sandbox/faults", map[string]any{
		"rate429": 0.10, "rate500": 0.05, "timeoutRate": 0.02, "resetRate": 0.01, "seed": 13}, nil)
}

// startFleet starts the gateway and the worker replicas.
func (s *soak) startFleet() {
	gw := s.f.worker("gateway")
	s.gwAddr = gw.addr
	for range soakReplicas {
		for _, w := range []string{"fetcher", "enricher", "stats", "contactsync", "automation"} {
			s.workers[w] = append(s.workers[w], s.f.worker(w))
		}
	}
	eventually(s.t, 60*time.Second, "the gateway ready", func() bool {
		res, err := http.Get("http://" + s.gwAddr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// deleteTags deletes the picked tag of every location in HighLevel once
// the fleet's stored catalogue holds it (the first post events ask for a
// fetch; the gateway reads the catalogue): the fleet knew the tag, and
// learns of its deletion from a later fetch. It runs beside the senders, so it
// reports errors without stopping the test.
func (s *soak) deleteTags(deadline time.Time) {
	for _, d := range s.locs {
		for held := false; !held; {
			if time.Now().After(deadline) {
				s.t.Errorf("the catalogue of %s did not hold tag %s by %v", d.ID, s.deleted[d.ID], deadline.Format(time.StampMilli))
				return
			}
			time.Sleep(200 * time.Millisecond)
			req, _ := http.NewRequest(http.MethodGet, "http://"+s.gwAddr+"/v1/locations/"+d.ID+"/tags/"+s.deleted[d.ID], nil)
			req.Header.Set("Authorization", "Bearer "+s.apiKey)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			res.Body.Close()
			held = res.StatusCode == http.StatusOK
		}
		if err := s.admin(http.MethodDelete, "/_sandbox/locations/"+d.ID+"/socialTags/"+s.deleted[d.ID], nil); err != nil {
			s.t.Error(err)
			return
		}
	}
}

// admin calls the simulator's admin API, returning what went wrong.
func (s *soak) admin(method, path string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, s.f.simURL+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s", method, path, res.Status)
	}
	if out != nil {
		return json.NewDecoder(res.Body).Decode(out)
	}
	return nil
}

// soakSend is one delivery of a post event, or of an undecodable message
// (bad set).
type soakSend struct {
	loc     string
	eventID string
	body    []byte
	webhook bool
	bad     bool
}

type soakPlan struct {
	sends []soakSend
}

// plan draws the post events and their expected contact tags.
func (s *soak) plan(events int) soakPlan {
	rng := rand.New(rand.NewPCG(1, 13))
	slots := make([][]soakSend, events+200)
	for i := range events {
		d := s.locs[i%len(s.locs)]
		var tags []string
		for _, k := range rng.Perm(len(d.SocialTags))[:1+rng.IntN(soakMaxTags)] {
			tags = append(tags, d.SocialTags[k].ID)
		}
		var contacts []string
		for _, k := range rng.Perm(len(d.Contacts))[:soakContacts] {
			contacts = append(contacts, d.Contacts[k].ID)
		}
		s.expect(d, tags, contacts)
		special := false
		// The deleted tag rides in the second half, once the fleet has
		// refetched the catalogues since the deletion; the never-known
		// ones anywhere. Both on every location in turn.
		if i >= events/2 && (i/len(s.locs))%(events/2/soakDeletedTags) == 3 {
			tags = append(tags, s.deleted[d.ID])
		}
		if (i/len(s.locs))%(events/soakUnknownTags) == 7 {
			id := fmt.Sprintf("soakunknown%dtag", i)
			s.unknown[id] = d.ID
			tags = append(tags, id)
			special = true
		}
		eventID := fmt.Sprintf("soak-%d", i)
		body, _ := json.Marshal(map[string]any{"locationId": d.ID, "postId": fmt.Sprintf("soak-post-%d", i),
			"tagIds": tags, "contactIds": contacts, "eventId": eventID})
		send := soakSend{loc: d.ID, eventID: eventID, body: body, webhook: i%2 == 0}
		slots[i] = append(slots[i], send)
		if special {
			continue
		}
		if i%10 == 3 { // the same event again, same id, soon after
			j := i + 1 + rng.IntN(20)
			slots[j] = append(slots[j], send)
		}
		if i%20 == 11 { // the same post again under a new event id, later
			again := send
			again.eventID += "-again"
			again.body, _ = json.Marshal(map[string]any{"locationId": d.ID, "postId": fmt.Sprintf("soak-post-%d", i),
				"tagIds": tags, "contactIds": contacts, "eventId": again.eventID})
			again.webhook = !send.webhook
			j := i + 100 + rng.IntN(100)
			slots[j] = append(slots[j], again)
		}
	}
	for k := range soakUndecodable {
		d := s.locs[k%len(s.locs)]
		id := fmt.Sprintf("soak-bad-%d", k)
		s.badIDs[id] = d.ID
		i := (k*events)/soakUndecodable + 5
		slots[i] = append(slots[i], soakSend{loc: d.ID, eventID: id, bad: true,
			body: []byte(fmt.Sprintf(`{"locationId":%q,"postId":"soak-bad-%d","tagIds":[`, d.ID, k))})
	}
	var plan soakPlan
	for _, sl := range slots {
		plan.sends = append(plan.sends, sl...)
	}
	return plan
}

// expect records the contact tags a post event's live tags must leave.
func (s *soak) expect(d ghlsim.LocationView, tags, contacts []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expected[d.ID] == nil {
		s.expected[d.ID] = map[string]map[string]bool{}
	}
	for _, c := range contacts {
		if s.expected[d.ID][c] == nil {
			s.expected[d.ID][c] = map[string]bool{}
		}
		for _, id := range tags {
			for _, tg := range d.SocialTags {
				if tg.ID == id {
					s.expected[d.ID][c]["social:"+strings.ToLower(tg.Tag)] = true
				}
			}
		}
	}
}

// send delivers the plan's messages, paced over sendFor by soakSenders
// senders, with statistics triggers for every location on the way.
func (s *soak) send(plan soakPlan, sendFor time.Duration) {
	work := make(chan soakSend)
	var wg sync.WaitGroup
	for range soakSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				switch {
				case m.webhook && !m.bad:
					s.sendWebhook(m)
					s.viaWebhook.Add(1)
				default:
					s.publish(fmt.Sprintf("socialsync.trigger.post.%s", m.loc), m.eventID, m.body)
					s.viaNATS.Add(1)
				}
			}
		}()
	}
	every := sendFor / time.Duration(len(plan.sends))
	tick := time.NewTicker(every)
	defer tick.Stop()
	statsEvery := len(plan.sends) / 4
	for i, m := range plan.sends {
		<-tick.C
		work <- m
		if i%statsEvery == 0 {
			for _, d := range s.locs {
				s.publish("socialsync.trigger.stats."+d.ID, "", []byte(fmt.Sprintf(`{"locationId":%q}`, d.ID)))
				s.statsSent.Add(1)
			}
		}
	}
	close(work)
	wg.Wait()
}

// sendWebhook posts a signed event as a real sender would: a 429, 503,
// other 5xx or a transport error is retried after Retry-After (or a
// second); 200 (duplicate) and 202 end it; anything else is an error.
func (s *soak) sendWebhook(m soakSend) {
	client := &http.Client{Timeout: 15 * time.Second}
	deadline := time.Now().Add(3 * time.Minute)
	for attempt := 1; ; attempt++ {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte(s.secret))
		mac.Write([]byte(ts + "." + string(m.body)))
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.gwAddr+"/v1/webhooks/posts", bytes.NewReader(m.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Socialsync-Signature", "t="+ts+",v1="+hex.EncodeToString(mac.Sum(nil)))
		res, err := client.Do(req)
		wait := time.Second
		if err == nil {
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(res.Body)
			res.Body.Close()
			switch {
			case res.StatusCode == http.StatusOK || res.StatusCode == http.StatusAccepted:
				return
			case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
				if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && ra > 0 {
					wait = min(time.Duration(ra)*time.Second, 5*time.Second)
				}
			default:
				s.t.Errorf("webhook %s: %s: %s", m.eventID, res.Status, buf.String())
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Errorf("webhook %s: still refused after %d attempts (last: %v)", m.eventID, attempt, err)
			return
		}
		time.Sleep(wait)
	}
}

// publish stores a JSON message in JetStream as an outside system would,
// with the nats CLI when it is installed, retrying until the server
// acknowledges it. msgID, when set, is its Nats-Msg-Id.
func (s *soak) publish(subject, msgID string, body []byte) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var err error
		if s.natsCLI != "" {
			args := []string{"--server", s.f.natsURL, "pub", "--jetstream", "-H", "Content-Type:application/json"}
			if msgID != "" {
				args = append(args, "-H", "Nats-Msg-Id:"+msgID)
			}
			args = append(args, subject, string(body))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, cerr := exec.CommandContext(ctx, s.natsCLI, args...).CombinedOutput()
			cancel()
			if cerr != nil {
				err = fmt.Errorf("%v: %s", cerr, out)
			}
		} else {
			msg := nats.NewMsg(subject)
			msg.Header.Set("Content-Type", "application/json")
			if msgID != "" {
				msg.Header.Set(nats.MsgIdHdr, msgID)
			}
			msg.Data = body
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = s.js.PublishMsg(ctx, msg)
			cancel()
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Errorf("publish %s %s: %v", subject, msgID, err)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// chaos SIGKILLs one worker replica every soakKillEvery and starts it again,
// and at natsAt SIGKILLs the NATS node holding SOCIALSYNC_TRIGGERS' leader,
// restarting it soakNATSOutage later. The returned stop ends it and
// reports the kills.
func (s *soak) chaos(natsAt time.Time) (stop func() (kills, natsKills int)) {
	ctx, cancel := context.WithCancel(context.Background())
	var kills, natsKills int
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		kinds := []string{"contactsync", "fetcher", "enricher", "stats"}
		tick := time.NewTicker(soakKillEvery)
		defer tick.Stop()
		for k := 0; ; k++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			kind, r := kinds[k%len(kinds)], (k/len(kinds))%soakReplicas
			s.wmu.Lock()
			s.workers[kind][r].kill()
			s.workers[kind][r] = s.f.worker(kind)
			s.wmu.Unlock()
			kills++
		}
	}()
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(natsAt)):
		}
		node := s.triggersLeader()
		s.t.Logf("SIGKILL nats-server %s (SOCIALSYNC_TRIGGERS leader) for %v", node.name, soakNATSOutage)
		node.mu.Lock()
		node.proc.kill()
		node.mu.Unlock()
		natsKills++
		time.Sleep(soakNATSOutage)
		node.mu.Lock()
		node.proc = s.f.start("nats-server", nil, node.args...)
		node.mu.Unlock()
		waitTCP(s.t, node.addr)
	}()
	return func() (int, int) {
		cancel()
		wg.Wait()
		return kills, natsKills
	}
}

// triggersLeader returns the node leading SOCIALSYNC_TRIGGERS (the only
// node when there is one).
func (s *soak) triggersLeader() *natsNode {
	if len(s.nodes) == 1 {
		return s.nodes[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, topology.StreamTriggers)
	if err != nil {
		s.t.Fatalf("stream info %s: %v", topology.StreamTriggers, err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil {
		s.t.Fatalf("stream info %s: %v (cluster %v)", topology.StreamTriggers, err, info)
	}
	if info.Config.Replicas != len(s.nodes) {
		s.t.Errorf("%s has %d replicas, want %d", topology.StreamTriggers, info.Config.Replicas, len(s.nodes))
	}
	for _, n := range s.nodes {
		if n.name == info.Cluster.Leader {
			return n
		}
	}
	s.t.Fatalf("leader %q of %s is none of the nodes", info.Cluster.Leader, topology.StreamTriggers)
	return nil
}

// waitTags waits until every expected contact tag is in HighLevel and
// returns when it saw them all (or when it gave up, failing the test).
func (s *soak) waitTags(start time.Time, timeout time.Duration) time.Time {
	var missing int
	deadline := start.Add(timeout)
	lastReport := time.Now()
	for {
		missing = 0
		var example string
		for _, d := range s.locs {
			got := contactTags(s.f.location(d.ID))
			for c, tags := range s.expected[d.ID] {
				for tag := range tags {
					if !slices.Contains(got[c], tag) {
						missing++
						example = fmt.Sprintf("%s %s %s", d.ID, c, tag)
					}
				}
			}
		}
		if missing == 0 {
			return time.Now()
		}
		if time.Now().After(deadline) {
			// Go on: the other checks (dead letters above all) say why.
			s.t.Errorf("after %v, %d expected contact tags are missing, e.g. %s", timeout, missing, example)
			return time.Now()
		}
		if time.Since(lastReport) > 15*time.Second {
			s.t.Logf("%v: %d expected contact tags missing", time.Since(start).Round(time.Second), missing)
			lastReport = time.Now()
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitSettled waits until no consumer has a message left to deliver or to
// be acknowledged, so the dead letters and writes are final.
func (s *soak) waitSettled(timeout time.Duration) {
	var last string
	deadline := time.Now().Add(timeout)
	for {
		last = ""
		for _, c := range topology.New(topology.Options{}).Consumers {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			cons, err := s.js.Consumer(ctx, c.Stream, c.Config.Durable)
			var info *jetstream.ConsumerInfo
			if err == nil {
				info, err = cons.Info(ctx)
			}
			cancel()
			switch {
			case err != nil:
				last = fmt.Sprintf("%s/%s: %v", c.Stream, c.Config.Durable, err)
			case info.NumPending+uint64(info.NumAckPending) > 0:
				last = fmt.Sprintf("%s/%s: %d pending, %d unacknowledged", c.Stream, c.Config.Durable, info.NumPending, info.NumAckPending)
			}
			if last != "" {
				break
			}
		}
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			s.t.Errorf("consumers not settled after %v: %s", timeout, last)
			return
		}
		time.Sleep(time.Second)
	}
}

// checkTags asserts that no social: tag is on a contact that no event or
// the seed put there (the deleted tag in particular).
func (s *soak) checkTags() {
	for _, d := range s.locs {
		got := contactTags(s.f.location(d.ID))
		for c, tags := range got {
			for _, tag := range tags {
				if !strings.HasPrefix(tag, "social:") || slices.Contains(s.initial[d.ID][c], tag) || s.expected[d.ID][c][tag] {
					continue
				}
				s.t.Errorf("%s: contact %s has %s, which no post event gave it", d.ID, c, tag)
			}
		}
	}
}

// checkDeadLetters asserts exactly one dead letter per undecodable message
// and one item dead letter per never-known tag, and nothing else.
func (s *soak) checkDeadLetters() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		s.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	bad, items := map[string]int{}, map[string]int{}
	var other []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		raw, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			s.t.Fatal(err)
		}
		dl, err := bus.ParseDeadLetter(raw.Subject, raw.Header, raw.Data)
		if err != nil {
			s.t.Error(err)
			continue
		}
		tagID, isTag := strings.CutPrefix(dl.Item, "tag ")
		switch {
		case dl.Item == "" && s.badIDs[dl.MsgID] == dl.Location && dl.Worker == "contactsync":
			bad[dl.MsgID]++
		case isTag && s.unknown[tagID] == dl.Location && dl.Worker == "contactsync":
			items[tagID]++
		default:
			other = append(other, fmt.Sprintf("%s item=%q class=%s msgid=%s: %s", dl.Subject, dl.Item, dl.Class, dl.MsgID, dl.Reason))
		}
	}
	for id := range s.badIDs {
		if bad[id] != 1 {
			s.t.Errorf("undecodable %s: %d dead letters, want 1", id, bad[id])
		}
	}
	for id := range s.unknown {
		if items[id] != 1 {
			s.t.Errorf("never-known tag %s: %d item dead letters, want 1", id, items[id])
		}
	}
	if len(other) > 0 {
		s.t.Errorf("%d unexpected dead letters:\n%s", len(other), strings.Join(other, "\n"))
	}
	s.t.Logf("dead letters: %d undecodable, %d never-known tags, %d other", len(bad), len(items), len(other))
}

// checkWrites counts, from the simulator's log, contact tags added or
// removed more than once, and returns the duplicate adds.
func (s *soak) checkWrites(kills int) int {
	adds, removes := map[string]int{}, map[string]int{}
	for _, d := range s.locs {
		for _, r := range s.f.log(d.ID) {
			if r.Status/100 != 2 {
				continue
			}
			for _, w := range r.TagWrites {
				for _, tag := range w.Tags {
					key := d.ID + " " + w.ContactID + " " + strings.ToLower(tag)
					if w.Op == "add" {
						adds[key]++
					} else {
						removes[key]++
					}
				}
			}
		}
	}
	dupAdds, dupRemoves, removed := 0, 0, 0
	for _, n := range adds {
		dupAdds += n - 1
	}
	for _, n := range removes {
		dupRemoves += n - 1
		removed += n
	}
	if dupRemoves != 0 {
		s.t.Errorf("%d duplicate removals", dupRemoves)
	}
	if bound := kills * soakBatch; dupAdds > bound {
		s.t.Errorf("%d duplicate adds, more than %d kills and restarts × %d adds in flight = %d", dupAdds, kills, soakBatch, bound)
	}
	s.t.Logf("contact tag writes: %d distinct adds, %d duplicate adds, %d removals (%d duplicate)", len(adds), dupAdds, removed, dupRemoves)
	return dupAdds
}

// checkWindow asserts no location exceeded its window and no 429 came but
// the injected ones; it returns the HighLevel calls made and the shortest
// time the busiest location's calls could take at the budget.
func (s *soak) checkWindow() (calls int, minDrain time.Duration) {
	faults := map[string]int{}
	for _, d := range s.locs {
		reqs := s.f.log(d.ID)
		if dir := os.Getenv("SOCIALSYNC_SOAK_LOGS"); dir != "" {
			b, _ := json.Marshal(reqs)
			_ = os.MkdirAll(dir, 0o755)
			_ = os.WriteFile(fmt.Sprintf("%s/requests-%s.json", dir, d.ID), b, 0o644)
		}
		at := fleettest.APITimes(reqs)
		calls += len(at)
		// n calls at max per window take (n/max − 1) windows at least.
		if m := time.Duration(float64(len(at))/soakRateMax*float64(soakRateWindow)) - soakRateWindow; m > minDrain {
			minDrain = m
		}
		fullest, end := fleettest.FullestWindow(at, soakRateWindow)
		if fullest > soakRateMax {
			s.t.Errorf("%s: %d requests in the %v ending %v, allowed %d", d.ID, fullest, soakRateWindow, end.Format(time.StampMilli), soakRateMax)
		}
		limited := 0
		for _, r := range reqs {
			if r.Fault != "" {
				faults[r.Fault]++
			} else if r.Status == http.StatusTooManyRequests {
				limited++
			}
		}
		if limited > 0 {
			s.t.Errorf("%s: HighLevel's limiter answered 429 %d times", d.ID, limited)
		}
		s.t.Logf("%s: %d HighLevel calls, fullest %v window %d of %d", d.ID, len(at), soakRateWindow, fullest, soakRateMax)
	}
	s.t.Logf("injected faults: %v", faults)
	return calls, max(minDrain, 0)
}

// checkLogs asserts no process logged a location's token or a secret.
func (s *soak) checkLogs() {
	secrets := []string{s.secret, s.apiKey}
	for _, d := range s.locs {
		secrets = append(secrets, d.Token)
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	for _, p := range s.f.procs {
		if p.name == "socialsync" {
			continue // the simulator prints its demo tokens on purpose
		}
		out := p.out.String()
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				s.t.Errorf("%s logged a token or secret (%s…)", p.name, sec[:4])
			}
		}
	}
}

// checkWaited asserts that, on a single server, a worker started while
// NATS was down waited for it (saying so) instead of exiting; checkAlive
// has seen it run at the end.
func (s *soak) checkWaited(natsKills int) {
	waited := 0
	s.f.mu.Lock()
	for _, p := range s.f.procs {
		if p.name != "nats-server" && p.name != "socialsync" && strings.Contains(p.out.String(), `msg="waiting for nats"`) {
			waited++
			select {
			case <-p.done:
				if !strings.Contains(p.out.String(), `msg="nats connected"`) {
					s.t.Errorf("%s waited for NATS and exited without connecting:\n%s", p.name, tail(p.out.String(), 10))
				}
			default:
			}
		}
	}
	s.f.mu.Unlock()
	if len(s.nodes) == 1 && natsKills > 0 && waited == 0 {
		s.t.Errorf("no worker was started while nats-server was down")
	}
	s.t.Logf("%d worker processes waited for NATS at start", waited)
}

// checkAlive asserts every current worker replica and the gateway run and
// answer /healthz.
func (s *soak) checkAlive() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var procs []*proc
	for _, ps := range s.workers {
		procs = append(procs, ps...)
	}
	sort.Slice(procs, func(i, j int) bool { return procs[i].name < procs[j].name })
	for _, p := range procs {
		select {
		case <-p.done:
			s.t.Errorf("%s exited: %s", p.name, tail(p.out.String(), 20))
			continue
		default:
		}
		res, err := http.Get("http://" + p.addr + "/healthz")
		if err != nil {
			s.t.Errorf("%s /healthz: %v", p.name, err)
			continue
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			s.t.Errorf("%s /healthz: %s", p.name, res.Status)
		}
	}
}
