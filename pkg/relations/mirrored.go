package relations

import (
	"encoding/json"
	"fmt"
)

// MirroredTags is what the enricher keeps, under
// "mirrored.<loc>.<tagId>" (MirroredTagsKey), of the tags it created in
// the location's contact tag list for one social tag:
// {"created":{"<contact tag, lower case>":"<location tag id>"}}. Only
// these does it ever delete, when the social tag is deleted or renamed.
type MirroredTags struct {
	Created map[string]string `json:"created"`
}

// Marshal encodes m as stored.
func (m MirroredTags) Marshal() ([]byte, error) {
	if m.Created == nil {
		m.Created = map[string]string{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode mirrored tags: %w", err)
	}
	return b, nil
}

// UnmarshalMirroredTags decodes a stored MirroredTags.
func UnmarshalMirroredTags(data []byte) (MirroredTags, error) {
	var m MirroredTags
	if err := json.Unmarshal(data, &m); err != nil {
		return MirroredTags{}, fmt.Errorf("decode mirrored tags: %w", err)
	}
	if m.Created == nil {
		m.Created = map[string]string{}
	}
	return m, nil
}
