package ghlsim

import (
	"errors"
	"net/http"
	"strconv"
)

// ErrUnknownSeed is returned by New for a seed it does not know. Known seeds
// are "demo" (the default) and "empty".
var ErrUnknownSeed = errors.New("ghlsim: unknown seed")

// Messages HighLevel sends verbatim, as reported by its users.
const (
	msgInvalidJWT     = "Invalid JWT"
	msgScopeDenied    = "The token is not authorized for this scope."
	msgNoLocation     = "The token does not have access to this location."
	msgRateLimited    = "Too Many Requests - Rate limit exceeded"
	msgBadObjectID    = "Argument passed in must be a single String of 12 bytes or a string of 24 hex characters"
	msgInternalError  = "Internal Server Error"
	msgGatewayTimeout = "Gateway Timeout"
)

// apiError is the error body of HighLevel's NestJS services. Message is a
// string, or a []string for 422 validation errors (UnprocessableDTO).
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Message    any    `json:"message"`
	Error      string `json:"error,omitempty"`
	TraceID    string `json:"traceId,omitempty"`
}

// writeBadRequest writes a 400 BadRequestDTO with a trace id.
func writeBadRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, apiError{
		StatusCode: http.StatusBadRequest, Message: msg, Error: "Bad Request", TraceID: newTraceID(),
	})
}

// writeUnprocessable writes a 422 UnprocessableDTO: message is an array.
func writeUnprocessable(w http.ResponseWriter, msgs ...string) {
	writeJSON(w, http.StatusUnprocessableEntity, apiError{
		StatusCode: http.StatusUnprocessableEntity, Message: msgs, Error: "Unprocessable Entity", TraceID: newTraceID(),
	})
}

// writeNotFound writes a 404 in NestJS's shape.
func writeNotFound(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusNotFound, apiError{
		StatusCode: http.StatusNotFound, Message: msg, Error: "Not Found", TraceID: newTraceID(),
	})
}

// writeInvalidJWT writes the 401 HighLevel sends for a missing, unknown or
// expired bearer token.
func writeInvalidJWT(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, apiError{StatusCode: http.StatusUnauthorized, Message: msgInvalidJWT})
}

// writeScopeDenied writes the 401 HighLevel sends when the token lacks the
// endpoint's scope.
func writeScopeDenied(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, apiError{StatusCode: http.StatusUnauthorized, Message: msgScopeDenied})
}

// writeForbidden writes the 403 HighLevel sends when the token belongs to
// another location (or is not a location token).
func writeForbidden(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusForbidden, apiError{StatusCode: http.StatusForbidden, Message: msg})
}

// writeTooManyRequests writes a 429 with Retry-After in whole seconds.
func writeTooManyRequests(w http.ResponseWriter, retryAfterSeconds int64) {
	w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds, 10))
	writeJSON(w, http.StatusTooManyRequests, apiError{
		StatusCode: http.StatusTooManyRequests, Message: msgRateLimited, Error: "Too Many Requests",
	})
}

// writeStatus writes a bare {"statusCode","message"} body, for 5xx answers.
func writeStatus(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{StatusCode: status, Message: msg, TraceID: newTraceID()})
}

// oauthError is the error body of POST /oauth/token: HighLevel's status
// fields plus the RFC 6749 error code, in one shape for every OAuth error.
type oauthError struct {
	StatusCode       int    `json:"statusCode"`
	Message          string `json:"message"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// writeOAuthError writes an oauthError.
func writeOAuthError(w http.ResponseWriter, status int, code, msg, desc string) {
	writeJSON(w, status, oauthError{StatusCode: status, Message: msg, Error: code, ErrorDescription: desc})
}

// adminError is the error body of the /_sandbox admin API.
type adminError struct {
	Error string `json:"error"`
}

// writeAdminError writes an adminError.
func writeAdminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, adminError{Error: msg})
}
