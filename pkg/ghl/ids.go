package ghl

// MaxIDLen bounds the ids ValidID accepts. HighLevel's location and contact
// ids are 20 characters, tag, post and profile ids 24 hex digits.
const MaxIDLen = 64

// ValidID reports whether id can be a HighLevel location, contact, tag or
// post id: 1 to MaxIDLen ASCII letters and digits. Such an id is safe in a
// URL path, a NATS subject token and a key-value key.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
