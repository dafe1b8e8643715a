package ghl_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// recordingLimiter admits what it is asked, in order, until refuse says
// otherwise, and records what the client asked and told it.
type recordingLimiter struct {
	mu       sync.Mutex
	acquired []time.Time
	keys     []string
	observed []ghl.ResponseInfo
	// refuse, when set, answers the n-th Acquire (from 1).
	refuse func(n int) error
	// admitted, when set, is called after each permit is handed out.
	admitted func()
}

func (l *recordingLimiter) Acquire(ctx context.Context, resource string) (ghl.Release, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acquired = append(l.acquired, time.Now())
	l.keys = append(l.keys, resource)
	if l.refuse != nil {
		if err := l.refuse(len(l.keys)); err != nil {
			return nil, err
		}
	}
	if l.admitted != nil {
		l.admitted()
	}
	return func(info ghl.ResponseInfo) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.observed = append(l.observed, info)
	}, nil
}

// pacedErr stands for a limiter's own error type.
type pacedErr struct{ wait time.Duration }

func (e *pacedErr) Error() string { return fmt.Sprintf("paced for %v", e.wait) }

// Every attempt, retries included, takes a permit for the call's location
// first and reports its response after.
func TestLimiterPacesEveryAttempt(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{Contacts: []contactSpec{{ID: "c0000000000000000001", Tags: []string{}}}})
	lim := &recordingLimiter{}
	ctx := context.Background()

	c := sb.client(tok, ghl.Options{Limiter: lim, MaxRetries: 2})
	if _, err := c.Accounts(ctx, loc); err != nil {
		t.Fatal(err)
	}
	// A route without the location takes the ForLocation view's.
	if _, err := c.ForLocation(loc, nil).AddContactTags(ctx, "c0000000000000000001", []string{"x"}); err != nil {
		t.Fatal(err)
	}
	sb.faults(map[string]any{"rate500": 1.0, "seed": 1})
	if _, err := c.Accounts(ctx, loc); !ghl.IsRetryable(err) {
		t.Fatalf("with 500s: %v", err)
	}

	lim.mu.Lock()
	defer lim.mu.Unlock()
	if len(lim.keys) != 5 {
		t.Fatalf("%d permits asked, want 5 (1 + 1 + 3 attempts)", len(lim.keys))
	}
	for i, k := range lim.keys {
		if k != loc {
			t.Errorf("permit %d asked for %q, want %q", i, k, loc)
		}
	}
	want := []int{200, 201, 500, 500, 500}
	if len(lim.observed) != len(want) {
		t.Fatalf("%d responses observed, want %d", len(lim.observed), len(want))
	}
	for i, o := range lim.observed {
		if o.StatusCode != want[i] || o.Location != loc || o.Attempt != []int{1, 1, 1, 2, 3}[i] {
			t.Errorf("observed %d: status %d location %q attempt %d", i, o.StatusCode, o.Location, o.Attempt)
		}
	}
	if !lim.observed[0].RateLimit.Present {
		t.Error("the limiter did not see the response's rate limit")
	}
}

// A refused permit ends the call before anything is sent, with the
// limiter's error (and the last attempt's) for errors.As.
func TestLimiterRefusalEndsTheCall(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{})
	ctx := context.Background()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })

	lim := &recordingLimiter{refuse: func(int) error { return &pacedErr{wait: 3 * time.Second} }}
	_, err := sb.client(tok, ghl.Options{Limiter: lim, TracerProvider: tp}).Accounts(ctx, loc)
	var pe *pacedErr
	if !errors.As(err, &pe) || pe.wait != 3*time.Second {
		t.Fatalf("err = %v, want the limiter's error", err)
	}
	if n := len(sb.requests(loc)); n != 0 {
		t.Errorf("%d requests sent without a permit", n)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	if got := attrMap(spans[0])["error.type"]; got.AsString() != "limiter" {
		t.Errorf("span error.type = %q, want limiter", got.AsString())
	}

	// Refused on the retry after a 429: both errors are there, and the
	// client did not sleep the Retry-After first (the limiter owns the
	// wait).
	sb.faults(map[string]any{"rate429": 1.0, "seed": 1})
	lim = &recordingLimiter{refuse: func(n int) error {
		if n > 1 {
			return &pacedErr{wait: time.Second}
		}
		return nil
	}}
	start := time.Now()
	_, err = sb.client(tok, ghl.Options{Limiter: lim}).Accounts(ctx, loc)
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want the limiter's error", err)
	}
	var ge *ghl.Error
	if _, limited := ghl.IsRateLimited(err); !limited || !errors.As(err, &ge) || ge.Attempts != 1 {
		t.Errorf("err = %v, want it to carry the 429 of the one attempt", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("refused retry came %v after the 429: the client slept its Retry-After (1s)", d)
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if len(lim.observed) != 1 || lim.observed[0].StatusCode != http.StatusTooManyRequests {
		t.Errorf("observed %+v, want the one 429", lim.observed)
	}
}

// A context that ends while the limiter waits ends the call with the
// context's error.
func TestLimiterContextEnds(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{})
	lim := &blockingLimiter{}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := sb.client(tok, ghl.Options{Limiter: lim}).Accounts(ctx, loc)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if n := len(sb.requests(loc)); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// blockingLimiter never admits anything.
type blockingLimiter struct{}

func (blockingLimiter) Acquire(ctx context.Context, _ string) (ghl.Release, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func attrMap(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, a := range s.Attributes {
		m[a.Key] = a.Value
	}
	return m
}

// orderLog records, in order, the token reads and the permits of a client.
type orderLog struct {
	mu     sync.Mutex
	events []string
}

func (o *orderLog) add(e string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, e)
}

type orderedTokens struct {
	log   *orderLog
	token string
}

func (s orderedTokens) Token() (*oauth2.Token, error) {
	s.log.add("token")
	return &oauth2.Token{AccessToken: s.token}, nil
}

type orderedLimiter struct{ log *orderLog }

func (l orderedLimiter) Acquire(context.Context, string) (ghl.Release, error) {
	l.log.add("permit")
	return func(ghl.ResponseInfo) { l.log.add("release") }, nil
}

// Every attempt reads its token before it takes its permit: a token read
// (or refresh) takes round trips, and HighLevel counts a request when it
// arrives, so nothing may sit between the permit and the request.
func TestTokenBeforePermit(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{})
	log := &orderLog{}
	c := sb.client("", ghl.Options{TokenSource: orderedTokens{log: log, token: tok}, Limiter: orderedLimiter{log: log}, MaxRetries: 1})
	if _, err := c.Accounts(context.Background(), loc); err != nil {
		t.Fatal(err)
	}
	sb.faults(map[string]any{"rate500": 1.0, "seed": 1})
	if _, err := c.Accounts(context.Background(), loc); !ghl.IsRetryable(err) {
		t.Fatalf("with 500s: %v", err)
	}
	want := []string{"token", "permit", "release", "token", "permit", "release", "token", "permit", "release"}
	if !slices.Equal(log.events, want) {
		t.Errorf("calls in order %v, want %v", log.events, want)
	}
}

