package ghl

import (
	"context"
	"fmt"
	"net/http"
)

// CustomValues returns the location's custom values (GET
// /locations/{locationId}/customValues).
func (c *Client) CustomValues(ctx context.Context, loc string) ([]CustomValue, error) {
	var out CustomValuesResponse
	err := c.do(ctx, request{
		method:   http.MethodGet,
		template: "/locations/{locationId}/customValues",
		args:     []string{loc},
		location: loc,
	}, &out)
	if err != nil {
		return nil, err
	}
	return out.CustomValues, nil
}

// CreateCustomValue creates a custom value (POST
// /locations/{locationId}/customValues, 201). Like CreateLocationTag it is
// retried only on 429 or when no connection was made, so a lost answer
// cannot create a duplicate.
func (c *Client) CreateCustomValue(ctx context.Context, loc, name, value string) (CustomValue, error) {
	if name == "" {
		return CustomValue{}, fmt.Errorf("%w: create custom value: empty name", ErrInvalidArgument)
	}
	var out CustomValueResponse
	err := c.do(ctx, request{
		method:   http.MethodPost,
		template: "/locations/{locationId}/customValues",
		args:     []string{loc},
		location: loc,
		body:     CustomValueBody{Name: name, Value: value},
		policy:   retryUnprocessed,
	}, &out)
	if err != nil {
		return CustomValue{}, err
	}
	return out.CustomValue, nil
}

// UpdateCustomValue sets a custom value's name and value (PUT
// /locations/{locationId}/customValues/{id}); setting is idempotent, so it
// is retried like a read.
func (c *Client) UpdateCustomValue(ctx context.Context, loc, id, name, value string) (CustomValue, error) {
	if name == "" {
		return CustomValue{}, fmt.Errorf("%w: update custom value: empty name", ErrInvalidArgument)
	}
	var out CustomValueResponse
	err := c.do(ctx, request{
		method:   http.MethodPut,
		template: "/locations/{locationId}/customValues/{id}",
		args:     []string{loc, id},
		location: loc,
		body:     CustomValueBody{Name: name, Value: value},
	}, &out)
	if err != nil {
		return CustomValue{}, err
	}
	return out.CustomValue, nil
}
