package automationworker_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// applySegments stores a segments file as `socialsync segments apply`
// does.
func applySegments(t *testing.T, env *fleettest.Env, yaml string) {
	t.Helper()
	segs, err := automation.ParseSegments("segments.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := automation.ApplySegments(context.Background(), env.JS, segs, false); err != nil {
		t.Fatal(err)
	}
}

// applyWorkflows stores a workflows file as `socialsync workflows apply`
// does.
func applyWorkflows(t *testing.T, env *fleettest.Env, yaml string) {
	t.Helper()
	wfs, err := automation.ParseWorkflows("workflows.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := automation.ApplyWorkflows(context.Background(), env.JS, wfs, false); err != nil {
		t.Fatal(err)
	}
}

// segmentEvents returns loc's SegmentChanged events.
func segmentEvents(t *testing.T, env *fleettest.Env, loc string) []*socialsyncv1.SegmentChanged {
	t.Helper()
	var out []*socialsyncv1.SegmentChanged
	for _, m := range bustest.Messages(t, env.JS, topology.StreamEvents, "socialsync.event.segment."+loc) {
		var ev socialsyncv1.SegmentChanged
		if err := bus.Unmarshal(m.Header, m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, &ev)
	}
	return out
}

// countSegmentEvents counts loc's events for contact, segment and change.
func countSegmentEvents(t *testing.T, env *fleettest.Env, loc, contact, segment string, change socialsyncv1.SegmentChange) int {
	t.Helper()
	n := 0
	for _, ev := range segmentEvents(t, env, loc) {
		if ev.GetContactId() == contact && ev.GetSegment() == segment && ev.GetChange() == change {
			n++
		}
	}
	return n
}

// publishEvent publishes an event message to family's subject of loc and
// returns its stream sequence.
func publishEvent(t *testing.T, env *fleettest.Env, family bus.Family, loc string, m proto.Message) uint64 {
	t.Helper()
	subject, err := family.Subject(loc)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := env.Deps.Publisher.Publish(context.Background(), subject, m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// waitEventsHandled waits until the workflows durable has acked
// everything up to stream sequence seq.
func waitEventsHandled(t *testing.T, env *fleettest.Env, seq uint64) {
	t.Helper()
	fleettest.Eventually(t, 30*time.Second, "event handled", func() bool {
		return bustest.ConsumerInfo(t, env.JS, topology.StreamEvents, topology.DurableWorkflows).AckFloor.Stream >= seq
	})
}

// hookAllowance is the allow-list that lets webhooks reach the test
// receivers on 127.0.0.1, over http: it names their address as an
// operator names an in-cluster receiver's CIDR.
const hookAllowance = "127.0.0.1/32"

// hook is a webhook receiver on 127.0.0.1 that checks signatures.
type hook struct {
	url    string
	secret []byte
	mu     sync.Mutex
	bodies [][]byte
	bad    int
	status int
}

func newHook(t *testing.T, secret string, status int) *hook {
	t.Helper()
	h := &hook{secret: []byte(secret), status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := automation.Verify(h.secret, r.Header.Get(automation.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
			h.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.bodies = append(h.bodies, body)
		w.WriteHeader(h.status)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/hooks/T0123/secret-path"
	return h
}

func (h *hook) calls() (good, bad int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies), h.bad
}

// secretsDir writes secrets (name, value pairs) into a new directory.
func secretsDir(t *testing.T, kv ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := os.WriteFile(filepath.Join(dir, kv[i]), []byte(kv[i+1]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// subscribe collects the messages published on subject (plain NATS).
func subscribe(t *testing.T, env *fleettest.Env, subject string) func() []*nats.Msg {
	t.Helper()
	nc, err := nats.Connect(env.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var mu sync.Mutex
	var got []*nats.Msg
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return func() []*nats.Msg {
		mu.Lock()
		defer mu.Unlock()
		return append([]*nats.Msg(nil), got...)
	}
}

// customValue returns loc's custom value name in the simulator.
func customValue(t *testing.T, env *fleettest.Env, loc, name string) (string, bool) {
	t.Helper()
	l := env.Location(t, loc)
	for _, cv := range l.CustomValues {
		if cv.Name == name {
			return cv.Value, true
		}
	}
	return "", false
}

func timestamp(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// waitRecomputed waits until the segments durable has handled at least n
// recomputations and has none left.
func waitRecomputed(t *testing.T, env *fleettest.Env, n uint64) {
	t.Helper()
	fleettest.Eventually(t, 20*time.Second, "segment recomputations", func() bool {
		ci := bustest.ConsumerInfo(t, env.JS, topology.StreamTriggers, topology.DurableSegments)
		return ci.Delivered.Consumer >= n && ci.NumPending == 0 && ci.NumAckPending == 0
	})
}
