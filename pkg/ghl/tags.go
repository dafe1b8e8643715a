package ghl

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

const (
	// TagPageLimit is the page size AllSocialTags asks for. HighLevel
	// documents no maximum; 50 keeps pages well under any plausible cap.
	TagPageLimit = 50
	// TagDetailsBatch is the most tag ids TagDetails sends in one call.
	TagDetailsBatch = 100
)

// SearchOpts select one page of the social tag list. Zero Skip and Limit
// are not sent (HighLevel's defaults apply).
type SearchOpts struct {
	SearchText string
	Skip       int
	Limit      int
}

// ListSocialTags returns one page of the location's Social Planner tags
// (GET /social-media-posting/{locationId}/tags). Count is whatever
// HighLevel reported; it is not documented as a total.
func (c *Client) ListSocialTags(ctx context.Context, loc string, opts SearchOpts) (TagsResults, error) {
	q := url.Values{}
	if opts.SearchText != "" {
		q.Set("searchText", opts.SearchText)
	}
	// HighLevel types skip and limit as strings in the query.
	if opts.Skip > 0 {
		q.Set("skip", strconv.Itoa(opts.Skip))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var env Envelope[TagsResults]
	err := c.do(ctx, request{
		method:   http.MethodGet,
		template: "/social-media-posting/{locationId}/tags",
		args:     []string{loc},
		query:    q,
		location: loc,
	}, &env)
	if err != nil {
		return TagsResults{}, err
	}
	return env.Results, nil
}

// AllSocialTags returns every Social Planner tag of the location, paging
// with skip/limit (TagPageLimit a page) until a page comes back short.
// A tag seen on two pages (the list moved while paging) is kept once.
func (c *Client) AllSocialTags(ctx context.Context, loc string) ([]SocialTag, error) {
	var all []SocialTag
	seen := make(map[string]bool)
	for skip := 0; ; skip += TagPageLimit {
		page, err := c.ListSocialTags(ctx, loc, SearchOpts{Skip: skip, Limit: TagPageLimit})
		if err != nil {
			return nil, fmt.Errorf("list social tags of %s from %d: %w", loc, skip, err)
		}
		fresh := 0
		for _, t := range page.Tags {
			if t.ID != "" && seen[t.ID] {
				continue
			}
			seen[t.ID] = true
			all = append(all, t)
			fresh++
		}
		if len(page.Tags) < TagPageLimit {
			return all, nil
		}
		if fresh == 0 {
			// A full page of tags already seen: the server ignores skip.
			return nil, fmt.Errorf("list social tags of %s: page at %d repeats earlier tags: %w", loc, skip, ErrUnexpectedResponse)
		}
	}
}

// TagDetails returns the tags with the given ids (POST
// /social-media-posting/{locationId}/tags/details). Ids are deduplicated
// and sent TagDetailsBatch a call; the results of all calls are merged in
// order. Unknown ids are simply absent from the result.
func (c *Client) TagDetails(ctx context.Context, loc string, ids []string) ([]SocialTag, error) {
	ids = uniq(ids)
	var all []SocialTag
	for chunk := range slices.Chunk(ids, TagDetailsBatch) {
		var env Envelope[TagsResults]
		err := c.do(ctx, request{
			method:   http.MethodPost,
			template: "/social-media-posting/{locationId}/tags/details",
			args:     []string{loc},
			location: loc,
			body:     TagDetailsRequest{TagIDs: chunk},
		}, &env)
		if err != nil {
			return nil, fmt.Errorf("tag details of %s (%d ids): %w", loc, len(chunk), err)
		}
		all = append(all, env.Results.Tags...)
	}
	return all, nil
}

// uniq drops empty and repeated strings, keeping the first occurrence.
func uniq(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}
