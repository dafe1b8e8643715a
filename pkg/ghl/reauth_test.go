package ghl_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// swappingSource hands out bad until Invalidate(bad) is called, then good
// (or bad again when stubborn).
type swappingSource struct {
	mu          sync.Mutex
	cur, good   string
	stubborn    bool
	invalidated []string
}

func (s *swappingSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &oauth2.Token{AccessToken: s.cur}, nil
}

func (s *swappingSource) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated = append(s.invalidated, token)
	if !s.stubborn && token == s.cur {
		s.cur = s.good
	}
}

// A 401 makes a client whose token source is an Invalidator invalidate the
// token and retry at once, exactly once, even with retries turned off;
// other sources, and other statuses, get no such retry.
func TestUnauthorizedInvalidatesAndRetriesOnce(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, pit := sb.createLocation(locationSpec{SocialTags: []string{"a"}})
	_, otherPIT := sb.createLocation(locationSpec{})
	tests := []struct {
		name         string
		ts           oauth2.TokenSource
		wantStatuses []int
		wantErr      bool
		invalidated  []string
	}{
		{"invalidator gets a new token", &swappingSource{cur: "expired", good: pit}, []int{401, 200}, false, []string{"expired"}},
		{"invalidator keeps the token", &swappingSource{cur: "expired", good: pit, stubborn: true}, []int{401, 401}, true, []string{"expired"}},
		{"static source", oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "expired"}), []int{401}, true, nil},
		{"403 is no token problem", &swappingSource{cur: otherPIT, good: pit}, []int{403}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sb.client("", ghl.Options{MaxRetries: -1}).ForLocation(loc, tt.ts)
			before := len(sb.requests(""))
			_, err := c.ListSocialTags(context.Background(), loc, ghl.SearchOpts{})
			if (err != nil) != tt.wantErr || (err != nil && !ghl.IsAuth(err)) {
				t.Fatalf("err = %v, want error %v of class auth", err, tt.wantErr)
			}
			var statuses []int
			for _, r := range sb.requests("")[before:] {
				if r.Method == http.MethodGet {
					statuses = append(statuses, r.Status)
				}
			}
			if !slices.Equal(statuses, tt.wantStatuses) {
				t.Fatalf("statuses %v, want %v", statuses, tt.wantStatuses)
			}
			if s, ok := tt.ts.(*swappingSource); ok && !slices.Equal(s.invalidated, tt.invalidated) {
				t.Errorf("invalidated %q, want %q", s.invalidated, tt.invalidated)
			}
		})
	}
}
