// Package reconcile is contactsync's reconciliation logic, free of NATS and
// HTTP: which contact tags to compare, what comparing them costs, and the
// drift between what socialsync says each contact should carry and what
// HighLevel's contact search shows.
package reconcile

import (
	"math"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/relations"
)

// Lag is how recently socialsync may have written a contact for the
// contact to be left out of a comparison: HighLevel's search shows a
// write a few seconds late.
const Lag = time.Minute

// PageLimit is the contacts one search call returns at most.
const PageLimit = 500

// Drift kinds (relations.DriftItem.Kind).
const (
	Missing = "missing"
	Stale   = "stale"
	Foreign = "foreign"
)

// Contact is socialsync's view of one contact: its stored state and when
// socialsync last wrote it for a change of its own
// (relations.ContactState.Written).
type Contact struct {
	ID        string
	State     relations.ContactState
	WrittenAt time.Time
}

// Tags returns the contact tags to compare, sorted: every tag socialsync
// applied to a contact, every tag it left off as removed by hand, and the
// contact tag of each social tag name of the catalogue, live or deleted
// (tagOf names them), so that tags of socialsync's naming it did not give
// are found too.
func Tags(contacts []Contact, names []string, tagOf func(name string) string) []string {
	set := map[string]bool{}
	for _, c := range contacts {
		for _, t := range c.State.Applied {
			set[t] = true
		}
		for t := range c.State.Removed {
			set[t] = true
		}
	}
	for _, n := range names {
		if t := tagOf(n); t != "" {
			set[t] = true
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Budget is a location's request budget (pkg/ratelimit's limits).
type Budget struct {
	Max    int
	Window time.Duration
	Daily  int64
}

// Estimate returns what comparing tags over contacts costs: a search page
// per PageLimit contacts socialsync applied each tag to (at least one per
// tag), at most one write per contact, and the time the searches take at
// budget.
func Estimate(contacts []Contact, tags []string, budget Budget) relations.ReconcileCost {
	per := map[string]int{}
	for _, c := range contacts {
		for _, t := range c.State.Applied {
			per[t]++
		}
	}
	calls := 0
	for _, t := range tags {
		calls += max(1, int(math.Ceil(float64(per[t])/PageLimit)))
	}
	cost := relations.ReconcileCost{Tags: len(tags), Contacts: len(contacts), SearchCalls: calls, MaxWrites: len(contacts)}
	if budget.Max > 0 {
		cost.AtBudgetSeconds = int64(math.Ceil(float64(calls)/float64(budget.Max)) * budget.Window.Seconds())
	}
	if budget.Daily > 0 {
		cost.DailyShare = float64(calls) / float64(budget.Daily)
	}
	return cost
}

// Compare returns the drift of one contact tag, sorted by contact:
// holders are the contacts HighLevel's search shows carrying it, known
// socialsync's contacts by id. Contacts socialsync wrote after cutoff are
// left out, and counted in recent.
//
//   - missing: socialsync applied tag, HighLevel lacks it;
//   - stale: a known contact carries it, socialsync did not apply it and
//     did not record it as removed by hand;
//   - foreign: a contact socialsync does not know carries it.
func Compare(tag string, known map[string]Contact, holders []string, cutoff time.Time) (drift []relations.DriftItem, recent int) {
	holds := make(map[string]bool, len(holders))
	for _, h := range holders {
		holds[h] = true
	}
	for id, c := range known {
		applied := slices.Contains(c.State.Applied, tag)
		_, removed := c.State.Removed[tag]
		var kind string
		switch {
		case applied && !holds[id]:
			kind = Missing
		case !applied && !removed && holds[id]:
			kind = Stale
		default:
			continue
		}
		if c.WrittenAt.After(cutoff) {
			recent++
			continue
		}
		drift = append(drift, relations.DriftItem{Kind: kind, Contact: id, Tag: tag})
	}
	for h := range holds {
		if _, ok := known[h]; !ok {
			drift = append(drift, relations.DriftItem{Kind: Foreign, Contact: h, Tag: tag})
		}
	}
	slices.SortFunc(drift, func(a, b relations.DriftItem) int {
		if a.Contact != b.Contact {
			if a.Contact < b.Contact {
				return -1
			}
			return 1
		}
		return 0
	})
	return drift, recent
}
