// Package ratelimit keeps the whole fleet within HighLevel's limits of
// each location: Max requests (100) in any rolling Window (10 s) and Daily
// requests (200,000) per UTC day, however many processes make them. It
// also works for company ids, which HighLevel limits the same way.
//
// # The shared budget
//
// Each location has one key in the socialsync_rate_budget bucket. Its
// value lists the permits handed out in the last Window+Guard, as
// (time, count) grants, with the day's count and a pause. Processes change
// it only by compare-and-set (KV Create, or Update at the revision they
// read); on a conflict they read again and decide again. A grant is made
// only when the grants still in the window leave room for it, and every
// write rests on the latest revision, so the permits of any rolling window
// never add up to more than Max, whatever the number of processes and
// however their writes interleave.
//
// A permit counts for Window+Guard from the moment it is handed out:
// HighLevel counts the request from when it arrives, up to Guard later,
// and the processes' clocks may disagree by a little. Guard defaults to a
// fortieth of the window and at least 250 ms (250 ms of 10 s); the price
// is that share of the budget. A request that leaves later than Guard
// after its permit (a starved process) can still land in a fuller window:
// the permit does not yet follow its request to the response.
//
// The budget holds times, not leases that someone must give back: a
// process that dies holding permits it never used loses them for one
// window at most, and nothing needs cleaning up. Nor does correctness
// depend on key TTLs: the bucket's 25-hour MaxAge only drops the keys of
// idle locations.
//
// # One writer per process and location
//
// A process does not write once per request. Its callers for one location
// queue up, and one goroutine (the pump) takes permits for all of them in
// one write, hands them out oldest first, and, when the window is full,
// sleeps until the oldest grant leaves it. Each process keeps its last copy
// of the budget: it decides from it without reading when that copy already
// says no (a fresher budget only holds more grants), and writes at its
// revision when it says yes, so a lone process writes once per batch.
//
// # Pacing instead of blocking
//
// Acquire, which ghl.Client calls before every attempt, blocks only when
// the permit is at most MaxWait away and fewer than MaxWaiters callers of
// the process wait for the location. Otherwise it returns a *PacedError
// whose Wait is when that caller's permit should be due: the callers turned
// away are each given their own future permit, so that a backlog comes
// back as fast as permits free up, neither all at once nor later. A message
// handler that returns the error has its message handed back to JetStream
// for that long (bus.Classify knows DeferFor), and the consumer goes on
// with other locations' messages.
//
// # Learning from HighLevel
//
// Observe reads every response. A 429 pauses the location for every
// process until its Retry-After (or the window when it has none). A
// response that reports fewer requests remaining, in the window or in the
// day, than the budget believes means that someone else used them (a script
// or another deployment with the same credentials): the difference is
// recorded as a grant, which the window frees again. The budget is never
// corrected upward.
package ratelimit
