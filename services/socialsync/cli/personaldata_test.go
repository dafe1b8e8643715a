package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// The people of the personal-data tests: what HighLevel holds of them,
// none of which may reach a log line, a span or a metric.
const (
	zeldaEmail = "Zelda.Quixwell@example.org"
	zeldaPhone = "+14155550123"
	yorickMail = "yorick.vantablack@example.org"
	newEmail   = "new.person.nobody@example.org"
)

// personalData is every value of the people above as it may be written.
var personalData = []string{"zelda.quixwell", "quixwell", "Zelda", "4155550123", "555-0123", "555 0123",
	"yorick", "vantablack", "new.person.nobody", "example.org"}

// personalFleet is the workers of `socialsync run` on a traced test
// fleet, their logs (debug level) in logs, after a post event naming
// contacts by email and phone number has gone through.
type personalFleet struct {
	env    *fleettest.Env
	d      *fleet.Deps
	logs   *fleettest.Buffer
	loc    string
	zelda  string // the contact id of Zelda
	yorick string
}

func startPersonalFleet(t *testing.T) *personalFleet {
	t.Helper()
	env := fleettest.StartTraced(t, "empty")
	li := env.NewLocation(t, map[string]any{"timezone": "UTC", "socialTags": []string{"Promo"},
		"contacts": []map[string]any{
			{"firstName": "Zelda", "lastName": "Quixwell", "email": zeldaEmail, "phone": zeldaPhone},
			{"firstName": "Yorick", "lastName": "Vantablack", "email": yorickMail},
		}})
	detail := env.Location(t, li.ID)
	p := &personalFleet{env: env, loc: li.ID, logs: &fleettest.Buffer{}}
	for _, c := range detail.Contacts {
		switch strings.ToLower(c.Email) {
		case strings.ToLower(zeldaEmail):
			p.zelda = c.ID
		case yorickMail:
			p.yorick = c.ID
		}
	}
	if p.zelda == "" || p.yorick == "" || len(detail.SocialTags) != 1 {
		t.Fatalf("location %s: tags %+v, contacts %+v", li.ID, detail.SocialTags, detail.Contacts)
	}
	kv, err := settings.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(context.Background(), kv, settings.Mapping{Location: p.loc,
		Contacts: settings.ContactsMapping{CreateMissing: true}}); err != nil {
		t.Fatal(err)
	}
	applyPromoFans(t, env)

	// The workers run as one process whose logs and spans are kept.
	cfg := env.Deps.Config
	cfg.Telemetry.SpanProcessor = env.Spans
	log := slog.New(slog.NewJSONHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p.d, err = fleet.Connect(context.Background(), "socialsync", cfg, fleet.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.d.Close(context.Background()) })
	components, err := Workers(p.d.Config, p.d)
	if err != nil {
		t.Fatal(err)
	}
	for _, comp := range components {
		fleettest.Run(t, comp.Run)
	}

	// One event names Zelda by email and by phone number (written as a
	// person would), Yorick by email, a person HighLevel does not hold
	// yet (created), and a reference that is no email: that one becomes
	// a dead letter, which keeps the whole event.
	ref := func(email, phone string) *socialsyncv1.ContactRef {
		if phone != "" {
			return &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Phone{Phone: phone}}
		}
		return &socialsyncv1.ContactRef{Ref: &socialsyncv1.ContactRef_Email{Email: email}}
	}
	subject, _ := topology.PostTriggers.Subject(p.loc)
	if _, err := env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.PostEvent{LocationId: p.loc, PostId: "p1",
		TagIds: []string{detail.SocialTags[0].ID}, OccurredAt: timestamppb.Now(), EventId: "personal-p1",
		Contacts: []*socialsyncv1.ContactRef{ref(strings.ToUpper(zeldaEmail), ""), ref("", "+1 (415) 555-0123"), ref(yorickMail, ""),
			ref(newEmail, ""), ref("Zelda Quixwell", "")}}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 60*time.Second, "contacts tagged, in the segment, and the bad reference dead-lettered", func() bool {
		n, _ := dlqCount(t, env, p.loc)
		return n > 0 && tagged(t, env, p.loc, "social:promo", "segment:promo-fans")
	})
	return p
}

// dlqCount counts loc's dead letters.
func dlqCount(t *testing.T, env *fleettest.Env, loc string) (uint64, error) {
	t.Helper()
	_, n, err := bus.CountDeadLetters(context.Background(), env.JS, bus.DeadLetterFilter("", loc))
	return n, err
}

// found returns which of values text holds, compared in lower case.
func found(text string, values ...string) []string {
	text = strings.ToLower(text)
	var out []string
	for _, v := range values {
		if v != "" && strings.Contains(text, strings.ToLower(v)) {
			out = append(out, v)
		}
	}
	return out
}

