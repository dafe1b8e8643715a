package fleettest

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// ContactTags returns the current tags of a contact of loc in the
// simulator; it fails the test when loc has no such contact.
func (e *Env) ContactTags(tb testing.TB, loc, contact string) []string {
	tb.Helper()
	for _, c := range e.Location(tb, loc).Contacts {
		if c.ID == contact {
			return c.Tags
		}
	}
	tb.Fatalf("no contact %s in %s", contact, loc)
	return nil
}

// HasTag reports whether tags holds tag, compared as HighLevel does
// (without regard to case).
func HasTag(tags []string, tag string) bool {
	return slices.ContainsFunc(tags, func(s string) bool { return strings.EqualFold(s, tag) })
}

// WaitTags waits until each contact of loc has every tag of want and none
// of gone.
func (e *Env) WaitTags(tb testing.TB, loc string, contacts []string, want, gone []string) {
	tb.Helper()
	Eventually(tb, 20*time.Second, "contact tags", func() bool {
		for _, c := range contacts {
			tags := e.ContactTags(tb, loc, c)
			for _, w := range want {
				if !HasTag(tags, w) {
					return false
				}
			}
			for _, g := range gone {
				if HasTag(tags, g) {
					return false
				}
			}
		}
		return true
	})
}

// LiveContacts returns the ids of the first n contacts of loc in the
// simulator that are not deleted; it fails the test when loc has fewer.
func (e *Env) LiveContacts(tb testing.TB, loc string, n int) []string {
	tb.Helper()
	var out []string
	for _, c := range e.Location(tb, loc).Contacts {
		if !c.Deleted && len(out) < n {
			out = append(out, c.ID)
		}
	}
	if len(out) < n {
		tb.Fatalf("%s has only %d live contacts, want %d", loc, len(out), n)
	}
	return out
}
