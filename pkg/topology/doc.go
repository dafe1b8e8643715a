// Package topology is socialsync's schema on JetStream: the streams, the
// durable consumers, the key-value buckets and the reports object store
// (New, Ensure), the subject families with one member per location
// (PostTriggers, TagEvents, …; ParseSubject), which durable owns the dead
// letter of a family several durables read, and the storage limits every
// store gets (Footprints, LimitVar). pkg/bus runs what it declares; a
// worker names its streams, durables and buckets from here.
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
package topology
