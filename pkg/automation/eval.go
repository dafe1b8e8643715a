package automation

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Defaults of an Evaluator.
const (
	// DefaultEvalTimeout is how long one evaluation may run.
	DefaultEvalTimeout = 50 * time.Millisecond
	// DefaultMaxAbandoned is how many abandoned evaluations may still be
	// running before new ones are refused.
	DefaultMaxAbandoned = 4
)

// Errors of an evaluation.
var (
	// ErrEvalTimeout is an evaluation that ran past its deadline. It
	// matches ErrActionFailed: the action fails for good, with this
	// reason, and the event is not held.
	ErrEvalTimeout = fmt.Errorf("%w: expression ran past its deadline and was abandoned", ErrActionFailed)
	// ErrEvalBusy is an evaluation refused because too many abandoned
	// ones still run. It is a wait, not a failure: it has DeferFor, so the
	// event is delivered again later (one runaway expression must not
	// fail every other workflow's events).
	ErrEvalBusy error = evalBusy{}
)

// EvalBusyRetry is how long an event whose evaluation was refused as busy
// waits before it is delivered again.
const EvalBusyRetry = 2 * time.Second

type evalBusy struct{}

func (evalBusy) Error() string {
	return "expression not evaluated: too many abandoned evaluations still running"
}

// DeferFor makes the bus hand the event back for EvalBusyRetry.
func (evalBusy) DeferFor() time.Duration { return EvalBusyRetry }

// Evaluator runs workflow expressions with a deadline. expr's virtual
// machine cannot be interrupted, so an evaluation past its deadline is
// abandoned (it runs on in its goroutine until it ends) and counted;
// while MaxAbandoned of them still run, new evaluations are refused
// rather than stacked. The cost bound checked at apply makes this a last
// resort. The zero value uses the defaults; an Evaluator is shared by
// every event a worker handles.
type Evaluator struct {
	Timeout      time.Duration
	MaxAbandoned int
	// OnAbandoned, when set, is called for every evaluation abandoned (a
	// metric).
	OnAbandoned func()

	running atomic.Int64 // abandoned evaluations still running
}

// Abandoned returns how many abandoned evaluations still run.
func (e *Evaluator) Abandoned() int { return int(e.running.Load()) }

// Run evaluates p over env.
func (e *Evaluator) Run(p *vm.Program, env any) (any, error) {
	if e == nil {
		return expr.Run(p, env)
	}
	limit := e.MaxAbandoned
	if limit <= 0 {
		limit = DefaultMaxAbandoned
	}
	if e.running.Load() >= int64(limit) {
		return nil, ErrEvalBusy
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultEvalTimeout
	}
	type result struct {
		out any
		err error
	}
	done := make(chan result, 1)
	var abandoned atomic.Bool
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.err = fmt.Errorf("expression panicked: %v", p)
			}
			done <- r
			if abandoned.CompareAndSwap(true, false) {
				e.running.Add(-1)
			}
		}()
		r.out, r.err = expr.Run(p, env)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.out, r.err
	case <-t.C:
	}
	// Count the evaluation before marking it abandoned, so that its
	// goroutine, if it ends now, finds it counted.
	e.running.Add(1)
	abandoned.Store(true)
	select {
	case r := <-done:
		// It ended in between: not abandoned after all.
		if abandoned.CompareAndSwap(true, false) {
			e.running.Add(-1)
		}
		return r.out, r.err
	default:
	}
	if e.OnAbandoned != nil {
		e.OnAbandoned()
	}
	return nil, fmt.Errorf("%w (after %s)", ErrEvalTimeout, timeout)
}
