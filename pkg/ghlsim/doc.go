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
// Where HighLevel's behaviour is undocumented the simulator chooses, and
// says so here:
//
//   - Contact tags and location tag names are stored trimmed and lower
//     case, as HighLevel shows them; adding a contact tag adds it to the
//     location's tag catalogue.
//   - results.count of the tag and post lists is the size of the page. The
//     tag list's default limit is 10; there is no maximum.
//   - A request is checked in this order: bearer token (401), the token's
//     location's rate limit (429), Version header (400), token kind and
//     scope (401), location (403). Everything after the token counts
//     against the limit; a 429 does not. Company tokens are not limited.
//   - A create of a name already taken answers, as configured with
//     PUT /_sandbox/config "duplicates": for custom values 400 (default) or
//     422; for location tags 200 with the existing tag (default), 400 or
//     422. HighLevel documents neither.
//   - The scope each endpoint needs is the simulator's own table
//     (endpoints), checked by a test against the OpenAPI files and the
//     client's table. A missing scope answers 401 "The token is not
//     authorized for this scope.", as HighLevel does.
//   - The bulk tag call's succeded is true when no contact failed.
//   - Refresh tokens are strictly single use: a refresh voids the old one,
//     and reusing it answers 400 invalid_grant. A new access token lifetime
//     applies to tokens issued after the change.
//   - Statistics are a pure function of the location, the profile and the
//     calendar day in the location's time zone.
//
// A Simulator is safe for concurrent use. Each location has its own locks;
// tokens and locations are found without a global lock, so the simulator is
// not the bottleneck of a load test.
package ghlsim
