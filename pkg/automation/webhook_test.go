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
