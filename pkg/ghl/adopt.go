package ghl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Adopter describes a create that may race with the same create elsewhere
// (another replica, a redelivered message): the loser's answer is a
// refusal, and the object it wanted exists all the same.
type Adopter[T any] struct {
	// Create sends the create.
	Create func(ctx context.Context) (T, error)
	// Find looks the object up by its name; ok is false when it is not
	// there.
	Find func(ctx context.Context) (obj T, ok bool, err error)
	// Reconcile, when set, brings an object found after a refusal to what
	// the create asked for (an update when its value differs) and returns
	// it.
	Reconcile func(ctx context.Context, found T) (T, error)
}

// CreateOrAdopt runs a.Create. When HighLevel refuses it with 400, 409 or
// 422 — which is how a name already taken is answered, though the wording
// of the answer is not documented and is not read — it looks the object
// up with a.Find: found, it is adopted (and reconciled); not found, the
// create's refusal is returned, still permanent. Other failures, and a
// failed look-up, are returned as they are.
func CreateOrAdopt[T any](ctx context.Context, a Adopter[T]) (T, error) {
	obj, err := a.Create(ctx)
	if err == nil || !refusedCreate(err) {
		return obj, err
	}
	found, ok, ferr := a.Find(ctx)
	switch {
	case ferr != nil:
		var zero T
		return zero, fmt.Errorf("look up after a refused create (%v): %w", err, ferr)
	case !ok:
		var zero T
		return zero, err
	case a.Reconcile != nil:
		return a.Reconcile(ctx, found)
	}
	return found, nil
}

// refusedCreate reports whether err is HighLevel answering a create with
// 400, 409 or 422.
func refusedCreate(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// sameName compares names as HighLevel's catalogues do: trimmed, without
// regard to case.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// EnsureCustomValue makes the location's custom value name hold value:
// it creates it, and when the create is refused because a custom value of
// that name exists (created meanwhile by another replica), it updates
// that one if its value differs. It fails only when the create is refused
// and no custom value of that name exists.
func (c *Client) EnsureCustomValue(ctx context.Context, loc, name, value string) (CustomValue, error) {
	return CreateOrAdopt(ctx, Adopter[CustomValue]{
		Create: func(ctx context.Context) (CustomValue, error) { return c.CreateCustomValue(ctx, loc, name, value) },
		Find: func(ctx context.Context) (CustomValue, bool, error) {
			all, err := c.CustomValues(ctx, loc)
			if err != nil {
				return CustomValue{}, false, err
			}
			for _, cv := range all {
				if sameName(cv.Name, name) {
					return cv, true, nil
				}
			}
			return CustomValue{}, false, nil
		},
		Reconcile: func(ctx context.Context, cv CustomValue) (CustomValue, error) {
			if cv.Value == value {
				return cv, nil
			}
			return c.UpdateCustomValue(ctx, loc, cv.ID, cv.Name, value)
		},
	})
}

// EnsureLocationTag makes the location's contact tag catalogue hold name:
// it creates the tag, and when the create is refused because the tag
// exists (created meanwhile elsewhere), it returns that tag.
func (c *Client) EnsureLocationTag(ctx context.Context, loc, name string) (LocationTag, error) {
	return CreateOrAdopt(ctx, Adopter[LocationTag]{
		Create: func(ctx context.Context) (LocationTag, error) { return c.CreateLocationTag(ctx, loc, name) },
		Find: func(ctx context.Context) (LocationTag, bool, error) {
			all, err := c.LocationTags(ctx, loc)
			if err != nil {
				return LocationTag{}, false, err
			}
			for _, t := range all {
				if sameName(t.Name, name) {
					return t, true, nil
				}
			}
			return LocationTag{}, false, nil
		},
	})
}
