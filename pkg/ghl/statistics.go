package ghl

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// StatisticsBatch is the most profile ids one statistics call may carry
// (the v3 file's maxItems; v2 answers 400 above it).
const StatisticsBatch = 100

// StatisticsChunk is the answer for one batch of profile ids.
type StatisticsChunk struct {
	ProfileIDs []string
	Statistics Statistics
	TraceID    string
}

// Statistics returns the last 7 days' analytics of the given connected
// accounts (POST /social-media-posting/statistics?locationId=…), filtered
// by platforms when any are given. Profile ids are deduplicated and sent
// StatisticsBatch a call, and every call's answer is returned as its own
// chunk, in order: the results are not merged, because percentage changes
// and demographic percentages cannot be summed across calls. A caller with
// at most StatisticsBatch ids gets exactly one chunk.
func (c *Client) Statistics(ctx context.Context, loc string, profileIDs, platforms []string) ([]StatisticsChunk, error) {
	ids := uniq(profileIDs)
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: statistics of %s: no profile ids", ErrInvalidArgument, loc)
	}
	if loc == "" {
		return nil, fmt.Errorf("%w: statistics: empty locationId", ErrInvalidArgument)
	}
	var out []StatisticsChunk
	for chunk := range slices.Chunk(ids, StatisticsBatch) {
		var resp StatisticsResponse
		err := c.do(ctx, request{
			method:   http.MethodPost,
			template: "/social-media-posting/statistics",
			query:    url.Values{"locationId": {loc}},
			location: loc,
			body:     StatisticsRequest{ProfileIDs: chunk, Platforms: platforms},
		}, &resp)
		if err != nil {
			return nil, fmt.Errorf("statistics of %s (%d profiles): %w", loc, len(chunk), err)
		}
		out = append(out, StatisticsChunk{ProfileIDs: chunk, Statistics: resp.Results, TraceID: resp.TraceID})
	}
	return out, nil
}
