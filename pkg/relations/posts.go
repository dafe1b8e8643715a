package relations

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// PostRecord is what the relations bucket keeps of a post under
// "post.<loc>.<postKey>": {"tagIds":[...],"updatedAt":RFC3339}.
type PostRecord struct {
	TagIDs    []string  `json:"tagIds"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// TagPosts is what the relations bucket keeps of a tag under
// "tagposts.<loc>.<tagId>": {"postIds":[...]}, sorted. The list holds
// post keys (ids.Key), the last part of the posts' "post.<loc>.<postKey>".
type TagPosts struct {
	PostIDs []string `json:"postIds"`
}

// Marshal encodes r as stored.
func (r PostRecord) Marshal() ([]byte, error) {
	if r.TagIDs == nil {
		r.TagIDs = []string{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode post record: %w", err)
	}
	return b, nil
}

// UnmarshalPostRecord decodes a stored post record.
func UnmarshalPostRecord(data []byte) (PostRecord, error) {
	var r PostRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return PostRecord{}, fmt.Errorf("decode post record: %w", err)
	}
	return r, nil
}

// Marshal encodes p as stored.
func (p TagPosts) Marshal() ([]byte, error) {
	if p.PostIDs == nil {
		p.PostIDs = []string{}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode tag posts: %w", err)
	}
	return b, nil
}

// UnmarshalTagPosts decodes a stored tag's post list.
func UnmarshalTagPosts(data []byte) (TagPosts, error) {
	var p TagPosts
	if err := json.Unmarshal(data, &p); err != nil {
		return TagPosts{}, fmt.Errorf("decode tag posts: %w", err)
	}
	return p, nil
}

// Has reports whether the tag lists post.
func (p TagPosts) Has(post string) bool {
	_, found := slices.BinarySearch(p.PostIDs, post)
	return found
}

// With returns the list with post in it, sorted.
func (p TagPosts) With(post string) TagPosts {
	ids := slices.Clone(p.PostIDs)
	slices.Sort(ids)
	if i, found := slices.BinarySearch(ids, post); !found {
		ids = slices.Insert(ids, i, post)
	}
	return TagPosts{PostIDs: slices.Compact(ids)}
}

// Without returns the list without post.
func (p TagPosts) Without(post string) TagPosts {
	ids := slices.DeleteFunc(slices.Clone(p.PostIDs), func(id string) bool { return id == post })
	slices.Sort(ids)
	return TagPosts{PostIDs: ids}
}

// PostContacts is the value of "postcontacts.<loc>.<postId>" in the
// relations bucket: the contacts contactsync last linked to the post, so
// that a deletion or an update that no longer lists a contact reaches the
// contacts the event itself does not name.
type PostContacts struct {
	ContactIDs []string `json:"contactIds"`
	// At is the occurredAt of the event that set the list (zero: none
	// had one): an older event of the post handled later leaves it.
	At time.Time `json:"at,omitzero"`
}
