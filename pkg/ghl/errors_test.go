package ghl

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeErrorBody(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     ErrorBody
		wantCode string
		wantErr  bool
	}{
		{
			name: "message string",
			in:   `{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}`,
			want: ErrorBody{StatusCode: 401, Messages: []string{"Invalid token: access token is invalid"}, Error: "Unauthorized"},
		},
		{
			name: "message array",
			in:   `{"statusCode":422,"message":["tags must be an array","tags should not be empty"],"error":"Unprocessable Entity","traceId":"t-1"}`,
			want: ErrorBody{StatusCode: 422, Messages: []string{"tags must be an array", "tags should not be empty"}, MessageIsList: true, Error: "Unprocessable Entity", TraceID: "t-1"},
		},
		{
			name:     "oauth",
			in:       `{"error":"invalid_grant","error_description":"Invalid grant: refresh token is invalid"}`,
			want:     ErrorBody{Error: "invalid_grant", ErrorDescription: "Invalid grant: refresh token is invalid"},
			wantCode: "invalid_grant",
		},
		{
			name: "status instead of statusCode, extra fields",
			in:   `{"status":400,"options":{},"message":"Argument passed in must be a single String","name":"BadRequestException","error":"Bad Request","traceId":"ce81"}`,
			want: ErrorBody{StatusCode: 400, Messages: []string{"Argument passed in must be a single String"}, Error: "Bad Request", TraceID: "ce81"},
		},
		{
			name: "odd types",
			in:   `{"statusCode":"429","message":[1,{"a": true},null],"error":{"code":7}}`,
			want: ErrorBody{StatusCode: 429, Messages: []string{"1", `{"a":true}`, ""}, MessageIsList: true, Error: `{"code":7}`},
		},
		{name: "null message", in: `{"message":null}`, want: ErrorBody{}},
		{name: "html", in: `<html>502 Bad Gateway</html>`, wantErr: true},
		{name: "empty", in: ``, wantErr: true},
		{name: "array", in: `["x"]`, wantErr: true},
		{name: "null", in: `null`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeErrorBody([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeErrorBody (-want +got):\n%s", diff)
			}
			if got.Code() != tt.wantCode {
				t.Errorf("Code() = %q, want %q", got.Code(), tt.wantCode)
			}
		})
	}
}

