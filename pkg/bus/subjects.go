package bus

import (
	"fmt"
	"strings"

	"github.com/socialsync/socialsync/pkg/ids"
)

// Family is a family of subjects with one member per location: the family
// "socialsync.trigger.post" holds "socialsync.trigger.post.<loc>". Which
// families exist is the topology's (pkg/topology); the bus builds and
// parses the subjects of any.
type Family string

const (
	// DeadLetterPrefix starts every dead-letter subject:
	// "socialsync.dlq.<worker>.<loc>".
	DeadLetterPrefix = "socialsync.dlq"

	// invalidLocation stands for the location in the dead-letter subject
	// of a message whose own subject names no valid location. The leading
	// underscore keeps it apart from every valid location id.
	invalidLocation = "_invalid"

	// maxLocationIDLen bounds a location id (see ids.ValidHighLevel).
	maxLocationIDLen = ids.MaxHighLevelLen
	// maxWorkerLen bounds a worker name in a dead-letter subject.
	maxWorkerLen = ids.MaxSourceLen
)

// Subject returns the family's subject for location loc. It fails with
// ErrInvalidLocation, and builds nothing, when loc is not a valid id.
func (f Family) Subject(loc string) (string, error) {
	if !ids.ValidHighLevel(loc) {
		return "", fmt.Errorf("%w: %q", ErrInvalidLocation, truncate(loc, maxLocationIDLen))
	}
	return string(f) + "." + loc, nil
}

// Filter returns the filter subject matching every location of the family,
// "<family>.*".
func (f Family) Filter() string { return string(f) + ".*" }

// ParseSubject splits subject into its family (every token but the last)
// and its location (the last token). It fails with ErrUnknownSubject for a
// subject without a family (one token, an empty token or a wildcard) and
// with ErrInvalidLocation when the location token is not a valid id. It
// does not know which families exist: topology.ParseSubject also refuses
// a family the topology does not declare, and a Publisher refuses one its
// PublisherOptions.Known does not know.
func ParseSubject(subject string) (Family, string, error) {
	i := strings.LastIndexByte(subject, '.')
	if i < 0 || !validFamily(subject[:i]) {
		return "", "", fmt.Errorf("%w: %q", ErrUnknownSubject, truncate(subject, 128))
	}
	f, loc := Family(subject[:i]), subject[i+1:]
	if !ids.ValidHighLevel(loc) {
		return f, "", fmt.Errorf("%w: %q", ErrInvalidLocation, truncate(loc, maxLocationIDLen))
	}
	return f, loc, nil
}

// validFamily reports whether f is at least two non-empty tokens without
// wildcards or white space.
func validFamily(f string) bool {
	tokens := strings.Split(f, ".")
	if len(tokens) < 2 {
		return false
	}
	for _, t := range tokens {
		if t == "" || strings.ContainsAny(t, "*> \t\r\n") {
			return false
		}
	}
	return true
}

// DeadLetterSubject returns "socialsync.dlq.<worker>.<loc>". An invalid
// location becomes "_invalid", so that a message with a bad subject can
// still be dead-lettered; an invalid worker name is an error.
func DeadLetterSubject(worker, loc string) (string, error) {
	if !ids.ValidSource(worker) {
		return "", fmt.Errorf("bus: invalid worker name %q", truncate(worker, maxWorkerLen))
	}
	if !ids.ValidHighLevel(loc) {
		loc = invalidLocation
	}
	return DeadLetterPrefix + "." + worker + "." + loc, nil
}

// truncate cuts s to at most n bytes, for error strings that quote input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
