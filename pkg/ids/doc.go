// Package ids holds socialsync's rules for the identifiers it receives and
// the one encoding that turns an outside system's id into part of a key.
//
// Two kinds of id arrive in messages:
//
//   - HighLevel ids (locations, contacts, tags): 1 to 64 ASCII letters and
//     digits. They are safe as they are in a URL path, a subject token and
//     a key-value key, and are used so.
//   - external ids (a post's id in the sending system, an event id): any
//     valid UTF-8 of 1 to 256 bytes without control characters. They are
//     never put into a subject or a key as they are: Key encodes them,
//     prefixed by their source.
//
// A source names the sending system ("highlevel" for Social Planner, a
// webhook source's name otherwise): 1 to 64 ASCII letters, digits, '-' and
// '_'. An occurred-at time more than MaxAhead ahead of or MaxBehind behind
// the receiving clock is refused.
//
// The package is a leaf: it imports nothing of socialsync's, so that the
// gateway, the CLI and every worker share it. Its errors are *Error values
// that say which field broke which rule; they report BadInput, which the
// bus reads as "dead-letter at once, never retry".
package ids
