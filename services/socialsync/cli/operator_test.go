package cli

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// runCLIAt runs the command line as runCLI does, on a clock reading now.
func runCLIAt(t *testing.T, now func() time.Time, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errOut, Log: slog.New(slog.NewTextHandler(&errOut, nil)), Now: now}
	code := mainEnv(context.Background(), env, args)
	return out.String(), errOut.String(), code
}

func TestLocationsAddAndList(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	t.Setenv("SOCIALSYNC_TOKEN_KEY", creds.NewKey())
	const pit = "pit-3e0f5c1a-7d7b-4a53-9d62-2b3f5f0f9a11"
	if out, errOut, code := runCLI(t, "locations", "add", "--nats", env.URL(), "--location", "Loc1", "--pit", pit, "--name", "Bakery", "--timezone", "Europe/Berlin"); code != 0 {
		t.Fatalf("add: exit %d: %s%s", code, out, errOut)
	}
	// No worker runs: this trigger waits, and the list says so.
	msg := nats.NewMsg("socialsync.trigger.stats.Loc1")
	msg.Data = bustest.Marshal(t, &socialsyncv1.StatsRequested{LocationId: "Loc1", RequestedBy: "test"})
	if _, err := env.JS.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "locations", "list", "--nats", env.URL())
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "WAITING") || !regexp.MustCompile(`(?m)^Loc1 .* 1 +\d{4}-\d\d-\d\d`).MatchString(out) {
		t.Errorf("list does not show Loc1's one waiting trigger:\n%s", out)
	}
	for _, want := range []string{"Loc1", "Bakery", "Europe/Berlin", "pit", "active"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, pit) {
		t.Errorf("list printed the token:\n%s", out)
	}
	for _, bad := range [][]string{
		{"locations", "add", "--nats", env.URL(), "--location", "bad.id", "--pit", pit},
		{"locations", "add", "--nats", env.URL(), "--location", "Loc2"},
		{"locations", "add", "--nats", env.URL(), "--location", "Loc2", "--pit", pit, "--timezone", "Mars/Olympus"},
		{"locations", "remove"},
	} {
		if _, errOut, code := runCLI(t, bad...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", bad, code, errOut)
		}
		if strings.Contains(errOut, pit) {
			t.Errorf("%v: error output shows the token", bad)
		}
	}
}

func TestLocationsAddWithoutKeyNamesTheVariable(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	t.Setenv("SOCIALSYNC_TOKEN_KEY", "")
	t.Chdir(t.TempDir())
	_, errOut, code := runCLI(t, "locations", "add", "--nats", env.URL(), "--location", "Loc1", "--pit", "pit-x")
	if code == 0 || !strings.Contains(errOut, "SOCIALSYNC_TOKEN_KEY") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestTriggerPublishes(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	// An interest stream keeps only what some consumer wants: read through
	// the fetcher's durable, as the fetcher would.
	ctx := context.Background()
	cons, err := env.JS.Consumer(ctx, topology.StreamTriggers, topology.DurableFetcher)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "trigger", "post", "--nats", env.URL(), "--location", "Loc1", "--post", "p1",
		"--tags", "t1, t2", "--contacts", "c1", "--emails", "ann@example.com", "--phones", "+14155550100", "--external-ids", "CRM-42",
		"--change", "updated", "--event-id", "ev-1")
	if code != 0 || !strings.Contains(out, "socialsync.trigger.post.Loc1") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got socialsyncv1.PostEvent
	if err := bus.Unmarshal(msg.Headers(), msg.Data(), &got); err != nil {
		t.Fatal(err)
	}
	if got.GetPostId() != "p1" || len(got.GetTagIds()) != 2 || got.GetChange() != socialsyncv1.Change_CHANGE_UPDATED || msg.Headers().Get(nats.MsgIdHdr) != "ev-1" ||
		len(got.GetContacts()) != 3 || got.GetContacts()[0].GetEmail() != "ann@example.com" || got.GetContacts()[1].GetPhone() != "+14155550100" ||
		got.GetContacts()[2].GetExternalId() != "CRM-42" {
		t.Errorf("published %v with id %q", protojson.Format(&got), msg.Headers().Get(nats.MsgIdHdr))
	}
	_ = msg.Ack()
	out, _, _ = runCLI(t, "trigger", "post", "--nats", env.URL(), "--location", "Loc1", "--post", "p1", "--event-id", "ev-1")
	if !strings.Contains(out, "duplicate") {
		t.Errorf("second publish with the same event id: %q, want a duplicate notice", out)
	}
	for _, bad := range [][]string{
		{"trigger", "post", "--nats", env.URL(), "--location", "L-1", "--post", "p"},
		{"trigger", "post", "--nats", env.URL(), "--location", "L1"},
		{"trigger", "post", "--nats", env.URL(), "--location", "L1", "--post", "p", "--change", "moved"},
		{"trigger", "poke", "--location", "L1"},
	} {
		if _, errOut, code := runCLI(t, bad...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", bad, code, errOut)
		}
	}
}

