// Package ratelimit keeps the whole fleet within HighLevel's limits of
// each location: Max requests (100) in any rolling Window (10 s) and Daily
// requests (200,000) per UTC day, however many processes make them, and
// however late a request leaves after its permit. It also works for
// company ids, which HighLevel limits the same way.
//
// # The shared budget
//
// Each location has one key in the socialsync_rate_budget bucket. Its
// value holds the permits that still count: the open ones, handed out and
// not yet answered, as one entry per process (process id, count, latest
// grant), and the closed ones, as (response time, count) grants; with the
// day's count and a pause. Processes change it only by compare-and-set
// (KV Create, or Update at the revision they read); on a conflict they
// read again and decide again. A grant is made only when the open and
// closed permits leave room for it, and every write rests on the latest
// revision.
//
// # Why the window holds by construction
//
// A permit counts against its location's window from its grant until its
// response arrives plus Window+Guard. Take any Max+1 requests that reach
// HighLevel within one window, and the one granted last, at g2: every
// other one, arriving at a1 and answered at r1 ≥ a1, was granted before g2
// and still held at g2, since g2 ≤ a2 < a1+Window ≤ r1+Window. So the
// budget held Max permits at g2 and refused the last: no window of
// arrivals ever holds more than Max, whatever the time between a permit
// and its socket (a starved CPU, a token refresh, a slow connection).
// Guard covers only the disagreement of the clocks of the fleet's hosts
// and HighLevel's; it defaults to a hundredth of the window (100 ms of
// 10 s), the budget's price for it.
//
// ghl.Client releases every permit it admitted exactly once, when the
// attempt is over (response, transport error, timeout, context ended):
// Acquire returns the Release, which the client calls from a defer. The
// release moves the permit from its process's open count to a closed
// grant at the response time. Releases are not written one by one: the
// process's writer for the location (below) folds them into its next
// write, or writes them at once when it has nothing else to do; the delay
// costs nothing, since the closed grant is dated at the response.
// Each process owns its open entry and writes its count as it knows it,
// rather than counting down, so that a write repeated after an error that
// hid its success does not free permits still in flight.
//
// # A process that dies
//
// The budget holds times, not leases that someone must give back. The
// open permits of a process that dies are held until its latest grant
// plus FlightBound (the client's per-attempt timeout and a margin: no
// admitted request reaches HighLevel later) plus Window+Guard, and then
// dropped by whoever writes next; its closed ones leave with the window.
// Nothing needs cleaning up, and correctness does not depend on key TTLs:
// the bucket's 25-hour MaxAge only drops the keys of idle locations.
//
// # One writer per process and location
//
// A process does not write once per request. Its callers for one location
// queue up, and one goroutine (the pump) takes permits for all of them in
// one write, with the releases that came meanwhile, hands them out oldest
// first, and, when the window is full, sleeps until the oldest grant
// leaves it or a release wakes it. Each process keeps its last copy of
// the budget and decides from it without reading when that copy says no,
// unless it holds another process's open permits and is older than 50 ms:
// those may have closed since, so it reads again.
//
// A location's state in a process's memory is dropped after IdleTTL
// (5 minutes) without a caller, when nobody waits and none of its permits
// is open; it comes back from the bucket on the next call.
//
// # Leases
//
// With Config.Lease, a process's write for a lane's callers also leases a
// few more permits of that lane while the budget is far from full (at most
// half of the window held after the lease); the lane's next callers take
// them with no round trip, until the lease ends (a tenth of the window, at
// most a second), when the unspent ones go back; Close gives them back at
// once. A leased permit is an open permit from its lease's write, so the
// window's argument above holds with its grant at that write. See lease.go.
//
// # Pacing instead of blocking
//
// Acquire, which ghl.Client calls before every attempt, blocks only when
// the permit is at most MaxWait away and fewer than MaxWaiters callers of
// the process wait for the location. Otherwise it returns a *PacedError
// whose Wait is when that caller's permit should be due (open permits
// are taken to close now, as most do within milliseconds): the callers
// turned away are each given their own future permit, so that a backlog
// comes back as fast as permits free up, neither all at once nor later. A
// message handler that returns the error has its message handed back to
// JetStream for that long (bus.Classify knows DeferFor), and the consumer
// goes on with other locations' messages.
//
// # Learning from HighLevel
//
// A permit's Release reads the response. A 429 pauses the location for
// every process until its Retry-After (or the window when it has none). A
// response that reports fewer requests remaining, in the window or in the
// day, than the budget believes means that someone else used them (a script
// or another deployment with the same credentials): the difference is
// recorded as a grant, which the window frees again. The budget is never
// corrected upward.
package ratelimit
