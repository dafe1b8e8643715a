// Package tagging is contactsync's domain logic, free of NATS and HTTP: what
// a post event means for each of its contacts, and which contact tags to
// add and remove so that a contact carries exactly the tags of its posts
// (pkg/contacttags groups them into HighLevel calls).
package tagging
