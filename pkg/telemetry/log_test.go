package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"

	"github.com/socialsync/socialsync/pkg/telemetry"
)

// syncWriter makes a writer safe to share between the goroutine logging
// and the test reading.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// spanContext returns a context holding a fixed, valid remote span context.
func spanContext(t testing.TB) (context.Context, trace.SpanContext) {
	t.Helper()
	tid, err := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex("00f067aa0ba902b7")
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
	return trace.ContextWithSpanContext(context.Background(), sc), sc
}

// decode parses one JSON log line.
func decode(t testing.TB, line []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("log line %q is not JSON: %v", line, err)
	}
	delete(m, "time")
	return m
}

func TestLoggerAddsTraceIDs(t *testing.T) {
	ctx, sc := spanContext(t)
	tid, sid := sc.TraceID().String(), sc.SpanID().String()

	tests := []struct {
		name string
		log  func(*slog.Logger)
		want map[string]any
	}{
		{
			name: "span in context",
			log:  func(l *slog.Logger) { l.InfoContext(ctx, "tags fetched", "location", "loc1") },
			want: map[string]any{"level": "INFO", "msg": "tags fetched", "location": "loc1", "trace_id": tid, "span_id": sid},
		},
		{
			name: "no span",
			log:  func(l *slog.Logger) { l.Info("tags fetched", "location", "loc1") },
			want: map[string]any{"level": "INFO", "msg": "tags fetched", "location": "loc1"},
		},
		{
			name: "nil context",
			log:  func(l *slog.Logger) { l.InfoContext(nil, "tags fetched") }, //nolint:staticcheck // a nil context must not panic
			want: map[string]any{"level": "INFO", "msg": "tags fetched"},
		},
		{
			name: "with attributes",
			log:  func(l *slog.Logger) { l.With("location", "loc1").InfoContext(ctx, "tags fetched", "seq", 7) },
			want: map[string]any{"level": "INFO", "msg": "tags fetched", "location": "loc1", "seq": float64(7), "trace_id": tid, "span_id": sid},
		},
		{
			name: "ids stay at the top level under a group",
			log: func(l *slog.Logger) {
				l.With("location", "loc1").WithGroup("msg_meta").With("subject", "s").InfoContext(ctx, "handled", "seq", 7)
			},
			want: map[string]any{
				"level": "INFO", "msg": "handled", "location": "loc1", "trace_id": tid, "span_id": sid,
				"msg_meta": map[string]any{"subject": "s", "seq": float64(7)},
			},
		},
		{
			name: "below the level",
			log:  func(l *slog.Logger) { l.DebugContext(ctx, "noise") },
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(telemetry.NewLogger(&buf, slog.LevelInfo, "json"))
			if tt.want == nil {
				if buf.Len() != 0 {
					t.Errorf("logged %q, want nothing", buf.String())
				}
				return
			}
			if diff := cmp.Diff(tt.want, decode(t, buf.Bytes())); diff != "" {
				t.Errorf("log record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoggerTextFormat(t *testing.T) {
	ctx, sc := spanContext(t)
	var buf bytes.Buffer
	telemetry.NewLogger(&buf, slog.LevelDebug, "text").DebugContext(ctx, "tags fetched", "location", "loc1", "token", "s3cr3t")
	got := buf.String()
	for _, want := range []string{"level=DEBUG", `msg="tags fetched"`, "location=loc1", "trace_id=" + sc.TraceID().String(), "span_id=" + sc.SpanID().String()} {
		if !strings.Contains(got, want) {
			t.Errorf("text line %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "s3cr3t") {
		t.Errorf("text line %q shows the token", got)
	}
}

// errString is an error whose text is fixed.
type errString string

func (e errString) Error() string { return string(e) }

func TestLoggerNeverShowsSecrets(t *testing.T) {
	const secret = "s3cr3t-Value-0123456789"
	tests := []struct {
		name string
		log  func(*slog.Logger)
		keep string // something innocent that must still be logged
	}{
		{"token", func(l *slog.Logger) { l.Info("connected", "token", secret, "location", "loc1") }, "loc1"},
		{"mixed case Authorization", func(l *slog.Logger) { l.Info("request", "Authorization", "Bearer "+secret, "subject", "s1") }, "s1"},
		{"refresh_token", func(l *slog.Logger) { l.Info("refreshed", slog.String("refresh_token", secret), "attempt", 2) }, "attempt"},
		{"API_KEY", func(l *slog.Logger) { l.Info("key", "API_KEY", secret, "location", "loc1") }, "loc1"},
		{"clientSecret", func(l *slog.Logger) { l.Info("oauth", "clientSecret", secret, "location", "loc1") }, "loc1"},
		{"password", func(l *slog.Logger) { l.Info("login", "Password", secret, "location", "loc1") }, "loc1"},
		{"secret in a group", func(l *slog.Logger) {
			l.Info("creds", slog.Group("creds", "access_token", secret, "location", "loc1"))
		}, "loc1"},
		{"group named like a secret", func(l *slog.Logger) {
			l.Info("creds", slog.Group("token", "value", secret), "location", "loc1")
		}, "loc1"},
		{"WithGroup named like a secret", func(l *slog.Logger) { l.WithGroup("secret").Info("creds", "value", secret) }, "creds"},
		{"With", func(l *slog.Logger) { l.With("api_key", secret).Info("call", "location", "loc1") }, "loc1"},
		{"LogValuer resolving to a group", func(l *slog.Logger) { l.Info("token state", "creds", creds{Location: "loc1", AccessToken: secret}) }, "loc1"},
		{"http.Header", func(l *slog.Logger) {
			h := http.Header{"Authorization": {"Bearer " + secret}, "X-Api-Key": {secret}, "Version": {"2021-07-28"}}
			l.Info("request", "headers", h)
		}, "2021-07-28"},
		{"map[string]string", func(l *slog.Logger) {
			l.Info("form", "form", map[string]string{"refresh_token": secret, "grant_type": "refresh_token"})
		}, "grant_type"},
		{"map[string]any", func(l *slog.Logger) {
			l.Info("body", "body", map[string]any{"access_token": secret, "expires_in": 86399})
		}, "86399"},
		{"bearer in an error", func(l *slog.Logger) {
			l.Error("call failed", "err", fmt.Errorf("call ghl: %w", errString("sent Authorization: Bearer "+secret)))
		}, "call ghl"},
		{"query parameter in an error", func(l *slog.Logger) {
			l.Error("call failed", "err", errString(`Post "https://example.test/oauth/token?refresh_token=`+secret+`&x=1": EOF`))
		}, "x=1"},
		{"JSON body in a string", func(l *slog.Logger) {
			l.Warn("unexpected body", "subject", `{"access_token":"`+secret+`","scope":"contacts.readonly"}`)
		}, "contacts.readonly"},
		{"bearer in the message", func(l *slog.Logger) { l.Info("Bearer " + secret) }, "Bearer"},
	}
	for _, tt := range tests {
		for _, format := range []string{"json", "text"} {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				tt.log(telemetry.NewLogger(&buf, slog.LevelInfo, format))
				got := buf.String()
				if strings.Contains(got, secret) || strings.Contains(got, secret[:12]) {
					t.Errorf("log shows the secret:\n%s", got)
				}
				if !strings.Contains(got, tt.keep) {
					t.Errorf("log lost %q, which is no secret:\n%s", tt.keep, got)
				}
				if format == "json" {
					decode(t, buf.Bytes())
				}
			})
		}
	}
}

func TestLoggerKeepsStructureAroundRemovedGroups(t *testing.T) {
	ctx, sc := spanContext(t)
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want map[string]any
	}{
		{
			name: "group emptied by removal",
			log: func(l *slog.Logger) {
				l.Info("creds", slog.Group("creds", slog.Group("oauth", "refresh_token", "x")), "location", "loc1")
			},
			want: map[string]any{"level": "INFO", "msg": "creds", "location": "loc1"},
		},
		{
			name: "group partly removed",
			log: func(l *slog.Logger) {
				l.Info("creds", slog.Group("creds", "access_token", "x", "location", "loc1"), "attempt", 1)
			},
			want: map[string]any{"level": "INFO", "msg": "creds", "attempt": float64(1), "creds": map[string]any{"location": "loc1"}},
		},
		{
			name: "secret WithGroup keeps the message and the trace ids",
			log: func(l *slog.Logger) {
				l.With("location", "loc1").WithGroup("secrets").With("a", 1).WithGroup("inner").InfoContext(ctx, "loaded", "b", 2)
			},
			want: map[string]any{
				"level": "INFO", "msg": "loaded", "location": "loc1",
				"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String(),
			},
		},
		{
			name: "With of an emptied group",
			log: func(l *slog.Logger) {
				l.With(slog.Group("g", "password", "x"), "subject", "s").Info("m", "seq", 3)
			},
			want: map[string]any{"level": "INFO", "msg": "m", "subject": "s", "seq": float64(3)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(telemetry.NewLogger(&buf, slog.LevelInfo, "json"))
			if diff := cmp.Diff(tt.want, decode(t, buf.Bytes())); diff != "" {
				t.Errorf("log record (-want +got):\n%s", diff)
			}
		})
	}
}

// creds is a type that logs itself as a group.
type creds struct {
	Location    string
	AccessToken string
}

func (c creds) LogValue() slog.Value {
	return slog.GroupValue(slog.String("location", c.Location), slog.String("access_token", c.AccessToken))
}
