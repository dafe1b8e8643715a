// Package catalogue is the fetcher's domain logic, over plain types: the
// stored tag catalogue, the diff between two catalogues (created, renamed
// and deleted tags), the batching of tag details requests, the pacing of
// catalogue refreshes, the validation of post triggers and the posts
// poller's cursor. It knows neither NATS nor HighLevel's client.
package catalogue
