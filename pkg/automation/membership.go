package automation

// Members is the value of a contact's membership key (MemberKey): the
// segments whose tag the contact carries.
type Members struct {
	Segments []string `json:"segments"`
}

// MemberKey is the segments bucket key of a contact's Members.
func MemberKey(loc, contact string) string { return "member." + loc + "." + contact }

// SegmentDefPrefix is the segments bucket key prefix of segment
// definitions ("def.<name>"); workflows are stored under their name.
const SegmentDefPrefix = "def."
