package automation

// Members is the value of a contact's membership key (MemberKey): the
// segments whose tag the contact carries.
type Members struct {
	Segments []string `json:"segments"`
}

// MemberKey is the segments bucket key of a contact's Members.
func MemberKey(loc, contact string) string { return MemberPrefix(loc) + contact }

// MemberPrefix starts the membership keys of loc's contacts.
func MemberPrefix(loc string) string { return "member." + loc + "." }

// AppliedKey is the segments bucket key of the revision of segment name's
// definition last announced to every location.
func AppliedKey(name string) string { return "applied." + name }

// SegmentDefPrefix is the segments bucket key prefix of segment
// definitions ("def.<name>"); workflows are stored under their name.
const SegmentDefPrefix = "def."
