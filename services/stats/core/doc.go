// Package core is the statistics worker's domain logic, free of NATS and
// HTTP: which profiles a request covers, which location-local day a
// snapshot belongs to, the snapshot's stored form and message ids, and the
// schedule specs JetStream accepts.
package core
