// Package enrichment is the enricher's domain logic, over plain types: the
// validation of tag details requests and post triggers, the batching of
// tag ids for HighLevel's details call, which contact tag names the
// location's catalogue lacks, when a fetched tag detail replaces the
// stored one, and how a post event changes the post ↔ tag relations. It
// knows neither NATS nor HighLevel's client.
package enrichment
