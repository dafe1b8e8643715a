package fetcher_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/services/fetcher"
)

// newLocation creates a simulator location with the given social tags,
// registers it, and returns its id and its tags' ids by name.
func newLocation(t testing.TB, env *fleettest.Env, tags ...string) (string, map[string]string) {
	t.Helper()
	var created struct{ ID, Token string }
	env.Admin(t, "POST", "/_sandbox/locations", map[string]any{"socialTags": tags}, &created)
	env.AddLocation(t, ghlsim.LocationInfo{ID: created.ID, Token: created.Token, Timezone: "UTC"})
	var detail struct {
		SocialTags []struct {
			ID  string `json:"_id"`
			Tag string `json:"tag"`
		} `json:"socialTags"`
	}
	env.Admin(t, "GET", "/_sandbox/locations/"+created.ID, nil, &detail)
	ids := make(map[string]string)
	for _, tag := range detail.SocialTags {
		ids[tag.Tag] = tag.ID
	}
	return created.ID, ids
}

// startWorker runs a fetcher until the test ends, and checks that Run
// returns nil on shutdown.
func startWorker(t testing.TB, env *fleettest.Env, change ...func(*fetcher.Config)) {
	t.Helper()
	cfg := fetcher.Config{
		Config:          env.Deps.Config,
		Concurrency:     4,
		RefreshInterval: time.Second,
		PollWindow:      720 * time.Hour,
	}
	for _, c := range change {
		c(&cfg)
	}
	w, err := fetcher.New(cfg, env.Deps)
	if err != nil {
		t.Fatalf("fetcher.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v on shutdown, want nil", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after shutdown")
		}
	})
}

// request is an entry of the simulator's request log.
type request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

// requests returns the simulator's request log for loc.
func requests(t testing.TB, env *fleettest.Env, loc string) []request {
	t.Helper()
	var out struct {
		Requests []request `json:"requests"`
	}
	env.Admin(t, "GET", "/_sandbox/requests?location="+url.QueryEscape(loc), nil, &out)
	return out.Requests
}

// tagListCalls counts loc's GET /social-media-posting/<loc>/tags calls.
func tagListCalls(t testing.TB, env *fleettest.Env, loc string) int {
	t.Helper()
	n := 0
	prefix := "/social-media-posting/" + loc + "/tags"
	for _, r := range requests(t, env, loc) {
		path, _, _ := strings.Cut(r.Path, "?")
		if r.Method == "GET" && path == prefix {
			n++
		}
	}
	return n
}

// messages returns the messages stored in stream on subject, oldest first.
func messages(t testing.TB, js jetstream.JetStream, stream, subject string) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range info.State.Subjects {
		n += int(k)
	}
	if n == 0 {
		return nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for len(out) < n {
		batch, err := c.Fetch(n-len(out), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			out = append(out, m)
			got++
		}
		if got == 0 {
			break
		}
	}
	return out
}

// decodeAll decodes msgs into new Ms.
func decodeAll[M any, P interface {
	*M
	proto.Message
}](t testing.TB, msgs []jetstream.Msg) []P {
	t.Helper()
	out := make([]P, 0, len(msgs))
	for _, m := range msgs {
		p := P(new(M))
		if err := bus.Unmarshal(m.Headers(), m.Data(), p); err != nil {
			t.Fatalf("decode %s: %v", m.Subject(), err)
		}
		out = append(out, p)
	}
	return out
}

// deadLetters returns the dead letters on subject.
func deadLetters(t testing.TB, js jetstream.JetStream, subject string) []bus.DeadLetter {
	t.Helper()
	var out []bus.DeadLetter
	for _, m := range messages(t, js, bus.StreamDLQ, subject) {
		dl, err := bus.ParseDeadLetter(m.Subject(), m.Headers(), m.Data())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

// quiet reports whether durable on stream has nothing left to deliver or
// acknowledge.
func quiet(t testing.TB, js jetstream.JetStream, stream, durable string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0
}

// storedCatalogue reads the catalogue the fetcher stored for loc.
func storedCatalogue(t testing.TB, js jetstream.JetStream, loc string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, bus.BucketTags)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, loc)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(e.Value()), true
}

func subject(t testing.TB, f bus.Family, loc string) string {
	t.Helper()
	s, err := f.Subject(loc)
	if err != nil {
		t.Fatal(fmt.Errorf("subject: %w", err))
	}
	return s
}
