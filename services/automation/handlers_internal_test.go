package automationworker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// Fast tests of the automation worker's handlers on fakes of its own
// interfaces: no JetStream, no simulator. The tests beside them run the
// same paths on the real ones.

// records is a bucket in memory.
type records struct {
	vals map[string][]byte
	revs map[string]uint64
	next uint64
}

func newRecords() *records { return &records{vals: map[string][]byte{}, revs: map[string]uint64{}} }

func (r *records) Get(_ context.Context, key string) ([]byte, uint64, error) {
	return r.vals[key], r.revs[key], nil
}

func (r *records) Put(_ context.Context, key string, data []byte, rev uint64) (uint64, error) {
	if r.revs[key] != rev {
		return 0, revision.ErrConflict
	}
	r.next++
	r.vals[key], r.revs[key] = data, r.next
	return r.next, nil
}

func (r *records) Delete(_ context.Context, key string, rev uint64) error {
	if r.revs[key] != rev {
		return revision.ErrConflict
	}
	delete(r.vals, key)
	delete(r.revs, key)
	return nil
}

func (r *records) Keys(_ context.Context, prefix string) ([]string, error) {
	var out []string
	for k := range r.vals {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out = append(out, rest)
		}
	}
	return out, nil
}

// fakes are the rest of the worker's dependencies in memory.
type fakes struct {
	segments, relations, runs *records
	published                 []proto.Message
	raw                       []string // subjects of the outbox
	*fleettest.Tagger                  // the contacts' tags in HighLevel
	customValuesErr           error
}

func newFakes() *fakes {
	return &fakes{segments: newRecords(), relations: newRecords(), runs: newRecords(), Tagger: fleettest.NewTagger()}
}

func (f *fakes) Publish(_ context.Context, _ string, m proto.Message, _ ...bus.PublishOption) (*jetstream.PubAck, error) {
	f.published = append(f.published, m)
	return &jetstream.PubAck{}, nil
}

func (f *fakes) Locations(context.Context) ([]creds.Location, error) { return nil, nil }

// ContactTagNaming names by the prefix: no location has a mapping.
func (f *fakes) ContactTagNaming(_ context.Context, _ string, fallback func(string) string, _ *slog.Logger) (func(string) string, error) {
	return fallback, nil
}

func (f *fakes) Watch(context.Context, string, ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	panic("the tests load the definitions themselves")
}

func (f *fakes) PublishRaw(_ context.Context, subject string, _ []byte, _ map[string]string) error {
	f.raw = append(f.raw, subject)
	return nil
}

func (f *fakes) DeadLetterItem(context.Context, string, jetstream.Msg, string, bus.Class, string) (string, error) {
	panic("the handlers do not dead-letter: their Result does")
}

func (f *fakes) CustomValues(context.Context, string) ([]ghl.CustomValue, error) {
	return nil, f.customValuesErr
}

func (f *fakes) UpdateCustomValue(context.Context, string, string, string, string) (ghl.CustomValue, error) {
	return ghl.CustomValue{}, nil
}

func (f *fakes) EnsureCustomValue(context.Context, string, string, string) (ghl.CustomValue, error) {
	return ghl.CustomValue{}, nil
}

