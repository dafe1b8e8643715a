package ghl

import "github.com/socialsync/socialsync/pkg/ids"

// MaxIDLen bounds the ids ValidID accepts. HighLevel's location and contact
// ids are 20 characters, tag, post and profile ids 24 hex digits.
const MaxIDLen = ids.MaxHighLevelLen

// ValidID reports whether id can be a HighLevel location, contact or tag
// id (or the id of a post as HighLevel lists it): 1 to MaxIDLen ASCII
// letters and digits, the rule of ids.ValidHighLevel. Such an id is safe in
// a URL path, a NATS subject token and a key-value key. A post id in a
// message is the post's id in the sending system and follows
// ids.ValidExternal instead.
func ValidID(id string) bool { return ids.ValidHighLevel(id) }
