// Package snapshot is the statistics worker's domain logic, free of NATS
// and HTTP: which profiles a statistics snapshot covers, which stored
// snapshots the retention expires, the message ids of a snapshot's events
// and the custom values its recommendations become. The stored form of a
// snapshot belongs to pkg/report (report.Record), which builds reports
// from it.
package snapshot
