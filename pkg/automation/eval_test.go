package automation

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// blocking compiles an expression that runs until release is closed, the
// stand-in for an evaluation that runs long (expr cannot be interrupted).
func blocking(t *testing.T, release <-chan struct{}) *vm.Program {
	t.Helper()
	p, err := expr.Compile(`block() > 0`, expr.Function("block", func(...any) (any, error) {
		<-release
		return 1, nil
	}, new(func() int)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// An evaluation past its deadline fails with a reason and is counted;
// while MaxAbandoned still run, new evaluations are refused at once; when
// they end, evaluations run again.
func TestEvaluatorAbandonsAndRefuses(t *testing.T) {
	release := make(chan struct{})
	slow := blocking(t, release)
	quick, err := expr.Compile(`1 + 1 == 2`)
	if err != nil {
		t.Fatal(err)
	}
	var counted atomic.Int64
	e := &Evaluator{Timeout: 10 * time.Millisecond, MaxAbandoned: 2, OnAbandoned: func() { counted.Add(1) }}
	for i := range 2 {
		if _, err := e.Run(slow, nil); !errors.Is(err, ErrEvalTimeout) || !errors.Is(err, ErrActionFailed) {
			t.Fatalf("slow evaluation %d: err = %v, want ErrEvalTimeout", i, err)
		}
	}
	if counted.Load() != 2 || e.Abandoned() != 2 {
		t.Fatalf("abandoned: counted %d, running %d; want 2 and 2", counted.Load(), e.Abandoned())
	}
	start := time.Now()
	if _, err := e.Run(quick, nil); !errors.Is(err, ErrEvalBusy) || errors.Is(err, ErrActionFailed) || !defers(err) {
		t.Fatalf("evaluation with 2 abandoned running: err = %v, want ErrEvalBusy", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusal took %s; want it at once", d)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for e.Abandoned() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("abandoned evaluations still counted after they ended: %d", e.Abandoned())
		}
		time.Sleep(time.Millisecond)
	}
	e.Timeout = time.Minute // a loaded machine may take more than 10ms
	if out, err := e.Run(quick, nil); err != nil || out != true {
		t.Fatalf("after the abandoned ended: %v, %v", out, err)
	}
}

// A workflow whose condition runs past the deadline is dead-lettered with
// the reason, and Fire returns: the event is not held.
func TestFireFailsSlowCondition(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	wfs, err := ParseWorkflows("w.yaml", []byte("workflows:\n  - name: slow\n    on: tag.created\n    when: 'tagName != \"\"'\n    actions: [{publish: {subject: acme.x}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	wfs[0].when = blocking(t, release)
	fx := &recordingEffects{}
	r := &Runner{Effects: fx, Eval: &Evaluator{Timeout: 10 * time.Millisecond}}
	n, err := r.Fire(t.Context(), Event{ID: "e1", Trigger: TagCreated, Location: "L", Env: TagEnv{TagName: "promo"}}, wfs)
	if err != nil || n != 0 {
		t.Fatalf("Fire = %d, %v; want 0 actions and no error", n, err)
	}
	if len(fx.dead) != 1 || !strings.Contains(fx.dead[0], "workflow slow: ") || !strings.Contains(fx.dead[0], "past its deadline") {
		t.Fatalf("dead letters %v; want the condition's, past its deadline", fx.dead)
	}
	if len(fx.published) != 0 {
		t.Errorf("published %v; want nothing", fx.published)
	}
}

// A tag of a location's first catalogue (discovered) fires only the
// tag.created workflows that ask for discovered tags; a tag created later
// fires both.
func TestFireDiscoveredOnlyWhenAsked(t *testing.T) {
	wfs, err := ParseWorkflows("w.yaml", []byte("workflows:\n"+
		"  - name: new-only\n    on: tag.created\n    actions: [{publish: {subject: acme.new}}]\n"+
		"  - name: all\n    on: tag.created\n    includeDiscovered: true\n    actions: [{publish: {subject: acme.all}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		discovered bool
		want       []string
	}{{true, []string{"acme.all"}}, {false, []string{"acme.new", "acme.all"}}} {
		fx := &recordingEffects{}
		r := &Runner{Effects: fx}
		if _, err := r.Fire(t.Context(), Event{ID: "e1", Trigger: TagCreated, Location: "L", Discovered: tt.discovered, Env: TagEnv{TagName: "promo"}}, wfs); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(fx.published, tt.want) {
			t.Errorf("discovered=%v: published %v, want %v", tt.discovered, fx.published, tt.want)
		}
	}
}

// recordingEffects records dead letters and publications.
type recordingEffects struct {
	dead, published []string
}

func (f *recordingEffects) Done(context.Context, string) (bool, error)     { return false, nil }
func (f *recordingEffects) MarkDone(context.Context, string, string) error { return nil }
func (f *recordingEffects) Contacts(context.Context, string, Selection) ([]string, error) {
	return nil, nil
}
func (f *recordingEffects) ContactTags(context.Context, string, []string, []string, bool, string) error {
	return nil
}
func (f *recordingEffects) SetCustomValue(context.Context, string, string, string) error { return nil }
func (f *recordingEffects) Publish(_ context.Context, subject string, _ []byte, _ map[string]string) error {
	f.published = append(f.published, subject)
	return nil
}
func (f *recordingEffects) DeadLetter(_ context.Context, item, reason string) error {
	f.dead = append(f.dead, item+": "+reason)
	return nil
}

// defers reports whether err asks the bus to hand its message back later.
func defers(err error) bool {
	var d interface{ DeferFor() time.Duration }
	return errors.As(err, &d) && d.DeferFor() > 0
}
