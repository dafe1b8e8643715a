package ghl

import (
	"context"
	"net/http"
)

// ListPosts returns one page of the location's posts (POST
// /social-media-posting/{locationId}/posts/list). HighLevel requires skip,
// limit, fromDate, toDate and includeUsers; empty Skip, Limit and
// IncludeUsers are sent as the documented defaults "0", "10" and "false".
func (c *Client) ListPosts(ctx context.Context, loc string, req ListPostsRequest) (PostsResults, error) {
	if req.Skip == "" {
		req.Skip = "0"
	}
	if req.Limit == "" {
		req.Limit = "10"
	}
	if req.IncludeUsers == "" {
		req.IncludeUsers = "false"
	}
	var env Envelope[PostsResults]
	err := c.do(ctx, request{
		method:   http.MethodPost,
		template: "/social-media-posting/{locationId}/posts/list",
		args:     []string{loc},
		location: loc,
		body:     req,
	}, &env)
	if err != nil {
		return PostsResults{}, err
	}
	return env.Results, nil
}

// GetPost returns one post (GET /social-media-posting/{locationId}/posts/{id}).
func (c *Client) GetPost(ctx context.Context, loc, id string) (Post, error) {
	var env Envelope[PostResults]
	err := c.do(ctx, request{
		method:   http.MethodGet,
		template: "/social-media-posting/{locationId}/posts/{id}",
		args:     []string{loc, id},
		location: loc,
	}, &env)
	if err != nil {
		return Post{}, err
	}
	return env.Results.Post, nil
}