// metricsPage is what the process serves on /metrics.
func metricsPage(d *fleet.Deps) string {
	rec := httptest.NewRecorder()
	d.Telemetry.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// Emails, phone numbers and names go through the whole pipeline (contact
// lookups, a contact created, tags, segments, a dead letter), and none
// reaches a log line, a span's attributes or events, or a metric label.
func TestNoPersonalDataInLogsSpansOrMetrics(t *testing.T) {
	p := startPersonalFleet(t)
	logs, spans, metrics := p.logs.String(), fleettest.SpanText(p.env.Spans), metricsPage(p.d)
	if !strings.Contains(logs, "item dead-lettered") || len(p.env.Spans.Ended()) == 0 || !strings.Contains(metrics, "socialsync_") {
		t.Fatalf("nothing captured: %d bytes of logs, %d spans, %d bytes of metrics", len(logs), len(p.env.Spans.Ended()), len(metrics))
	}
	for what, text := range map[string]string{"logs": logs, "spans": spans, "metrics": metrics} {
		if l := found(text, personalData...); len(l) > 0 {
			t.Errorf("%s hold %v", what, l)
		}
	}
}

// `socialsync contacts forget --email` erases a contact: afterwards no
// bucket (delete markers of its records included), no dead letter and no
// trigger holds its id, email or phone number; the other contacts stay;
// the command prints counts, never the email; and running it again
// erases nothing more.
func TestContactsForgetLeavesNoTrace(t *testing.T) {
	p := startPersonalFleet(t)
	zelda := []string{p.zelda, "zelda.quixwell", "4155550123"}
	before := traces(t, p.env.JS, zelda...)
	for _, want := range []string{topology.BucketRelations + " contact.", topology.BucketContactRefs + " " + p.loc + ".contact.",
		topology.BucketSegments + " member.", bus.StreamDLQ} {
		if !strings.Contains(strings.Join(before, "\n"), want) {
			t.Errorf("before the erasure, no trace of the contact in %s: %v", want, before)
		}
	}
	t.Setenv("SOCIALSYNC_TOKEN_KEY", p.env.Deps.Config.TokenKey)
	out, errOut, code := runCLI(t, "contacts", "forget", "--nats", p.env.URL(), "--location", p.loc, "--email", "zelda.QUIXWELL@example.org")
	if code != 0 || !strings.Contains(out, "contact "+p.zelda) || !strings.Contains(out, "1 dead letters") {
		t.Fatalf("contacts forget: %d\n%s\n%s", code, out, errOut)
	}
	if l := found(out+errOut, personalData...); len(l) > 0 {
		t.Errorf("the command printed %v:\n%s", l, out)
	}
	var left []string
	fleettest.Eventually(t, 30*time.Second, "no trace of the contact", func() bool {
		left = traces(t, p.env.JS, zelda...)
		return len(left) == 0
	})
	t.Logf("erased: %s; traces before: %v", strings.TrimSpace(out), before)
	// The others are still there.
	if l := traces(t, p.env.JS, p.yorick); len(l) == 0 {
		t.Errorf("nothing of the other contact %s left", p.yorick)
	}
	if l := found(p.logs.String(), zelda[1:]...); len(l) > 0 {
		t.Errorf("logs hold %v", l)
	}
	out, errOut, code = runCLI(t, "contacts", "forget", "--nats", p.env.URL(), "--location", p.loc, "--contact", p.zelda)
	if code != 0 || !strings.Contains(out, "0 records, left 0 posts, 0 cached references, 0 dead letters") {
		t.Errorf("forget again: %d\n%s\n%s", code, out, errOut)
	}
}

// traces returns where values appear in socialsync's storage: the
// current keys and values of every bucket, every revision and delete
// marker of socialsync_relations and socialsync_contact_refs (whose
// records an erasure purges), and every message of SOCIALSYNC_DLQ and
// SOCIALSYNC_TRIGGERS.
func traces(t *testing.T, js jetstream.JetStream, values ...string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	look := func(where string, data ...[]byte) {
		if l := found(string(bytes.Join(data, []byte("\n"))), values...); len(l) > 0 {
			out = append(out, where+": "+strings.Join(l, ","))
		}
	}
	names := js.KeyValueStoreNames(ctx)
	for name := range names.Name() {
		kv, err := js.KeyValue(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for k := range keys.Keys() {
			e, err := kv.Get(ctx, k)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			look(name+" "+k, []byte(k), e.Value())
		}
	}
	for _, stream := range []string{"KV_" + topology.BucketRelations, "KV_" + topology.BucketContactRefs, bus.StreamDLQ, topology.StreamTriggers} {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			continue
		}
		cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		for range info.State.Msgs {
			msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
			if err != nil {
				break // fewer than counted: some went meanwhile
			}
			var hdr []byte
			for k, v := range msg.Headers() {
				hdr = append(hdr, []byte(k+": "+strings.Join(v, ",")+"\n")...)
			}
			look(stream+" "+msg.Subject(), []byte(msg.Subject()), hdr, msg.Data())
			if meta, err := msg.Metadata(); err == nil && meta.NumPending == 0 {
				break
			}
		}
	}
	return out
}
