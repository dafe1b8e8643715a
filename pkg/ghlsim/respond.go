package ghlsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// maxBodyBytes bounds every request body the simulator reads.
const maxBodyBytes = 1 << 20

// bufPool holds encode buffers so a response costs no buffer allocation.
type bufPool struct{ p sync.Pool }

func (bp *bufPool) get() *bytes.Buffer {
	if b, ok := bp.p.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (bp *bufPool) put(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 {
		bp.p.Put(b)
	}
}

// writeJSON writes v as the JSON body with status. Like Express, it does
// not escape <, > and &, and adds no trailing newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b *bytes.Buffer
	pool, _ := w.(interface{ buffers() *bufPool })
	if pool != nil {
		b = pool.buffers().get()
		defer pool.buffers().put(b)
	} else {
		b = new(bytes.Buffer)
	}
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only simulator bugs reach this: every body is a plain struct.
		http.Error(w, `{"statusCode":500,"message":"Internal Server Error"}`, http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, bytes.TrimSuffix(b.Bytes(), []byte{'\n'}))
}

// encodeJSON returns v encoded as writeJSON would encode it.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

// writeRaw writes an already encoded JSON body with status.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// bodyError is a request body HighLevel would refuse: Status is 400 for a
// body that is not JSON and 422 for one that is JSON of the wrong shape.
type bodyError struct {
	Status   int
	Messages []string
}

func (e *bodyError) Error() string { return strings.Join(e.Messages, "; ") }

// write answers the request with the error.
func (e *bodyError) write(w http.ResponseWriter) {
	if e.Status == http.StatusUnprocessableEntity {
		writeUnprocessable(w, e.Messages...)
		return
	}
	writeBadRequest(w, strings.Join(e.Messages, "; "))
}

// unprocessable returns a 422 bodyError.
func unprocessable(msgs ...string) *bodyError {
	return &bodyError{Status: http.StatusUnprocessableEntity, Messages: msgs}
}

// badRequest returns a 400 bodyError.
func badRequest(format string, args ...any) *bodyError {
	return &bodyError{Status: http.StatusBadRequest, Messages: []string{fmt.Sprintf(format, args...)}}
}

// decodeBody reads the JSON request body into dst. An empty body is
// reported by the returned empty flag, not as an error, because required
// fields are checked by the caller (HighLevel answers 422 for them).
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) (empty bool, berr *bodyError) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return false, badRequest("request entity too large: limit is %d bytes", maxBodyBytes)
		}
		return false, badRequest("could not read request body")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return true, nil
	}
	if err := json.Unmarshal(data, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field := typeErr.Field
			if field == "" {
				field = "body"
			}
			return false, unprocessable(fmt.Sprintf("%s must be of type %s", field, jsonKind(typeErr.Type.Kind().String())))
		}
		return false, badRequest("Unexpected token in JSON body: %v", err)
	}
	return false, nil
}

// jsonKind names a Go kind the way a JSON API user thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	case "int", "int64", "float64", "uint64":
		return "number"
	case "bool":
		return "boolean"
	default:
		return kind
	}
}

// flexString is a request field HighLevel types as a string but that
// clients also send as a number or boolean (skip and limit of the posts
// list, for example). Set tells whether the field was present.
type flexString struct {
	Value string
	Set   bool
}

// UnmarshalJSON accepts a string, a number or a boolean.
func (f *flexString) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		if err := json.Unmarshal(data, &f.Value); err != nil {
			return err
		}
		f.Set = true
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err == nil {
		f.Value, f.Set = n.String(), true
		return nil
	}
	var b bool
	if err := json.Unmarshal(data, &b); err == nil {
		f.Value, f.Set = strconv.FormatBool(b), true
		return nil
	}
	return &json.UnmarshalTypeError{Value: string(data), Type: reflect.TypeFor[string]()}
}
