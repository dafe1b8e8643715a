package ghlspec

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// Transport is an http.RoundTripper that validates every request it sends
// and every response it receives against the official files, and records
// what fails. Exempt paths pass through unchecked.
type Transport struct {
	Spec *Spec
	Next http.RoundTripper // nil means http.DefaultTransport

	mu         sync.Mutex
	checked    int
	violations []error
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	if t.Spec == nil || Exempt(req.URL.Path) {
		return next.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		reqBody = b
		replayable := req.GetBody != nil
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		if replayable {
			// Only then: net/http replays a request it can have again,
			// and the client under test may have made its own not.
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		}
	}
	if err := t.Spec.ValidateRequest(req.Context(), req, reqBody); err != nil {
		t.record(err)
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := t.Spec.ValidateResponse(req.Context(), req, reqBody, resp.StatusCode, resp.Header, body); err != nil {
		t.record(err)
	}
	t.mu.Lock()
	t.checked++
	t.mu.Unlock()
	return resp, nil
}

func (t *Transport) record(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.violations = append(t.violations, err)
}

// Checked is the number of exchanges validated so far.
func (t *Transport) Checked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.checked
}

// Violations returns what failed validation so far.
func (t *Transport) Violations() []error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]error(nil), t.violations...)
}
