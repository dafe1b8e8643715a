package gateway

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// counted counts every answer in socialsync.gateway.requests by route
// (the ServeMux pattern, so ids never become attributes) and status: the
// webhook's accepted, duplicate, refused and 429 answers among them.
func (g *Gateway) counted(next http.Handler) http.Handler {
	requests, err := g.deps.Telemetry.MeterProvider().Meter("socialsync/gateway").Int64Counter("socialsync.gateway.requests",
		metric.WithDescription("Requests the gateway answered, by route and status."))
	if err != nil {
		g.log.Warn("gateway metrics", "err", err)
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		requests.Add(r.Context(), 1, metric.WithAttributes(attribute.String("route", route), attribute.String("status", strconv.Itoa(sw.status))))
	})
}

// statusWriter remembers the status of an answer. Unwrap lets
// http.ResponseController flush the event stream through it.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
