// Package ghlsim is a HighLevel (LeadConnector) API simulator: an
// http.Handler that answers the Social Planner, contacts, location tags,
// custom values and OAuth endpoints socialsync uses the way HighLevel does
// according to its official OpenAPI files — success envelopes, 200 versus
// 201, NestJS-style error bodies, scopes, the Version header, per-location
// rolling-window rate limits with X-RateLimit-* headers, single-use
// authorization codes and rotating refresh tokens, and Private Integration
// Tokens.
//
// It serves the wire types of package ghl, so the client and the simulator
// share one definition of every body. Its data is seeded and deterministic:
// the same seed gives the same locations, tags, accounts, posts, contacts
// and credentials. An admin API under /_sandbox/ (no authentication) creates
// and inspects locations, renames and deletes Social Planner tags, creates
// posts and contacts, reads the request log, injects faults and changes
// token lifetimes and rate limits at run time.
//
// A Simulator is safe for concurrent use. Each location has its own locks;
// tokens and locations are found without a global lock, so the simulator is
// not the bottleneck of a load test.
package ghlsim
