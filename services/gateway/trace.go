package gateway

import (
	"net/http"
	"time"
)

// Trace context. A caller's W3C trace context (traceparent, tracestate)
// and baggage are continued only by a request that authenticated (an API
// key, or a webhook whose signature checks out) and only while
// SOCIALSYNC_TRUST_INCOMING_TRACE is true. Every other request (the
// dashboard, the OpenAPI document, unknown paths, and every request that
// fails authentication) is the root of a new trace whose server span links
// to the caller's context when it sent a valid one, so an anonymous caller
// cannot graft the gateway's work, or the triggers it publishes, onto a
// trace of its choosing, nor send baggage along. That decision needs
// authentication, so each route starts its own server span once it has
// authenticated the request; the span and the request's duration still
// begin when the route received it.

// An authenticator decides whether a request is authenticated before its
// server span starts. It returns the handler that answers the request:
// the route's own when ok, a refusal otherwise. It writes nothing itself.
type authenticator func(w http.ResponseWriter, r *http.Request) (h http.Handler, ok bool)

// guarded serves a route whose callers authenticate with auth, in a server
// span that continues the caller's trace when auth succeeded and
// TrustIncomingTrace is set.
func (g *Gateway) guarded(auth authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h, ok := auth(w, r)
		g.spans.Serve(w, r, h, ok && g.cfg.TrustIncomingTrace, start)
	})
}

// public serves a route that anyone may call, in a server span that starts
// a new trace.
func (g *Gateway) public(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.spans.Serve(w, r, h, false, time.Time{})
	})
}

// unrouted serves the requests that match none of routes (the patterns
// registered on mux), which the mux answers itself (404, 405, a redirect),
// in an untrusted server span of their own.
func (g *Gateway) unrouted(mux *http.ServeMux, routes map[string]bool) http.Handler {
	fallback := g.public(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); !routes[pattern] {
			fallback.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// refusal is the answer to a request that an authenticator turned away,
// written inside the request's span.
type refusal struct {
	status        int
	code, message string
	// header, when set, is set to value.
	header, value string
}

func (f *refusal) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	if f.header != "" {
		w.Header().Set(f.header, f.value)
	}
	writeError(w, f.status, f.code, f.message)
}
