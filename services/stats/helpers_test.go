package stats_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/services/stats"
)

// startWorker runs the worker until the test ends or the returned stop is
// called, and checks that Run returns nil on cancel.
func startWorker(t *testing.T, env *fleettest.Env, change ...func(*stats.Config)) (stop func()) {
	t.Helper()
	cfg := stats.Config{Config: env.Deps.Config, Concurrency: 2, Cron: "0 0 6 * * *"}
	for _, c := range change {
		c(&cfg)
	}
	w, err := stats.New(cfg, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v on cancel, want nil", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// request is an entry of the simulator's request log.
type request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

// requests returns the simulator's request log for loc.
func requests(t *testing.T, env *fleettest.Env, loc string) []request {
	t.Helper()
	var out struct {
		Requests []request `json:"requests"`
	}
	env.Admin(t, "GET", "/_sandbox/requests?location="+url.QueryEscape(loc), nil, &out)
	return out.Requests
}

// count returns how many logged requests have method and a path starting
// with prefix.
func count(reqs []request, method, prefix string) int {
	n := 0
	for _, r := range reqs {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

// statisticsCalls counts loc's statistics calls.
func statisticsCalls(t *testing.T, env *fleettest.Env, loc string) int {
	return count(requests(t, env, loc), "POST", "/social-media-posting/statistics")
}

// createLocation creates a simulator location from spec and registers it.
func createLocation(t *testing.T, env *fleettest.Env, spec map[string]any) ghlsim.LocationInfo {
	t.Helper()
	var created struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	env.Admin(t, "POST", "/_sandbox/locations", spec, &created)
	tz, _ := spec["timezone"].(string)
	l := ghlsim.LocationInfo{ID: created.ID, Token: created.Token, Timezone: tz, Name: "test " + created.ID}
	env.AddLocation(t, l)
	return l
}

// publishRaw publishes data to subject with headers (pairs), as `nats pub`
// would.
func publishRaw(t *testing.T, env *fleettest.Env, subject string, data []byte, header ...string) *jetstream.PubAck {
	t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = data
	for i := 0; i+1 < len(header); i += 2 {
		msg.Header.Set(header[i], header[i+1])
	}
	ack, err := env.JS.PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
	return ack
}

// marshal encodes m as protobuf.
func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := bus.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// streamMsgs returns the messages of stream whose subject is subject (all
// when empty).
func streamMsgs(t *testing.T, env *fleettest.Env, stream, subject string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := env.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if subject == "" || m.Subject == subject {
			out = append(out, m)
		}
	}
	return out
}

// deadLetters returns the dead letters stored so far.
func deadLetters(t *testing.T, env *fleettest.Env) []bus.DeadLetter {
	t.Helper()
	var out []bus.DeadLetter
	for _, m := range streamMsgs(t, env, bus.StreamDLQ, "") {
		dl, err := bus.ParseDeadLetter(m.Subject, m.Header, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

// waitHandled waits until the stats durable has acknowledged every
// trigger up to stream sequence seq.
func waitHandled(t *testing.T, env *fleettest.Env, seq uint64) {
	t.Helper()
	fleettest.Eventually(t, 20*time.Second, "trigger handled", func() bool {
		c, err := env.JS.Consumer(context.Background(), bus.StreamTriggers, bus.DurableStats)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(context.Background())
		return err == nil && info.AckFloor.Stream >= seq
	})
}
