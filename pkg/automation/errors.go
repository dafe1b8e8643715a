package automation

import "errors"

var (
	// ErrInvalid is a segment or workflow definition that cannot be used.
	// The error names the file position (when parsed from YAML) and the
	// field.
	ErrInvalid = errors.New("invalid definition")
	// ErrActionFailed is an action that failed for good (a webhook that
	// kept failing or answered 4xx, a secret that does not exist, a value
	// HighLevel refused): it is dead-lettered and not tried again.
	ErrActionFailed = errors.New("workflow action failed")
	// ErrOutside is a stored definition an apply limited to some
	// locations (Parsed.ApplyWithin) may not replace: it names other
	// locations, or none (every location).
	ErrOutside = errors.New("stored for other locations")
	// ErrChanged is a definition that was stored or deleted by someone
	// else while an apply was storing it; nothing of it was written.
	ErrChanged = errors.New("changed while being stored; apply again")
)
