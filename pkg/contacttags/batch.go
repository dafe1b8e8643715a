package contacttags

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

// BulkMax is the most contacts one bulk tags call carries.
const BulkMax = 100

// Write is one HighLevel call: add Tags to Contacts, or remove them. A
// Bulk write goes through the bulk endpoint; any other has one contact.
type Write struct {
	Remove   bool
	Tags     []string
	Contacts []string
	Bulk     bool
}

// Batch turns per-contact diffs into calls. Contacts that need the same
// change (the same tags added, or the same tags removed) share it: a group
// of at least bulkMin contacts is sent in bulk calls of at most bulkMax
// contacts, a smaller group as one call per contact. Adds come before
// removes; the order is deterministic.
func Batch(diffs map[string]Diff, bulkMin, bulkMax int) []Write {
	if bulkMax < 1 {
		bulkMax = BulkMax
	}
	type group struct {
		remove   bool
		tags     []string
		contacts []string
	}
	groups := map[string]*group{}
	add := func(remove bool, tags []string, contact string) {
		if len(tags) == 0 {
			return
		}
		key := strings.Join(tags, "\x00")
		if remove {
			key = "-" + key
		} else {
			key = "+" + key
		}
		g := groups[key]
		if g == nil {
			g = &group{remove: remove, tags: slices.Clone(tags)}
			groups[key] = g
		}
		g.contacts = append(g.contacts, contact)
	}
	for contact, d := range diffs {
		add(false, d.Add, contact)
		add(true, d.Remove, contact)
	}
	ordered := make([]*group, 0, len(groups))
	for _, g := range groups {
		slices.Sort(g.contacts)
		ordered = append(ordered, g)
	}
	slices.SortFunc(ordered, func(a, b *group) int {
		if a.remove != b.remove {
			if a.remove {
				return 1
			}
			return -1
		}
		return cmp.Compare(strings.Join(a.tags, "\x00"), strings.Join(b.tags, "\x00"))
	})
	var out []Write
	for _, g := range ordered {
		if bulkMin > 0 && len(g.contacts) >= bulkMin {
			for chunk := range slices.Chunk(g.contacts, bulkMax) {
				out = append(out, Write{Remove: g.remove, Tags: g.tags, Contacts: slices.Clone(chunk), Bulk: true})
			}
			continue
		}
		for _, c := range g.contacts {
			out = append(out, Write{Remove: g.remove, Tags: g.tags, Contacts: []string{c}})
		}
	}
	return out
}

// ByTag turns per-contact diffs into calls one tag at a time: each tag
// that at least bulkMin contacts need added (or removed) is sent to all
// of them in bulk calls of at most bulkMax contacts; each contact's other
// tags go in one single-contact call (one for its adds, one for its
// removes). A backlog of many events' contacts, each needing its own
// few of a location's tags, takes about one call per tag. Adds come
// before removes; the order is deterministic.
func ByTag(diffs map[string]Diff, bulkMin, bulkMax int) []Write {
	if bulkMax < 1 {
		bulkMax = BulkMax
	}
	var out []Write
	for _, remove := range []bool{false, true} {
		need := map[string][]string{} // tag -> contacts
		for c, d := range diffs {
			tags := d.Add
			if remove {
				tags = d.Remove
			}
			for _, t := range tags {
				need[t] = append(need[t], c)
			}
		}
		left := map[string][]string{} // contact -> tags
		for _, t := range slices.Sorted(maps.Keys(need)) {
			cs := need[t]
			slices.Sort(cs)
			if bulkMin > 0 && len(cs) >= bulkMin && len(cs) > 1 {
				for chunk := range slices.Chunk(cs, bulkMax) {
					if len(chunk) == 1 {
						left[chunk[0]] = append(left[chunk[0]], t)
						continue
					}
					out = append(out, Write{Remove: remove, Tags: []string{t}, Contacts: slices.Clone(chunk), Bulk: true})
				}
				continue
			}
			for _, c := range cs {
				left[c] = append(left[c], t)
			}
		}
		for _, c := range slices.Sorted(maps.Keys(left)) {
			out = append(out, Write{Remove: remove, Tags: left[c], Contacts: []string{c}})
		}
	}
	return out
}
