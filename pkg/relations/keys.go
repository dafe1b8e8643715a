package relations

// Keys. A location's catalogue is stored in the tags bucket under the
// location id, a tag's details in the details bucket under
// "<loc>.<tagId>"; the rest in the relations bucket, each kind under its
// prefix. Key parts are ids checked by their readers (ids, ghl.ValidID).

// CatalogueKey is the tags bucket key of loc's Catalogue.
func CatalogueKey(loc string) string { return loc }

// DetailsKey is the details bucket key of a tag's details.
func DetailsKey(loc, tag string) string { return loc + "." + tag }

// DetailsPattern matches the details keys of loc's tags.
func DetailsPattern(loc string) string { return loc + ".*" }

// PostKey is the relations key of a post's PostRecord; post is its key
// (ids.Key).
func PostKey(loc, post string) string { return "post." + loc + "." + post }

// TagPostsKey is the relations key of a tag's TagPosts.
func TagPostsKey(loc, tag string) string { return TagPostsPrefix(loc) + tag }

// TagPostsPrefix starts the TagPosts keys of loc's tags.
func TagPostsPrefix(loc string) string { return "tagposts." + loc + "." }

// TagPostsPattern matches the TagPosts keys of loc's tags.
func TagPostsPattern(loc string) string { return TagPostsPrefix(loc) + "*" }

// PostContactsKey is the relations key of a post's PostContacts.
func PostContactsKey(loc, post string) string { return "postcontacts." + loc + "." + post }

// PostContactsPattern matches the PostContacts keys of loc's posts.
func PostContactsPattern(loc string) string { return "postcontacts." + loc + ".*" }

// ContactKey is the relations key of a contact's state (contactsync's).
func ContactKey(loc, contact string) string { return ContactPrefix(loc) + contact }

// ContactPrefix starts the state keys of loc's contacts.
func ContactPrefix(loc string) string { return "contact." + loc + "." }

// RemovalsKey is the relations key of a contact's removal record
// (contactsync's).
func RemovalsKey(loc, contact string) string { return "removals." + loc + "." + contact }

// IntentKey is the relations key of a contact's intent record
// (contactsync's): the tag writes it is about to make or made lately.
func IntentKey(loc, contact string) string { return "intent." + loc + "." + contact }

// PollCursorKey is the key of the fetcher's poll cursor of loc: the
// update time of the newest post its poller has seen.
func PollCursorKey(loc string) string { return "pollcursor." + loc }

// MirroredTagsKey is the relations key of the location tags the enricher
// created for a social tag (MirroredTags).
func MirroredTagsKey(loc, tag string) string { return "mirrored." + loc + "." + tag }

// ReconcileKey is the relations key of loc's latest reconciliation
// (ReconcileRun, contactsync's).
func ReconcileKey(loc string) string { return "reconcile." + loc }

// RemapKey is the relations key of loc's latest re-application of its
// contact-tag template (RemapRun, contactsync's).
func RemapKey(loc string) string { return "remap." + loc }
