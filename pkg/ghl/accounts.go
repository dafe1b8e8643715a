package ghl

import (
	"context"
	"net/http"
)

// Accounts returns the location's connected social accounts and account
// groups (GET /social-media-posting/{locationId}/accounts). An account's
// ProfileID is what Statistics takes.
func (c *Client) Accounts(ctx context.Context, loc string) (AccountsResults, error) {
	var env Envelope[AccountsResults]
	err := c.do(ctx, request{
		method:   http.MethodGet,
		template: "/social-media-posting/{locationId}/accounts",
		args:     []string{loc},
		location: loc,
	}, &env)
	if err != nil {
		return AccountsResults{}, err
	}
	return env.Results, nil
}