// newWorker returns the worker on f, singles only, with the segments
// and workflows given as stored (JSON) loaded.
func newWorker(t *testing.T, f *fakes, segs, wfs []string) *Worker {
	t.Helper()
	w, err := New(Config{Concurrency: 1, TagPrefix: "social:", BulkMin: 100}, Deps{
		Publisher: f, Locations: f, Client: func(string) Client { return f },
		Segments: f.segments, Relations: f.relations, Runs: f.runs, SegmentDefs: f, Workflows: f, Mappings: f,
		Outbox: f, DeadLetters: f, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.now = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	for _, s := range segs {
		seg, err := automation.DecodeSegment([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		w.segs.defs.items[seg.Name] = seg
	}
	close(w.segs.defs.ready)
	for _, s := range wfs {
		wf, err := automation.DecodeWorkflow([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		w.ev.workflows.items[wf.Name] = wf
	}
	close(w.ev.workflows.ready)
	return w
}

// A contact event of a contact whose stored state carries the segment's
// tag puts it into the segment: it gains the segment's contact tag, its
// membership is stored and a SegmentChanged published.
func TestContactEventEntersSegment(t *testing.T) {
	f := newFakes()
	w := newWorker(t, f, []string{`{"name":"fans","anyTags":["social:promo"]}`}, nil)
	st := `{"posts":{"p1":["promo"]},"applied":["social:promo"]}`
	if _, err := f.relations.Put(context.Background(), relations.ContactKey("loc1", "c1"), []byte(st), 0); err != nil {
		t.Fatal(err)
	}
	res, err := w.segs.handleContact(context.Background(), "loc1", &socialsyncv1.ContactTagsChanged{LocationId: "loc1", ContactId: "c1", Reason: "post p1"})
	if err != nil || len(res.DeadLetters) > 0 {
		t.Fatalf("handleContact = %+v, %v; want done", res, err)
	}
	if want := automation.SegmentTag("fans"); !slices.Contains(f.Tags["c1"], want) {
		t.Errorf("tags of c1 = %v, want %s", f.Tags["c1"], want)
	}
	var ms automation.Members
	if _, err := load(context.Background(), f.segments, automation.MemberKey("loc1", "c1"), &ms); err != nil || !slices.Equal(ms.Segments, []string{"fans"}) {
		t.Errorf("membership = %v, %v; want [fans]", ms.Segments, err)
	}
	if len(f.published) != 1 || f.published[0].(*socialsyncv1.SegmentChanged).GetChange() != socialsyncv1.SegmentChange_SEGMENT_CHANGE_ENTERED {
		t.Errorf("published %v, want one SegmentChanged entered", f.published)
	}

	// The same event again finds the membership in line: nothing is
	// written or published.
	writes := f.Writes
	if _, err := w.segs.handleContact(context.Background(), "loc1", &socialsyncv1.ContactTagsChanged{LocationId: "loc1", ContactId: "c1"}); err != nil {
		t.Fatal(err)
	}
	if len(f.published) != 1 || len(f.Tags["c1"]) != 1 {
		t.Errorf("the same event again published %d, tags %v; want nothing more", len(f.published)-1, f.Tags["c1"])
	}
	if f.Writes != writes {
		t.Errorf("the same event again made %d contact tag writes, want none", f.Writes-writes)
	}
}

// A workflow action HighLevel refuses for good is an item of the Result;
// the workflow's next action still runs, and the run is marked done only
// once the edge stored the dead letter.
func TestWorkflowActionFailureInResult(t *testing.T) {
	f := newFakes()
	f.customValuesErr = fmt.Errorf("custom values: %w", ghl.ErrPermanent)
	w := newWorker(t, f, nil, []string{`{"name":"notify","on":"tag.deleted","actions":[` +
		`{"setCustomValue":{"name":"last","value":"gone"}},{"publish":{"subject":"acme.deleted"}}]}`})
	ev := event{family: topology.TagEvents, Event: automation.Event{ID: "e1", Trigger: automation.TagDeleted, Location: "loc1",
		Env: automation.TagEnv{LocationID: "loc1", TagID: "t1", TagName: "gone", Change: "deleted"}, Payload: []byte(`{}`)}}
	res, err := w.ev.handle(context.Background(), "loc1", ev)
	if err != nil {
		t.Fatalf("handle: %v, want the event done", err)
	}
	if len(res.DeadLetters) != 1 || !strings.Contains(res.DeadLetters[0].Item, "notify") {
		t.Fatalf("dead letters = %+v, want one item of workflow notify", res.DeadLetters)
	}
	if !slices.Equal(f.raw, []string{"acme.deleted"}) {
		t.Errorf("published %v, want acme.deleted", f.raw)
	}
	runs := len(f.runs.vals)
	for _, after := range res.after {
		if err := after(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(res.after) == 0 || len(f.runs.vals) <= runs {
		t.Errorf("%d steps after the dead letters marked %d runs; want the failed action's run marked then", len(res.after), len(f.runs.vals)-runs)
	}
}
