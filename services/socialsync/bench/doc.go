// Package bench holds the benchmarks `make bench` runs: the JetStream
// baseline beside socialsync's own ingest, and the pipeline end to end
// against a zero-latency simulator.
package bench
