package ghl

import (
	"context"
	"fmt"
	"net/http"
)

// DeleteCustomValue deletes a custom value (DELETE
// /locations/{locationId}/customValues/{id}; HighLevel answers
// {"succeded": true}). An unknown id is a 400 (permanent). Like every
// call, it names its method and template here, where the scope table's
// test finds them.
func (c *Client) DeleteCustomValue(ctx context.Context, loc, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("%w: delete custom value: invalid id %.64q", ErrInvalidArgument, id)
	}
	return c.do(ctx, request{
		method:   http.MethodDelete,
		template: "/locations/{locationId}/customValues/{id}",
		args:     []string{loc, id},
		location: loc,
	}, nil)
}
