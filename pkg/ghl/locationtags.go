package ghl

import (
	"context"
	"fmt"
	"net/http"
)

// DeleteLocationTag deletes a tag of the location's contact tag catalogue
// (DELETE /locations/{locationId}/tags/{tagId}, 200). Deleting a tag in
// HighLevel also takes it off the contacts carrying it: callers check
// that none does first.
func (c *Client) DeleteLocationTag(ctx context.Context, loc, tagID string) error {
	if !ValidID(tagID) {
		return fmt.Errorf("%w: delete location tag: invalid tag id %.64q", ErrInvalidArgument, tagID)
	}
	return c.do(ctx, request{
		method:   http.MethodDelete,
		template: "/locations/{locationId}/tags/{tagId}",
		args:     []string{loc, tagID},
		location: loc,
	}, nil)
}