// Every admitted attempt releases its permit exactly once, with what it
// got, whatever happens to it: a response, a connection reset, a timeout,
// a context that ends during the send. A permit never released would hold
// its location's budget; one released twice would free budget in use.
func TestEveryPermitReleasedOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		faults  map[string]any
		opts    ghl.Options
		timeout time.Duration
		// cancelOnPermit ends the call's context as soon as the permit
		// is handed out, before the request is sent.
		cancelOnPermit bool
		// wantStatus is the status every release reports (0: none arrived).
		wantStatus int
	}{
		{name: "response", wantStatus: http.StatusOK},
		{name: "server error, retried", faults: map[string]any{"rate500": 1.0, "seed": 1}, opts: ghl.Options{MaxRetries: 2},
			wantStatus: http.StatusInternalServerError},
		{name: "connection reset, retried", faults: map[string]any{"resetRate": 1.0, "seed": 1}, opts: ghl.Options{MaxRetries: 2}},
		{name: "attempt timeout", faults: map[string]any{"latencyMs": 2000}, opts: ghl.Options{MaxRetries: -1, AttemptTimeout: 50 * time.Millisecond}},
		{name: "context ends during the send", faults: map[string]any{"latencyMs": 2000}, opts: ghl.Options{MaxRetries: -1}, timeout: 50 * time.Millisecond},
		{name: "context ends between permit and send", cancelOnPermit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t)
			loc, tok := sb.createLocation(locationSpec{})
			if tt.faults != nil {
				sb.faults(tt.faults)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			lim := &recordingLimiter{}
			if tt.cancelOnPermit {
				lim.admitted = cancel
			}
			_, _ = sb.client(tok, ghl.Options{Limiter: lim, MaxRetries: tt.opts.MaxRetries, AttemptTimeout: tt.opts.AttemptTimeout,
				HTTPClient: &http.Client{}}).Accounts(ctx, loc)
			lim.mu.Lock()
			defer lim.mu.Unlock()
			if len(lim.acquired) == 0 || len(lim.observed) != len(lim.acquired) {
				t.Fatalf("%d permits, %d releases; want one release per permit", len(lim.acquired), len(lim.observed))
			}
			for i, o := range lim.observed {
				if o.StatusCode != tt.wantStatus || o.Attempt != i+1 || o.Location != loc {
					t.Errorf("release %d: status %d attempt %d location %q; want status %d", i, o.StatusCode, o.Attempt, o.Location, tt.wantStatus)
				}
				if tt.wantStatus != http.StatusOK && o.Err == nil {
					t.Errorf("release %d carries no error", i)
				}
			}
		})
	}
}

// countingLimiter admits everything and counts the permits.
type countingLimiter struct{ n atomic.Int64 }

func (l *countingLimiter) Acquire(context.Context, string) (ghl.Release, error) {
	l.n.Add(1)
	return func(ghl.ResponseInfo) {}, nil
}

// Every request that reaches HighLevel took its own permit, also when
// connections break after the request left: net/http's Transport must not
// send a GET again on its own (it does so on a reused connection reset
// before the response, unless the request cannot be replayed).
func TestEveryRequestHasItsPermit(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{})
	sb.faults(map[string]any{"resetRate": 0.3, "seed": 1})
	lim := &countingLimiter{}
	c := sb.client(tok, ghl.Options{Limiter: lim, MaxRetries: 3})
	for range 100 {
		_, _ = c.Accounts(context.Background(), loc)
	}
	var log struct {
		Requests []struct {
			Fault string `json:"fault"`
		} `json:"requests"`
	}
	sb.admin(http.MethodGet, "/_sandbox/requests?location="+loc, nil, &log, http.StatusOK)
	resets := 0
	for _, r := range log.Requests {
		if r.Fault == "reset" {
			resets++
		}
	}
	if resets == 0 {
		t.Fatal("no connection was reset: the test proves nothing")
	}
	if got := int64(len(log.Requests)); got != lim.n.Load() {
		t.Errorf("HighLevel got %d requests (%d reset) for %d permits", got, resets, lim.n.Load())
	}
}
