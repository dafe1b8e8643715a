package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// bounded applies the request limits that must act on the server's own
// connection, so it wraps every other layer (tracing, metrics, the mux):
//
//   - a request declaring a Content-Length over SOCIALSYNC_WEBHOOK_MAX_BYTES
//     is answered 413 before a byte of its body is read, so a client sending
//     "Expect: 100-continue" gets no 100 Continue and sends nothing;
//   - a body without a declared length (chunked) is cut at the same limit
//     (readBody answers 413), and the server, told through its own
//     ResponseWriter, closes the connection after the answer;
//   - a body must arrive within SOCIALSYNC_GATEWAY_BODY_TIMEOUT (readBody
//     answers 408); the deadline is lifted once the body has been read, so
//     a long handler is not cut off. A request without a body has nothing
//     to read after its headers (the server's ReadHeaderTimeout bounds
//     those), which is why the event stream, a GET, runs on unbounded.
func (g *Gateway) bounded(next http.Handler) http.Handler {
	max, timeout := g.cfg.WebhookMaxBytes, g.cfg.BodyTimeout
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, "too_large",
				fmt.Sprintf("body of %d bytes declared (Content-Length): at most %d bytes are accepted", r.ContentLength, max))
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			g.log.Warn("request body deadline not set", "err", err)
		}
		// A shallow copy: the server keeps its own view of the body, which
		// decides whether the connection can be reused.
		r2 := r.WithContext(r.Context())
		r2.Body = &deadlineBody{ReadCloser: http.MaxBytesReader(w, r.Body, max), rc: rc}
		next.ServeHTTP(w, r2)
	})
}

// deadlineBody lifts the body's read deadline once the body has been read
// whole: the server then watches the connection for the client going away,
// and a deadline passing there would cancel the request's context.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
