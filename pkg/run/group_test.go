package run_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/socialsync/socialsync/pkg/run"
)

// Time inside these tests is synctest's fake clock: waits and timeouts are
// exact and instant.

var (
	errBoom = errors.New("boom")
	errLate = errors.New("drain failed")
)

// logBuffer is a logger whose output the test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// untilDone is a component that runs until its context ends and returns
// ret(ctx).
func untilDone(ret func(ctx context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		<-ctx.Done()
		return ret(ctx)
	}
}

func TestGroupFirstErrorCancelsTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, logs := newLog()
		g := run.NewGroup(log, time.Minute)
		var hooked atomic.Bool
		g.OnShutdown(func() { hooked.Store(true) })
		var sawHook atomic.Bool
		g.Add("fetcher", func(ctx context.Context) error {
			time.Sleep(time.Second)
			return fmt.Errorf("list tags: %w", errBoom)
		})
		g.Add("enricher", untilDone(func(ctx context.Context) error {
			sawHook.Store(hooked.Load())
			return ctx.Err()
		}))
		g.Add("stats", untilDone(func(context.Context) error {
			time.Sleep(time.Second) // fails after the first failure
			return errLate
		}))

		start := time.Now()
		err := g.Run(context.Background())
		if !errors.Is(err, errBoom) || errors.Is(err, errLate) {
			t.Errorf("Run = %v, want the first failure (boom) only", err)
		}
		if want := "fetcher: list tags: boom"; err == nil || err.Error() != want {
			t.Errorf("Run error %q, want %q", err, want)
		}
		if got := time.Since(start); got != 2*time.Second {
			t.Errorf("Run took %v, want 2s: the others are cancelled as soon as fetcher fails", got)
		}
		if !sawHook.Load() {
			t.Error("enricher's context ended before the shutdown hook ran")
		}
		if got := logs.String(); !strings.Contains(got, "stats: drain failed") || !strings.Contains(got, "fetcher: list tags: boom") {
			t.Errorf("log %q does not show both failures", got)
		}
	})
}

func TestGroupOrderlyShutdownIsNoError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		log, _ := newLog()
		g := run.NewGroup(log, time.Minute)
		var order []string
		var mu sync.Mutex
		note := func(s string) {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, s)
		}
		var compCtx atomic.Pointer[context.Context]
		g.OnShutdown(func() {
			note("hook 1")
			if c := compCtx.Load(); c == nil || (*c).Err() != nil {
				t.Error("a component's context had ended when the first shutdown hook ran")
			}
		})
		g.OnShutdown(func() { note("hook 2") })
		g.Add("canceled", func(ctx context.Context) error {
			compCtx.Store(&ctx)
			<-ctx.Done()
			note("stop")
			return ctx.Err()
		})
		g.Add("wrapped", untilDone(func(ctx context.Context) error { note("stop"); return fmt.Errorf("consume: %w", ctx.Err()) }))
		g.Add("nil", untilDone(func(context.Context) error { note("stop"); return nil }))
		g.Add("slow", untilDone(func(context.Context) error { time.Sleep(3 * time.Second); note("stop"); return nil }))

		time.AfterFunc(time.Second, cancel) // SIGTERM
		start := time.Now()
		if err := g.Run(ctx); err != nil {
			t.Errorf("Run = %v, want nil after an orderly shutdown", err)
		}
		if got := time.Since(start); got != 4*time.Second {
			t.Errorf("Run took %v, want 4s: the signal at 1s plus the slowest drain", got)
		}
		want := "hook 1,hook 2,stop,stop,stop,stop"
		if got := strings.Join(order, ","); got != want {
			t.Errorf("order %s, want %s", got, want)
		}
	})
}

