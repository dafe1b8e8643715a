// Package fleet wires a socialsync process: the configuration every worker
// shares, the NATS connection and topology, telemetry, the credential store,
// the HighLevel client, the health server, and the run group that starts
// and stops them in order. A worker lists its routes and loops (Worker);
// Components turns them into consumers with the standard middleware (the
// location check included) and Serve runs every component of the process
// in one lifecycle group. Each worker's main and the all-in-one binary use
// it, so a worker is wired the same way wherever it runs.
package fleet
