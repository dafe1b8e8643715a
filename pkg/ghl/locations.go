package ghl

import (
	"context"
	"fmt"
	"net/http"
)

// LocationTags returns the location's contact tag catalogue (GET
// /locations/{locationId}/tags; not paginated). These are CRM tags,
// distinct from Social Planner tags.
func (c *Client) LocationTags(ctx context.Context, loc string) ([]LocationTag, error) {
	var out LocationTagsResponse
	err := c.do(ctx, request{
		method:   http.MethodGet,
		template: "/locations/{locationId}/tags",
		args:     []string{loc},
		location: loc,
	}, &out)
	if err != nil {
		return nil, err
	}
	return out.Tags, nil
}

// CreateLocationTag adds a tag to the location's catalogue (POST
// /locations/{locationId}/tags, 200). It is retried only when HighLevel
// cannot have processed it (429, no connection): after a 5xx the caller
// should list the tags before creating again.
func (c *Client) CreateLocationTag(ctx context.Context, loc, name string) (LocationTag, error) {
	if name == "" {
		return LocationTag{}, fmt.Errorf("%w: create location tag: empty name", ErrInvalidArgument)
	}
	var out LocationTagResponse
	err := c.do(ctx, request{
		method:   http.MethodPost,
		template: "/locations/{locationId}/tags",
		args:     []string{loc},
		location: loc,
		body:     LocationTagBody{Name: name},
		policy:   retryUnprocessed,
	}, &out)
	if err != nil {
		return LocationTag{}, err
	}
	return out.Tag, nil
}

// Location returns what HighLevel holds of a location (GET
// /locations/{locationId}, scope locations.readonly): its name and time
// zone among others.
func (c *Client) Location(ctx context.Context, loc string) (LocationDetails, error) {
	if loc == "" {
		return LocationDetails{}, fmt.Errorf("%w: location: empty locationId", ErrInvalidArgument)
	}
	var out LocationResponse
	err := c.do(ctx, request{
		method:   http.MethodGet,
		template: "/locations/{locationId}",
		args:     []string{loc},
		location: loc,
	}, &out)
	if err != nil {
		return LocationDetails{}, err
	}
	return out.Location, nil
}