func TestGroupShutdownTimeout(t *testing.T) {
	for _, failFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("after failure %v", failFirst), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				log, _ := newLog()
				g := run.NewGroup(log, 5*time.Second)
				release := make(chan struct{})
				g.Add("stuck", func(context.Context) error { <-release; return nil })
				g.Add("prompt", untilDone(func(ctx context.Context) error { return ctx.Err() }))
				if failFirst {
					g.Add("failing", func(context.Context) error { time.Sleep(time.Second); return errBoom })
				} else {
					time.AfterFunc(time.Second, cancel)
				}

				start := time.Now()
				err := g.Run(ctx)
				if got := time.Since(start); got != 6*time.Second {
					t.Errorf("Run took %v, want 6s: shutdown at 1s plus the 5s bound", got)
				}
				if !errors.Is(err, run.ErrShutdownTimeout) || !strings.Contains(err.Error(), "still running: stuck") {
					t.Errorf("Run = %v, want ErrShutdownTimeout naming only stuck", err)
				}
				if strings.Contains(err.Error(), "prompt") {
					t.Errorf("Run = %v names prompt, which returned", err)
				}
				if got := errors.Is(err, errBoom); got != failFirst {
					t.Errorf("errors.Is(%v, boom) = %v, want %v", err, got, failFirst)
				}
				close(release)
			})
		})
	}
}

func TestGroupFailures(t *testing.T) {
	tests := []struct {
		name string
		run  func(context.Context) error
		want string
	}{
		{
			name: "canceled while the group is not shutting down",
			run: func(context.Context) error {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return fmt.Errorf("fetch: %w", ctx.Err())
			},
			want: "worker: fetch: context canceled",
		},
		{
			name: "panic",
			run:  func(context.Context) error { panic("nil map") },
			want: "worker: panic: nil map",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log, _ := newLog()
				g := run.NewGroup(log, time.Minute)
				var stopped atomic.Bool
				g.Add("other", untilDone(func(ctx context.Context) error { stopped.Store(true); return ctx.Err() }))
				g.Add("worker", tt.run)
				err := g.Run(context.Background())
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
					t.Errorf("Run = %v, want an error starting %q", err, tt.want)
				}
				if !stopped.Load() {
					t.Error("the other component was not stopped")
				}
			})
		})
	}
}

func TestGroupComponentReturningNilLeavesOthersRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		log, _ := newLog()
		g := run.NewGroup(log, time.Minute)
		var hooks atomic.Int32
		g.OnShutdown(func() { hooks.Add(1) })
		var workerCtx atomic.Pointer[context.Context]
		g.Add("migrate", func(context.Context) error { return nil })
		g.Add("worker", func(ctx context.Context) error {
			workerCtx.Store(&ctx)
			<-ctx.Done()
			return ctx.Err()
		})
		result := make(chan error, 1)
		go func() { result <- g.Run(ctx) }()

		time.Sleep(time.Hour)
		synctest.Wait()
		if c := workerCtx.Load(); c == nil || (*c).Err() != nil {
			t.Fatal("worker stopped after migrate returned nil")
		}
		if n := hooks.Load(); n != 0 {
			t.Errorf("%d shutdown hooks ran before shutdown", n)
		}
		cancel()
		if err := <-result; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if n := hooks.Load(); n != 1 {
			t.Errorf("%d shutdown hook calls, want 1", n)
		}
	})
}

func TestGroupEndsWhenEveryComponentReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, _ := newLog()
		for _, n := range []int{0, 2} {
			g := run.NewGroup(log, time.Minute)
			var hooks atomic.Int32
			g.OnShutdown(func() { hooks.Add(1) })
			for i := range n {
				g.Add(fmt.Sprint("job", i), func(context.Context) error { time.Sleep(time.Second); return nil })
			}
			if err := g.Run(context.Background()); err != nil {
				t.Errorf("%d components: Run = %v, want nil", n, err)
			}
			if got := hooks.Load(); got != 1 {
				t.Errorf("%d components: %d shutdown hook calls, want 1", n, got)
			}
		}
	})
}