func TestErrorBodyMarshal(t *testing.T) {
	tests := []struct {
		name string
		in   ErrorBody
		want string
	}{
		{"one message as string", ErrorBody{StatusCode: 400, Messages: []string{"Bad Request"}}, `{"statusCode":400,"message":"Bad Request"}`},
		{"list flag", ErrorBody{StatusCode: 422, Messages: []string{"Unprocessable Entity"}, MessageIsList: true, Error: "Unprocessable Entity"}, `{"statusCode":422,"message":["Unprocessable Entity"],"error":"Unprocessable Entity"}`},
		{"several messages", ErrorBody{Messages: []string{"a", "b"}}, `{"message":["a","b"]}`},
		{"oauth", ErrorBody{Error: "invalid_grant", ErrorDescription: "used"}, `{"error":"invalid_grant","error_description":"used"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal = %s, want %s", got, tt.want)
			}
			var back ErrorBody
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if back.MessageIsList != (tt.in.MessageIsList || len(tt.in.Messages) > 1) || !cmp.Equal(back.Messages, tt.in.Messages) {
				t.Errorf("decoded back %+v from %+v", back, tt.in)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Method: "POST", Path: "/contacts/{contactId}/tags", StatusCode: 422, Messages: []string{"tags must be an array"}, TraceID: "1234"}
	if got, want := e.Error(), "ghl: POST /contacts/{contactId}/tags: 422 Unprocessable Entity: tags must be an array (trace 1234)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	o := &Error{Method: "POST", Path: "/oauth/token", StatusCode: 400, Code: "invalid_grant", Messages: []string{"refresh token already used"}}
	if got, want := o.Error(), "ghl: POST /oauth/token: 400 Bad Request: invalid_grant: refresh token already used"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	n := &Error{Method: "GET", Path: "/x", Kind: KindRetryable, Err: errors.New("connection reset by peer")}
	if got, want := n.Error(), "ghl: GET /x: connection reset by peer"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   Kind
	}{
		{400, "", KindPermanent},
		{400, "invalid_grant", KindAuth},
		{401, "", KindAuth},
		{403, "", KindAuth},
		{404, "", KindPermanent},
		{408, "", KindRetryable},
		{422, "", KindPermanent},
		{429, "", KindRateLimited},
		{500, "", KindRetryable},
		{501, "", KindPermanent},
		{502, "", KindRetryable},
		{503, "", KindRetryable},
		{504, "", KindRetryable},
	}
	for _, tt := range tests {
		if got := classify(tt.status, tt.code); got != tt.want {
			t.Errorf("classify(%d, %q) = %v, want %v", tt.status, tt.code, got, tt.want)
		}
	}
}

func TestErrorHelpers(t *testing.T) {
	rate := fmt.Errorf("sync: %w", &Error{Kind: KindRateLimited, RetryAfter: 3 * time.Second})
	if d, ok := IsRateLimited(rate); !ok || d != 3*time.Second {
		t.Errorf("IsRateLimited = %v, %v", d, ok)
	}
	if !IsRetryable(rate) || IsAuth(rate) || !errors.Is(rate, ErrRateLimited) || errors.Is(rate, ErrRetryable) {
		t.Errorf("rate-limited error misclassified")
	}
	auth := &Error{Kind: KindAuth}
	if !IsAuth(auth) || IsRetryable(auth) || !errors.Is(auth, ErrAuth) {
		t.Errorf("auth error misclassified")
	}
	perm := &Error{}
	if IsRetryable(perm) || !errors.Is(perm, ErrPermanent) {
		t.Errorf("zero Error should be permanent")
	}
	if _, ok := IsRateLimited(errors.New("x")); ok || IsRetryable(nil) {
		t.Errorf("plain errors are not classified")
	}
	bulk := &BulkError{Op: "add", Total: 3, Failures: []BulkTagOutcome{{ContactID: "abc", Message: "contact is deleted", Type: "error"}}}
	if !errors.Is(bulk, ErrPartialFailure) || IsRetryable(bulk) {
		t.Errorf("bulk error misclassified")
	}
	if got, want := bulk.Error(), "ghl: bulk add tags: 1 of 3 contacts failed: abc: contact is deleted"; got != want {
		t.Errorf("BulkError = %q, want %q", got, want)
	}
}

func FuzzDecodeErrorBody(f *testing.F) {
	seeds := []string{
		`{"statusCode":400,"message":"Bad Request"}`,
		`{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}`,
		`{"statusCode":422,"message":["Unprocessable Entity"],"error":"Unprocessable Entity"}`,
		`{"error":"invalid_grant","error_description":"Invalid grant"}`,
		`{"status":400,"options":{},"message":"Argument passed","traceId":"ce812cbd"}`,
		`{"message":[1,{"a":"\xff"},null,["x"]],"statusCode":"4e2"}`,
		`<html><body>502 Bad Gateway</body></html>`,
		``, `null`, `[]`, `"str"`, `{"message":{}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeErrorBody(data)
		if err != nil {
			if !cmp.Equal(b, ErrorBody{}) {
				t.Fatalf("error %v with non-zero body %+v", err, b)
			}
			return
		}
		if !b.MessageIsList && len(b.Messages) > 1 {
			t.Fatalf("several messages from a string message: %+v", b)
		}
		// Decoding is idempotent: what was read encodes and reads back the same.
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal %+v: %v", b, err)
		}
		again, err := DecodeErrorBody(enc)
		if err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		if diff := cmp.Diff(b, again); diff != "" {
			t.Fatalf("round trip of %q via %s (-first +second):\n%s", data, enc, diff)
		}
	})
}

// TestErrorBehaviour checks the one mapping from a HighLevel answer to
// what a caller does about it, as the methods the bus reads report it.
func TestErrorBehaviour(t *testing.T) {
	t.Parallel()
	type answers struct {
		permanent, limited, unauthorized bool
		wait                             time.Duration
	}
	tests := []struct {
		name string
		err  *Error
		want answers
	}{
		{"422", &Error{StatusCode: 422, Kind: KindPermanent}, answers{permanent: true}},
		{"503", &Error{StatusCode: 503, Kind: KindRetryable}, answers{}},
		{"401", &Error{StatusCode: 401, Kind: KindAuth}, answers{unauthorized: true}},
		{"429 with retry-after", &Error{StatusCode: 429, Kind: KindRateLimited, RetryAfter: 7 * time.Second,
			RateLimit: RateLimit{Interval: 10 * time.Second}}, answers{limited: true, wait: 7 * time.Second}},
		{"429 without retry-after", &Error{StatusCode: 429, Kind: KindRateLimited,
			RateLimit: RateLimit{Interval: 10 * time.Second}}, answers{limited: true, wait: 10 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, limited := tt.err.RateLimited()
			got := answers{permanent: tt.err.Permanent(), limited: limited, unauthorized: tt.err.Unauthorized(), wait: wait}
			if got != tt.want {
				t.Errorf("%v answers %+v, want %+v", tt.err, got, tt.want)
			}
		})
	}
	var p interface{ Permanent() bool }
	if !errors.As(fmt.Errorf("%w: empty id", ErrInvalidArgument), &p) || !p.Permanent() {
		t.Error("ErrInvalidArgument is not permanent")
	}
}