// TestTriggerSaysWhenFull: a trigger over its location's quota is not
// published, and the command says why and exits 1.
func TestTriggerSaysWhenFull(t *testing.T) {
	// The command declares the topology with the limits of the
	// environment, as every process does.
	t.Setenv("SOCIALSYNC_LIMIT_TRIGGERS_PER_SUBJECT", "1")
	env := bustest.Start(t, topology.Options{MaxTriggersPerSubject: 1})
	if out, errOut, code := runCLI(t, "trigger", "stats", "--nats", env.URL(), "--location", "Loc1"); code != 0 {
		t.Fatalf("first trigger: exit %d: %s%s", code, out, errOut)
	}
	_, errOut, code := runCLI(t, "trigger", "stats", "--nats", env.URL(), "--location", "Loc1", "--profiles", "p2")
	if code != 1 || !strings.Contains(errOut, "not published") || !strings.Contains(errOut, "Loc1") || !strings.Contains(errOut, "quota") {
		t.Errorf("trigger over the quota: exit %d, stderr %q; want 1 and a message naming the location's quota", code, errOut)
	}
	if out, errOut, code := runCLI(t, "trigger", "stats", "--nats", env.URL(), "--location", "Loc2"); code != 0 {
		t.Errorf("another location's trigger: exit %d: %s%s", code, out, errOut)
	}
}

func TestDLQListsDeadLetters(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	msg := nats.NewMsg("socialsync.dlq.fetcher.Loc1")
	msg.Data = []byte("garbage")
	msg.Header.Set(bus.HeaderDLQReason, "decode PostEvent: unexpected EOF")
	msg.Header.Set(bus.HeaderDLQClass, "bad_input")
	msg.Header.Set(bus.HeaderDLQSubject, "socialsync.trigger.post.Loc1")
	msg.Header.Set(bus.HeaderDLQDeliveries, "1")
	msg.Header.Set(bus.HeaderDLQStream, topology.StreamTriggers)
	msg.Header.Set(bus.HeaderDLQSequence, "7")
	msg.Header.Set(bus.HeaderDLQConsumer, topology.DurableFetcher)
	msg.Header.Set(bus.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	if _, err := env.JS.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "dlq", "--nats", env.URL(), "--worker", "fetcher")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"1 dead letters", "Loc1", "bad_input", "socialsync.trigger.post.Loc1", "unexpected EOF"} {
		if !strings.Contains(out, want) {
			t.Errorf("dlq output lacks %q:\n%s", want, out)
		}
	}
	if out, _, _ := runCLI(t, "dlq", "--nats", env.URL(), "--worker", "stats"); !strings.Contains(out, "0 dead letters") {
		t.Errorf("filtered dlq output: %s", out)
	}
}

