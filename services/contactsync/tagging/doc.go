// Package tagging is contactsync's domain logic, free of NATS and HTTP: what
// a post event means for each of its contacts, which contact tags to add
// and remove so that a contact carries exactly the tags of its posts, and
// how those changes are grouped into HighLevel calls.
package tagging
