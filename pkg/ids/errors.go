package ids

import (
	"strconv"
	"strings"
)

// maxQuoted bounds, in bytes, the value an *Error quotes.
const maxQuoted = 64

// Error is a field whose value breaks its rule. Its text names the field,
// quotes the value (cut to 64 bytes, control characters escaped) and
// states the rule: `post_id "a\nb": want 1 to 256 bytes of UTF-8 without
// control characters`.
type Error struct {
	// Field names the field in the message contract's spelling, with an
	// index for a list item: "post_id", "tag_ids[2]".
	Field string
	// Rule is what the value should be.
	Rule string
	// Value is the value, cut to 64 bytes and marked "…" when cut.
	Value string
}

func newError(field, rule, value string) *Error {
	return &Error{Field: field, Rule: rule, Value: clip(value)}
}

// Error returns `<field> "<value>": want <rule>`.
func (e *Error) Error() string {
	return e.Field + " " + strconv.Quote(e.Value) + ": want " + e.Rule
}

// BadInput reports true: the message holding the value can never be
// handled, however often it is tried. The bus dead-letters it at once.
func (e *Error) BadInput() bool { return true }

// Permanent reports true, for deciders that know only permanence.
func (e *Error) Permanent() bool { return true }

// clip cuts s to maxQuoted bytes without splitting a character.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return strings.ToValidUTF8(s[:maxQuoted], "") + "…"
}
