// Package relations owns the records of the tags and relations buckets and
// their keys: a location's tag catalogue (socialsync_tags, Catalogue), and
// in socialsync_relations the post records, the posts of each tag, the
// contacts of each post, the contacts' states and removal records. Each
// record is declared once, here; the fetcher, the enricher and contactsync
// write them, the gateway and pkg/report/source read them, all through
// these types and key functions. Writes go through package revision

// (revision-checked Put, Delete and Update). Plain Go: no NATS.
package relations