func TestDLQReplay(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	for i, loc := range []string{"Loc1", "Loc1", "Loc2"} {
		msg := nats.NewMsg("socialsync.dlq.stats." + loc)
		msg.Data = bustest.Marshal(t, &socialsyncv1.StatsRequested{LocationId: loc, RequestedBy: "test"})
		msg.Header.Set(bus.HeaderDLQReason, "boom")
		msg.Header.Set(bus.HeaderDLQClass, "permanent")
		msg.Header.Set(bus.HeaderDLQSubject, "socialsync.trigger.stats."+loc)
		msg.Header.Set(bus.HeaderDLQDeliveries, "1")
		msg.Header.Set(bus.HeaderDLQStream, topology.StreamTriggers)
		msg.Header.Set(bus.HeaderDLQSequence, strconv.Itoa(i+1))
		msg.Header.Set(bus.HeaderDLQConsumer, topology.DurableStats)
		msg.Header.Set(bus.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
		if _, err := env.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, code := runCLI(t, "dlq", "--nats", env.URL(), "--replay-all"); code != 2 {
		t.Errorf("--replay-all without --location: exit %d, %s", code, errOut)
	}
	out, errOut, code := runCLI(t, "dlq", "--nats", env.URL(), "--replay-all", "--location", "Loc1")
	if code != 0 || !strings.Contains(out, "2 replayed, 0 kept") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if got := len(bustest.Messages(t, env.JS, topology.StreamTriggers, "socialsync.trigger.stats.Loc1")); got != 2 {
		t.Errorf("replayed triggers of Loc1: %d, want 2", got)
	}
	if out, _, _ := runCLI(t, "dlq", "--nats", env.URL()); !strings.Contains(out, "1 dead letters") || !strings.Contains(out, "Loc2") {
		t.Errorf("after replay: %s", out)
	}
	out, errOut, code = runCLI(t, "dlq", "--nats", env.URL(), "--replay", "3")
	if code != 0 || !strings.Contains(out, "socialsync.trigger.stats.Loc2") || !strings.Contains(out, "for stats") {
		t.Fatalf("--replay 3: exit %d: %s %s", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, "dlq", "--nats", env.URL(), "--replay", "3"); code != 1 || !strings.Contains(errOut, "no such dead letter") {
		t.Errorf("second --replay 3: exit %d: %s", code, errOut)
	}
}

// `socialsync trigger post` publishes a post id from another system
// ("crm-post-1", "Bestellung-ä/42") as every consumer accepts it, and
// refuses, naming the field, an id every consumer refuses (257 bytes, a
// newline): nothing is published then.
func TestTriggerPostIDsFollowTheSharedRule(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	published := 0
	for _, c := range bustest.PostCases("Loc1", nil, nil, time.Now()) {
		if c.Field == "occurred_at" {
			continue // the CLI dates its events itself
		}
		out, errOut, code := runCLI(t, "trigger", "post", "--nats", env.URL(), "--location", "Loc1", "--post", c.Event.GetPostId(),
			"--source", c.Event.GetSource(), "--contacts", "c1")
		switch {
		case c.Valid && code != 0:
			t.Errorf("%s: exit %d: %s%s", c.Name, code, out, errOut)
		case c.Valid:
			published++
		case code != 2 || !strings.Contains(errOut, c.Marker(func(s string) string { return s })):
			t.Errorf("%s: exit %d, stderr %q; want 2 and a message quoting %s", c.Name, code, errOut, c.Marker(func(s string) string { return s }))
		}
	}
	var got []string
	for _, ev := range bustest.Decode[socialsyncv1.PostEvent](t, bustest.Messages(t, env.JS, topology.StreamTriggers, "socialsync.trigger.post.Loc1")) {
		got = append(got, ev.GetSource()+" "+ev.GetPostId())
	}
	if diff := cmp.Diff([]string{"crm crm-post-1", "shop Bestellung-ä/42"}, got); diff != "" || published != 2 {
		t.Errorf("published post triggers (-want +got):\n%s", diff)
	}
}

// `trigger stats --from --to` publishes the range (its end excluded, as
// the message has it) when its days are the last 7 before the location's
// today, and refuses older days naming the limit, publishing nothing.
func TestTriggerStatsRange(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	t.Setenv("SOCIALSYNC_TOKEN_KEY", creds.NewKey())
	const pit = "pit-3e0f5c1a-7d7b-4a53-9d62-2b3f5f0f9a11"
	if out, errOut, code := runCLI(t, "locations", "add", "--nats", env.URL(), "--location", "Loc1", "--pit", pit, "--timezone", "Pacific/Auckland"); code != 0 {
		t.Fatalf("add: exit %d: %s%s", code, out, errOut)
	}
	// 2026-03-11 12:00 UTC is already March 12th in Auckland.
	now := func() time.Time { return time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC) }
	_, errOut, code := runCLIAt(t, now, "trigger", "stats", "--nats", env.URL(), "--location", "Loc1", "--from", "2026-03-04", "--to", "2026-03-11")
	if code != 2 || !strings.Contains(errOut, "serves only the last 7 days (2026-03-05 … 2026-03-11)") {
		t.Errorf("a range reaching 8 days back: exit %d, stderr %q; want 2 and the limit", code, errOut)
	}
	if out, errOut, code := runCLIAt(t, now, "trigger", "stats", "--nats", env.URL(), "--location", "Loc1", "--from", "2026-03-05", "--to", "2026-03-11"); code != 0 {
		t.Fatalf("a range within reach: exit %d: %s%s", code, out, errOut)
	}
	msgs := bustest.Messages(t, env.JS, topology.StreamTriggers, "socialsync.trigger.stats.Loc1")
	if len(msgs) != 1 {
		t.Fatalf("%d triggers published, want 1", len(msgs))
	}
	var got socialsyncv1.StatsRequested
	if err := bus.Unmarshal(msgs[0].Header, msgs[0].Data, &got); err != nil {
		t.Fatal(err)
	}
	if got.GetRange().GetFrom() != "2026-03-05" || got.GetRange().GetTo() != "2026-03-12" {
		t.Errorf("published range %v, want 2026-03-05 … 2026-03-12 (excluded)", got.GetRange())
	}
}
