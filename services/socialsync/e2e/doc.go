// Package e2e runs socialsync as it runs in production: a real nats-server
// process (built from its Go module), the simulator (`socialsync sandbox`)
// and each worker as its own process, talking over loopback only.
package e2e
