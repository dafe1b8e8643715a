package fleettest

import (
	"strings"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// SpanText is every span rec ended, as text: its name, attributes,
// events with their attributes and status, for tests that look for what
// must not be there (a token, an email).
func SpanText(rec *tracetest.SpanRecorder) string {
	var b strings.Builder
	for _, s := range rec.Ended() {
		b.WriteString(s.Name() + "\n")
		for _, a := range s.Attributes() {
			b.WriteString(string(a.Key) + "=" + a.Value.Emit() + "\n")
		}
		for _, e := range s.Events() {
			b.WriteString(e.Name + "\n")
			for _, a := range e.Attributes {
				b.WriteString(string(a.Key) + "=" + a.Value.Emit() + "\n")
			}
		}
		b.WriteString(s.Status().Description + "\n")
	}
	return b.String()
}
