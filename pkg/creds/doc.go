// Package creds keeps the connected HighLevel locations and their tokens.
//
// Locations (id, name, time zone, how they authenticate, their state) live
// in the locations key-value bucket; their tokens live in the tokens bucket,
// sealed with AES-256-GCM under a key the operator supplies. No token is
// stored in plain text, and none reaches a log line, a span, an error string
// or a dead letter: the types that hold one redact it when printed.
//
// # One refresher per location
//
// An OAuth access token is refreshed ahead of its expiry by exactly one
// process of the fleet, however many replicas of however many workers ask
// for it. The token record is its own lock: the process that finds the
// token due writes the record back with a lease (its name and an expiry,
// in clear beside the sealed token) as a compare-and-set on the revision
// it read. Only one such write succeeds per revision, and its success also
// proves that the refresh token it read is the latest one, even when the
// read came from a lagging replica of the bucket. The winner calls the
// token endpoint and stores the new pair with a compare-and-set on the
// lease's revision, which releases the lease; only then does it hand out
// the new access token. The others keep using the current access token,
// still valid since the refresh happens ahead of expiry, and read the new
// record on their next call. Within one process, callers for one location
// share one refresh.
//
// A lease that outlives its expiry (its holder crashed or hung) may be
// taken over by another compare-and-set. If the holder died after the
// token endpoint answered and before the new pair was stored, the refresh
// token is spent: the next refresher's attempt is rejected with
// invalid_grant and the location is marked as needing re-authorisation.
//
// # Needing re-authorisation
//
// A refresh rejected with invalid_grant marks the location: the token
// record and the location record say so, a LocationStateChanged is
// published on socialsync.event.location.<loc>, and from then on the
// TokenSource returns a *NeedsReauthError at once, without calling
// HighLevel, until the location is connected again.
//
// A refresh whose answer was lost (no answer, a reset, a 5xx) may or may
// not have spent the refresh token. The refresher asks once more with the
// same token: a rejection proves it spent (the location is marked), a
// success proves it was not. When that second call is lost too, or the
// token endpoint answered 429 or could not be reached, nothing is settled:
// the record gets a pause (5 s, doubling up to 5 min) during which no
// process calls the token endpoint for the location, and the first
// attempt after it settles the question. So an outage of the token
// endpoint neither marks every location that comes due nor hammers it.
//
// # Agencies and the hosted flow
//
// An agency's (Company) token is kept like a location's, sealed under its
// company id in the tokens bucket and refreshed under the same lease; it
// lists the agency's installed locations and trades itself for their
// tokens (ConnectAgency, SyncAgency, ConnectInstalled). The hosted OAuth
// flow's states live in AuthRequests; the Connector is the worker's end
// of the gateway's callback and of HighLevel's INSTALL and UNINSTALL
// webhooks. A location uninstalled in HighLevel keeps its record, without
// tokens, in StateUninstalled; its messages are dropped
// (UninstalledError).
package creds
