package fleettest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Request is one entry of the simulator's request log.
type Request struct {
	Method    string     `json:"method"`
	Path      string     `json:"path"` // with the query
	Status    int        `json:"status"`
	Location  string     `json:"location"`
	At        time.Time  `json:"at"`
	TraceID   string     `json:"traceId"`
	TagWrites []TagWrite `json:"tagWrites"`
	// Fault names the simulator's injected fault ("429", "500", "timeout",
	// "reset") that answered the request, or is empty.
	Fault string `json:"fault"`
}

// TagWrite is one contact's part of a contact tag call: Op is "add" or
// "remove".
type TagWrite struct {
	ContactID string   `json:"contactId"`
	Op        string   `json:"op"`
	Tags      []string `json:"tags"`
}

// Requests returns the simulator's request log for loc (every location's
// when empty), oldest first.
func (e *Env) Requests(tb testing.TB, loc string) []Request {
	tb.Helper()
	return Requests(tb, e.SimURL, loc)
}

// Requests returns the request log of the simulator at simURL, as
// Env.Requests does.
func Requests(tb testing.TB, simURL, loc string) []Request {
	tb.Helper()
	var out struct {
		Requests []Request `json:"requests"`
	}
	path := "/_sandbox/requests"
	if loc != "" {
		path += "?location=" + url.QueryEscape(loc)
	}
	Admin(tb, simURL, http.MethodGet, path, nil, &out)
	return out.Requests
}

// Calls counts loc's requests with method whose path, query left out,
// is path.
func (e *Env) Calls(tb testing.TB, loc, method, path string) int {
	tb.Helper()
	n := 0
	for _, r := range e.Requests(tb, loc) {
		p, _, _ := strings.Cut(r.Path, "?")
		if r.Method == method && p == path {
			n++
		}
	}
	return n
}
