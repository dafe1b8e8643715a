package ghlsim

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// requestLogSize is how many requests the log keeps.
const requestLogSize = 100_000

// logEntry is one served request, as GET /_sandbox/requests shows it.
// Status 0 means the connection was reset by an injected fault; 499 means
// the client gave up during an injected timeout.
type logEntry struct {
	Method   string `json:"method"`
	Path     string `json:"path"`
	Status   int    `json:"status"`
	Location string `json:"location"`
	// At is when the request arrived, the moment HighLevel counts it
	// from (a slow or faulted request is logged when it ends).
	At time.Time `json:"at"`
	// TagWrites lists, for the contact tag calls (single and bulk), the
	// tags each contact was asked to gain or lose, so a test can tell
	// whether the same write was made twice.
	TagWrites []tagWrite `json:"tagWrites,omitempty"`
	// TraceID is the trace id of the request's W3C traceparent header, so
	// a test can follow one trace from a trigger to HighLevel.
	TraceID string `json:"traceId,omitempty"`
	// Fault names the injected fault that answered the request ("429",
	// "500", "timeout", "reset"), so a test can tell an injected 429 from
	// one the rate limiter gave. Empty when HighLevel's own logic answered.
	Fault string `json:"fault,omitempty"`
	seq   uint64
}

// tagWrite is one contact's part of a contact tag call.
type tagWrite struct {
	ContactID string   `json:"contactId"`
	Op        string   `json:"op"` // "add", "remove" or "replace" (tags in an upsert)
	Tags      []string `json:"tags"`
}

// requestLog is a bounded ring of the latest requests. Writers claim a slot
// with one atomic increment and publish the entry with an atomic store, so
// logging takes no lock on the hot path.
type requestLog struct {
	next  atomic.Uint64
	slots []atomic.Pointer[logEntry]
}

func newRequestLog(size int) *requestLog {
	return &requestLog{slots: make([]atomic.Pointer[logEntry], size)}
}

// add records a request.
func (l *requestLog) add(method, path string, status int, loc string, at time.Time, writes []tagWrite, traceparent, fault string) {
	seq := l.next.Add(1)
	e := &logEntry{Method: method, Path: path, Status: status, Location: loc, At: at.UTC(), TagWrites: writes,
		TraceID: traceID(traceparent), Fault: fault, seq: seq}
	l.slots[(seq-1)%uint64(len(l.slots))].Store(e)
}

// entries returns the kept requests, oldest first, only those of location
// loc when it is not empty, and at most the newest limit when limit > 0.
func (l *requestLog) entries(loc string, limit int) []logEntry {
	out := make([]logEntry, 0, 64)
	for i := range l.slots {
		e := l.slots[i].Load()
		if e == nil || (loc != "" && e.Location != loc) {
			continue
		}
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b logEntry) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

// traceID returns the trace id of a W3C traceparent header
// ("00-<32 hex trace id>-<16 hex span id>-<flags>"), or "".
func traceID(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	for _, c := range parts[1] {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return ""
		}
	}
	return parts[1]
}
