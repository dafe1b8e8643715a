// Package creds keeps the connected HighLevel locations and their tokens.
//
// Locations (id, name, time zone, how they authenticate, their state) live
// in the locations key-value bucket; their tokens live in the tokens bucket,
// sealed with AES-256-GCM under a key the operator supplies. No token is
// stored in plain text, and none reaches a log line, a span, an error string
// or a dead letter: the types that hold one redact it when printed.
package creds
