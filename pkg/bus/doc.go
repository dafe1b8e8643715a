// Package bus is socialsync's JetStream runtime: it applies a topology
// value it is given (pkg/topology declares socialsync's), or verifies that
// the server holds it, builds subjects
// that only accept valid location ids, codes protobuf/protojson, publishes
// with Nats-Msg-Id and W3C trace headers, runs one Handler type with
// middleware, and has a Consumer that turns a handler's error into Ack,
// NakWithDelay or Term plus a dead letter, in one place. It knows neither
// HighLevel nor socialsync's streams and subjects, nor any worker: it
// imports only the leaf packages (pkg/ids, the message contracts).
//
// # Errors become acknowledgements
//
// The bus asks an error what to do with its message, through methods the
// error's own package implements without importing bus, the way net.Error
// answers Timeout (see Classify): BadInput() bool, DeferFor()
// time.Duration, RetryAfter() time.Duration, Permanent() bool,
// RateLimited() (time.Duration, bool) and Unauthorized() bool. *ghl.Error
// answers them for HighLevel's statuses, *ids.Error, *ratelimit.PacedError
// and pkg/creds' errors for theirs; Permanent, RetryAfter and Defer wrap
// any other error. A Handler returns nil (ack), a deferral (NakWithDelay,
// never a failure; an unauthorized error waits AuthWait, as often as need
// be), a retryable error (NakWithDelay: the backoff, or the delay the
// error asks for), or a permanent one (Permanent, bad input, a HighLevel
// 4xx, a panic): Term after a dead
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
// # Shutdown
//
// Consumer.Run stops pulling when its context ends, naks what it pulled
// but did not start, gives running handlers ShutdownTimeout to finish, and
// naks what still runs after that. Then the caller drains the connection.
package bus
