// Package bench holds the fleet's benchmarks that `make bench` runs: the
// JetStream baseline beside socialsync's own ingest, the pipeline end to
// end against a zero-latency simulator, the cold start against a plain
// per-event integration, the warm burst, the fleet's CPU per 1,000
// HighLevel calls, the rate governance under a backlog and the scale of
// 10,000 locations. cmd/benchtable turns their output into the table of
// docs/measured.md.
package bench
