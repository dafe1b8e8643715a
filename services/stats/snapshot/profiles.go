package snapshot

import (
	"fmt"
	"slices"
	"strings"
)

// Account is a connected social account as the statistics domain sees it.
type Account struct {
	ProfileID string
	Platform  string
	Expired   bool
}

// Request is what a statistics request asks for: empty ProfileIDs means
// every connected account that has not expired, empty Platforms every
// platform.
type Request struct {
	ProfileIDs []string
	Platforms  []string
}

// platforms are the values HighLevel's statistics endpoint accepts.
var platforms = []string{"facebook", "instagram", "linkedin", "google", "pinterest", "youtube", "tiktok"}

// Platforms returns the platforms HighLevel's statistics endpoint accepts.
func Platforms() []string { return slices.Clone(platforms) }

// Select returns the profile ids a request covers among the location's
// accounts, in the accounts' order for a request without profile ids and
// in the request's order otherwise, each once. Accounts of other
// platforms than the requested ones are left out. A request naming an
// unknown platform or a profile id that is none of the location's
// accounts fails with ErrInvalidRequest; an explicitly requested expired
// account is kept (the caller asked for it). No account left is not an
// error: the result is empty.
func Select(accounts []Account, req Request) ([]string, error) {
	var bad []string
	for _, p := range req.Platforms {
		if !slices.Contains(platforms, p) {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: unknown platforms %s (want %s)", ErrInvalidRequest, strings.Join(bad, ", "), strings.Join(platforms, ", "))
	}
	byProfile := make(map[string]Account, len(accounts))
	for _, a := range accounts {
		if _, dup := byProfile[a.ProfileID]; !dup && a.ProfileID != "" {
			byProfile[a.ProfileID] = a
		}
	}
	wanted := func(a Account) bool {
		return len(req.Platforms) == 0 || slices.Contains(req.Platforms, a.Platform)
	}
	var out []string
	add := func(id string) {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(req.ProfileIDs) == 0 {
		for _, a := range accounts {
			if a.ProfileID != "" && !a.Expired && wanted(a) {
				add(a.ProfileID)
			}
		}
		return out, nil
	}
	var unknown []string
	for _, id := range req.ProfileIDs {
		a, ok := byProfile[id]
		switch {
		case !ok:
			if !slices.Contains(unknown, id) {
				unknown = append(unknown, id)
			}
		case wanted(a):
			add(id)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: profile ids %s are not connected accounts of the location", ErrInvalidRequest, strings.Join(unknown, ", "))
	}
	return out, nil
}
