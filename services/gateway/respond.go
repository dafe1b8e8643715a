package gateway

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
)

// apiError is the body of every refusal: {"error":{"code","message"}}.
type apiError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field, Line and Column locate the problem in a definition file
	// (segments and workflows).
	Field  string `json:"field,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	// Problems name each field of a setting that cannot be applied, for
	// a form to show next to the field.
	Problems []settings.Problem `json:"problems,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, apiError{Error: errorBody{Code: code, Message: message}})
}

// unavailable answers 429 with Retry-After: senders such as HighLevel's
// retry on 429 only.
func unavailable(w http.ResponseWriter, message string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	writeError(w, http.StatusTooManyRequests, "unavailable", message)
}

// retryAfterSeconds is the Retry-After of a 429 for an unavailable
// JetStream.
const retryAfterSeconds = 5

// Retry-After of a 503 for a message JetStream had no room for: a
// location's backlog shrinks as its workers ack, a full stream as the
// whole fleet's does.
const (
	quotaRetryAfterSeconds = 30
	fullRetryAfterSeconds  = 60
)

// full answers 503 with Retry-After when err is a publish the triggers
// stream refused for want of room (a *bus.FullError: bus.ErrSubjectFull
// for the location's quota, bus.ErrStreamFull for the stream) and reports
// whether it did.
// Nothing was stored, and nothing stored was deleted.
func (g *Gateway) full(w http.ResponseWriter, err error) bool {
	var fe *bus.FullError
	if !errors.As(err, &fe) {
		return false
	}
	_, loc, _ := topology.ParseSubject(fe.Subject)
	switch {
	case errors.Is(err, bus.ErrSubjectFull):
		g.log.Warn("trigger refused: location quota reached", "location", loc, "err", err)
		g.countHeldQuota(loc)
		w.Header().Set("Retry-After", strconv.Itoa(quotaRetryAfterSeconds))
		writeError(w, http.StatusServiceUnavailable, "location_quota",
			"location "+loc+" holds its quota of unfinished triggers of this kind (SOCIALSYNC_LIMIT_TRIGGERS_PER_SUBJECT); nothing was stored: retry later")
		return true
	case errors.Is(err, bus.ErrStreamFull):
		g.log.Warn("trigger refused: stream full", "location", loc, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(fullRetryAfterSeconds))
		writeError(w, http.StatusServiceUnavailable, "stream_full",
			"the triggers stream is full (SOCIALSYNC_LIMIT_TRIGGERS_BYTES); nothing was stored: retry later")
		return true
	}
	return false
}

// authenticated lets requests with a valid API key holding scope s
// through (Authorization: Bearer <key>), carrying the key (keyOfRequest).
// The others are answered 401, or 403 for a key without the scope.
func (g *Gateway) authenticated(s scope, next http.HandlerFunc) http.Handler {
	return g.guarded(func(_ http.ResponseWriter, r *http.Request) (http.Handler, bool) {
		auth := r.Header.Get("Authorization")
		scheme, key, ok := strings.Cut(auth, " ")
		if auth == "" {
			return &refusal{status: http.StatusUnauthorized, code: "unauthenticated", message: "missing API key: send Authorization: Bearer <key>",
				header: "WWW-Authenticate", value: `Bearer realm="socialsync"`}, false
		}
		k, valid := g.keyOf(strings.TrimSpace(key))
		if !ok || !strings.EqualFold(scheme, "Bearer") || !valid {
			return &refusal{status: http.StatusUnauthorized, code: "unauthenticated", message: "invalid API key",
				header: "WWW-Authenticate", value: `Bearer realm="socialsync", error="invalid_token"`}, false
		}
		if !k.has(s) {
			return missingScope(k, s), true
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next(w, withKey(r, k)) }), true
	})
}

// Paging: every list takes limit (1 to maxLimit, default defaultLimit)
// and the cursor of the previous page's nextCursor.
const (
	defaultLimit = 50
	maxLimit     = 500
)

type page struct {
	limit  int
	offset int
}

// parsePage reads limit and an offset cursor; on a bad value it answers
// 400 and returns false.
func parsePage(w http.ResponseWriter, r *http.Request) (page, bool) {
	p := page{limit: defaultLimit}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			writeError(w, http.StatusBadRequest, "bad_request", "limit: want 1 to "+strconv.Itoa(maxLimit))
			return p, false
		}
		p.limit = n
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, err := decodeCursor(c)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "cursor: not a cursor this API returned")
			return p, false
		}
		p.offset = int(n)
	}
	return p, true
}

// window returns the part of n items the page shows and the next page's
// cursor ("" on the last page).
func (p page) window(n int) (lo, hi int, next string) {
	lo = min(p.offset, n)
	hi = min(lo+p.limit, n)
	if hi < n {
		next = encodeCursor(uint64(hi))
	}
	return lo, hi, next
}

func encodeCursor(n uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("c" + strconv.FormatUint(n, 10)))
}

func decodeCursor(s string) (uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'c' {
		return 0, errors.New("bad cursor")
	}
	return strconv.ParseUint(string(b[1:]), 10, 63)
}

// readBody reads a request body of at most max bytes; it answers 413,
// 408 (the body did not arrive in time, see bounded) or 400 and returns
// false when it cannot.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, bool) {
	body, f := bodyOf(w, r, max)
	if f != nil {
		f.ServeHTTP(w, r)
		return nil, false
	}
	return body, true
}

// bodyOf is readBody returning its refusal rather than answering it.
func bodyOf(w http.ResponseWriter, r *http.Request, max int64) ([]byte, *refusal) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &refusal{status: http.StatusRequestEntityTooLarge, code: "too_large",
			message: "body larger than " + strconv.FormatInt(tooLarge.Limit, 10) + " bytes: at most that many are accepted"}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, &refusal{status: http.StatusRequestTimeout, code: "timeout", message: "the request body did not arrive in time",
			header: "Connection", value: "close"}
	case err != nil:
		return nil, &refusal{status: http.StatusBadRequest, code: "bad_request", message: "read body: " + err.Error()}
	}
	return body, nil
}

// jsonContent checks that a request body is declared as JSON; it answers
// 415 and returns false otherwise.
func jsonContent(w http.ResponseWriter, r *http.Request) bool {
	if f := notJSON(r); f != nil {
		f.ServeHTTP(w, r)
		return false
	}
	return true
}

// notJSON is jsonContent returning its refusal (nil for JSON) rather than
// answering it.
func notJSON(r *http.Request) *refusal {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := strings.Cut(ct, ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		return &refusal{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", message: "want Content-Type: application/json"}
	}
	return nil
}

// list is one page of a listing: its items and, when more follow, the
// cursor of the next page.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}
