package automation

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSignVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"a":1}`)
	at := time.Unix(1_800_000_000, 0)
	h := Sign(secret, at, body)
	if !strings.HasPrefix(h, "t=1800000000,v1=") {
		t.Fatalf("header %q", h)
	}
	if err := Verify(secret, h, body, at.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	for name, check := range map[string]error{
		"other body":   Verify(secret, h, []byte(`{"a":2}`), at, 5*time.Minute),
		"other secret": Verify([]byte("x"), h, body, at, 5*time.Minute),
		"too old":      Verify(secret, h, body, at.Add(time.Hour), 5*time.Minute),
		"garbage":      Verify(secret, "v1=abc", body, at, 5*time.Minute),
	} {
		if !errors.Is(check, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, check)
		}
	}
}

// A webhook is retried on 5xx and dead (ErrActionFailed) once attempts
// run out or on a 4xx; errors never show the URL's path.
func TestWebhookRetries(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook"), []byte("topsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	var status atomic.Int32
	status.Store(500)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		if err := Verify([]byte("topsecret"), r.Header.Get(HeaderSignature), body, time.Now(), time.Minute); err != nil {
			t.Errorf("signature: %v", err)
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	wh := &Webhooks{Client: loopbackClient(t), Secrets: DirSecrets(dir), Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
	d := Delivery{URL: srv.URL + "/T0/B0/tokenpath", Secret: "hook", ID: "id", Body: []byte(`{}`)}
	err := wh.Send(context.Background(), d)
	if !errors.Is(err, ErrActionFailed) || calls.Load() != 3 {
		t.Errorf("500s: %v after %d calls; want ErrActionFailed after 3", err, calls.Load())
	}
	if strings.Contains(err.Error(), "tokenpath") {
		t.Errorf("error shows the URL path: %v", err)
	}
	calls.Store(0)
	status.Store(404)
	if err := wh.Send(context.Background(), d); !errors.Is(err, ErrActionFailed) || calls.Load() != 1 {
		t.Errorf("404: %v after %d calls; want ErrActionFailed after 1", err, calls.Load())
	}
	calls.Store(0)
	status.Store(204)
	if err := wh.Send(context.Background(), d); err != nil || calls.Load() != 1 {
		t.Errorf("204: %v after %d calls", err, calls.Load())
	}
	d.Secret = "missing"
	if err := wh.Send(context.Background(), d); !errors.Is(err, ErrActionFailed) {
		t.Errorf("missing secret: %v", err)
	}
}

// fakeTimer records the waits asked of it. It fires at once, unless
// onStart, called with the wait, says to hold.
type fakeTimer struct {
	waits   []time.Duration
	onStart func(time.Duration) (fire bool)
	c       chan time.Time
}

func (f *fakeTimer) Start(d time.Duration) {
	f.waits = append(f.waits, d)
	f.c = make(chan time.Time, 1)
	if f.onStart == nil || f.onStart(d) {
		f.c <- time.Time{}
	}
}

func (f *fakeTimer) Stop()               {}
func (f *fakeTimer) C() <-chan time.Time { return f.c }

// The waits between attempts start at Backoff and double up to
// MaxBackoff; a Retry-After within MaxBackoff stands for one wait (the
// doubling goes on behind it), a longer one is ignored; a context ended
// during a wait ends the delivery with the context's error.
func TestWebhookWaits(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook"), []byte("topsecret"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		retryAfter map[int32]string // by call, from 1
		want       []time.Duration
	}{
		{"no retry-after", nil, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"retry-after within the max", map[int32]string{2: "3"}, []time.Duration{time.Second, 3 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"retry-after over the max", map[int32]string{1: "30"}, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if ra, ok := tt.retryAfter[calls.Add(1)]; ok {
					w.Header().Set("Retry-After", ra)
				}
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			defer srv.Close()
			timer := &fakeTimer{}
			wh := &Webhooks{Client: loopbackClient(t), Secrets: DirSecrets(dir), Attempts: 5, Backoff: time.Second, MaxBackoff: 8 * time.Second, timer: timer}
			err := wh.Send(context.Background(), Delivery{URL: srv.URL, Secret: "hook", ID: "id", Body: []byte(`{}`)})
			if !errors.Is(err, ErrActionFailed) || calls.Load() != 5 {
				t.Errorf("Send = %v after %d calls, want ErrActionFailed after 5", err, calls.Load())
			}
			if diff := cmp.Diff(tt.want, timer.waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("cancelled while waiting", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusBadGateway)
		}))
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		timer := &fakeTimer{onStart: func(time.Duration) bool { cancel(); return false }}
		wh := &Webhooks{Client: loopbackClient(t), Secrets: DirSecrets(dir), Attempts: 5, Backoff: time.Hour, MaxBackoff: time.Hour, timer: timer}
		if err := wh.Send(ctx, Delivery{URL: srv.URL, Secret: "hook", ID: "id", Body: []byte(`{}`)}); !errors.Is(err, context.Canceled) || calls.Load() != 1 {
			t.Errorf("Send = %v after %d calls, want context.Canceled after 1", err, calls.Load())
		}
	})
}
