// Package bus is socialsync's JetStream layer: the topology (streams,
// durable consumers, key-value buckets, the reports object store) declared
// once and ensured at start-up, subject builders that only accept valid
// location ids, the protobuf/protojson codec, a Publisher that sets
// Nats-Msg-Id and W3C trace headers, one Handler type with middleware, and
// a Consumer that turns a handler's error into Ack, NakWithDelay or Term
// plus a dead letter, in one place. It knows the message contracts but no
// single worker's logic.
//
// # Errors become acknowledgements
//
// A Handler returns nil (ack), a deferral (Defer, or an error with a
// DeferFor method; a HighLevel auth failure waits AuthWait: NakWithDelay,
// as often as need be), a retryable error (NakWithDelay: the backoff, or
// the delay RetryAfter or a HighLevel 429 asked for), or a permanent one
// (Permanent, bad input, a HighLevel 4xx, a panic): Term after a dead
// letter on "socialsync.dlq.<worker>.<loc>" with the original bytes and
// headers naming the reason, class, original subject, stream sequence and
// delivery count. The number of deliveries decides nothing (the server's
// MaxDeliver is unlimited): a retryable failure is dead-lettered once the
// message is older than the consumer's retry horizon, and a message whose
// handler was cut short CrashLimit times (the process died while it ran)
// is dead-lettered without running the handler (deliveries.go). A failed dead
// letter naks the message, so it is tried again rather than lost.
//
// A message that is too large, does not decode, names an invalid location
// in its subject, or whose location_id disagrees with its subject is bad
// input: a dead letter, never a crash; one dead letter, sent by the durable
// that owns the subject family (ConsumerSpec.SilentBadInput). A credential never reaches a log
// line, a span or a dead-letter header: error texts are redacted and
// credential-bearing headers are not copied.
//
// # Coalescing post triggers
//
// A burst of post triggers for one location must cost one catalogue fetch,
// with nothing but JetStream remembering the burst. The fetcher's handler
// for "socialsync.trigger.post.<loc>" only republishes the PostEvent to
// "socialsync.refresh.catalogue.<loc>". That subject's stream,
// SOCIALSYNC_REFRESH, is a work queue keeping one message per subject and
// discarding the older: however many triggers arrive while no refresh is
// pending, one refresh is pending; one that arrives while a refresh runs
// replaces nothing running but leaves one refresh to run after it, so no
// tag created after a fetch began is missed. (DiscardNewPerSubject would
// drop that trigger instead.) The fetcher's second durable, on
// SOCIALSYNC_REFRESH, does the fetch. The duplicate window drops the
// copies of one event (same event_id) on both streams.
//
// The per-subject limit alone is not enough: a pull consumer takes each
// refresh as soon as it is stored, so a burst would run fetches back to
// back. The fetcher therefore fetches a location's catalogue at most once
// per refresh interval: a refresh that comes too early is handed back with
// a delay (Defer: a NakWithDelay that never counts as a failure), so the
// server, not a timer in a pod, holds it, and a newer refresh that replaces
// it meanwhile means the old one is never redelivered. A handler also skips a refresh that is no longer the latest
// for its location. 300 triggers in a second cost 1 to 3 fetches.
//
// # Daily statistics
//
// The stats worker stores one JetStream message schedule per location (a
// StatsRequested, cron in the location's time zone) on
// "socialsync.schedule.stats.<loc>" in SOCIALSYNC_SCHEDULES. A schedule
// can only fire into its own stream, and a stream with schedules cannot
// source others, so runs land on "socialsync.scheduled.stats.<loc>" and
// SOCIALSYNC_TRIGGERS sources them, transformed to
// "socialsync.trigger.stats.<loc>", where the stats durable reads them
// like any on-demand request.
//
// # Shutdown
//
// Consumer.Run stops pulling when its context ends, naks what it pulled
// but did not start, gives running handlers ShutdownTimeout to finish, and
// naks what still runs after that. Then the caller drains the connection.
package bus
