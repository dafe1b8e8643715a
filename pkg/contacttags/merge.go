package contacttags

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Merger merges the contact tag writes of concurrent callers for one
// location into as few HighLevel calls as their tag sets allow.
//
// Each location (and lane: interactive and background writes are never
// mixed) has a pool of the contacts waiting for writes and at most one
// sender. A caller puts its contacts' diffs in the pool and waits; the
// sender picks, call after call, the write that covers the most of the
// pool's (contact, tag) pairs (one tag set, added to or removed from every
// contact that still needs all of it), sends it, and hands each caller its
// contacts' outcomes once all of them are done. When the location's
// budget is free the first caller's write leaves at once, as it would
// alone; while a call waits for its permit (the governor paces the
// location) or a backlog arrives meanwhile, the pool fills, and the next
// call covers everything that came: batching adapts to the load without a
// timer.
//
// A contact HighLevel refuses fails alone (Result.Failed). A call that
// fails as a whole fails the callers that had contacts in it (their
// unfinished contacts are Incomplete, Err says why); the others go on. A
// call paced by the governor (an error with DeferFor, ratelimit's
// PacedError) is tried again after that delay, at most MaxPause, with what
// has come meanwhile; a longer pacing is returned to every caller.
//
// The most contacts of one bulk call is learnt per location (BulkSizes):
// HighLevel documents no maximum; a 422 to a bulk call halves it.
type Merger struct {
	client  func(loc string) Tagger
	bulkMin int
	sizes   *BulkSizes

	budget Budget

	mu    sync.Mutex
	pools map[poolKey]*pool
	// recent is the last tag change each contact had from this Merger,
	// by location, contact and tag, while younger than RecentFor.
	recent map[recentKey]recentWrite
}

// RecentFor is how long the Merger trusts its own last write of a
// contact's tag: a change asking for it again within that time (the
// handler of another event of the contact, planning again after their
// states raced) is taken as done without a call. Only a change of the
// opposite kind (a removal after an add) is sent.
const RecentFor = time.Minute

type recentKey struct{ loc, contact, tag string }

type recentWrite struct {
	remove bool
	at     time.Time
}

// MaxPause is the longest the sender of a paced location waits before it
// tries again; a longer pacing is handed to the callers (their messages
// go back to JetStream for it).
const MaxPause = 10 * time.Second

// NewMerger returns a Merger writing through client(loc), sending a group
// of at least bulkMin contacts that need the same change in bulk calls
// of at most sizes' size for the location.
func NewMerger(client func(loc string) Tagger, bulkMin int, sizes *BulkSizes) *Merger {
	return &Merger{client: client, bulkMin: max(bulkMin, 1), sizes: sizes, pools: map[poolKey]*pool{}, recent: map[recentKey]recentWrite{}}
}

// Budget tells how much of a location's request budget is free
// (ratelimit.Governor.Spare): the permits of lane free now, of limit per
// window.
type Budget interface {
	Spare(loc string, lane ghl.Lane) (spare, limit int64, window time.Duration)
}

// PaceBy makes m ask b before each call: while less than half of the
// location's window is free, each call leaves at least window/limit (the
// pace the budget sustains, 100 ms at HighLevel's 100 per 10 s) after the
// previous one started, and takes everything that came meanwhile. With
// the budget half free or more, calls leave at once. Call it before the
// first Send.
func (m *Merger) PaceBy(b Budget) { m.budget = b }

// linger returns how long the next call of key waits for more writes.
func (m *Merger) linger(key poolKey) time.Duration {
	if m.budget == nil {
		return 0
	}
	spare, limit, window := m.budget.Spare(key.loc, key.lane)
	if limit <= 0 || spare*2 >= limit {
		return 0
	}
	return min(window/time.Duration(limit), time.Second)
}

type poolKey struct {
	loc  string
	lane ghl.Lane
}

// pool is one location's waiting contacts.
type pool struct {
	items   []*item
	callers int // callers with unfinished items
	senders int // its senders at work (send)
	// alone marks the turn of a writer let in without a merging place
	// (Alone) while the pool was idle.
	alone bool
	// coming counts the handlers of the location at work (Coming), in
	// the pool or about to join it; joined is signalled on each join.
	coming int
	joined chan struct{}
}

// Gather is the longest a call waits for the writes of handlers of its
// location that are at work (Coming) and not in the pool yet.
const Gather = 50 * time.Millisecond

// Coming tells m that a handler of loc is at work in ctx's lane and may
// soon Send: while such handlers have not joined the pool, its next call
// waits for them, at most Gather. The returned function ends it; call it
// when the handler is done.
func (m *Merger) Coming(ctx context.Context, loc string) (done func()) {
	key := poolKey{loc, ghl.LaneOf(ctx)}
	m.mu.Lock()
	p := m.pool(key)
	p.coming++
	m.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			p.coming--
			m.drop(key, p)
		})
	}
}

// pool returns key's pool, made when absent. The caller holds m.mu.
func (m *Merger) pool(key poolKey) *pool {
	p := m.pools[key]
	if p == nil {
		p = &pool{joined: make(chan struct{}, 1)}
		m.pools[key] = p
	}
	return p
}

// drop forgets key's pool once nothing is in or coming. The caller holds
// m.mu.
func (m *Merger) drop(key poolKey, p *pool) {
	if p.senders == 0 && len(p.items) == 0 && p.callers == 0 && p.coming == 0 && !p.alone && m.pools[key] == p {
		delete(m.pools, key)
	}
}

// gather waits, at most Gather, while handlers of p's location are at
// work and not in the pool.
func (m *Merger) gather(p *pool) {
	deadline := time.Now().Add(Gather)
	for {
		m.mu.Lock()
		waiting := p.coming - p.callers
		m.mu.Unlock()
		left := time.Until(deadline)
		if waiting <= 0 || left <= 0 {
			return
		}
		select {
		case <-p.joined:
		case <-time.After(left):
		}
	}
}

// item is one contact of one caller: the tags still to add and remove.
type item struct {
	req         *request
	contact     string
	add, remove map[string]bool
	inFlight    bool
}

// request is one caller's part of the pool.
type request struct {
	res  Result
	left int
	done chan struct{}
}

func (r *request) finish() {
	if r.res.Err == nil {
		for id := range r.res.Incomplete {
			r.res.Err = fmt.Errorf("contact %s: no outcome", id)
			break
		}
	}
	close(r.done)
}

// Waiting returns how many callers wait for loc's writes in lane.
func (m *Merger) Waiting(loc string, lane ghl.Lane) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.pools[poolKey{loc, lane}]; p != nil {
		return p.callers
	}
	return 0
}

// Alone gives one writer of loc in ctx's lane its turn to Send without
// waiting for others: ok while nothing waits in the location's pool and
// no other writer has the turn. The turn lasts until release; a writer
// that Sends meanwhile is a caller of the pool like any other (its call
// may still be paced), but no second writer is let in so beside it.
// Callers bound by a number of places (contactsync's merging places)
// use it so that a location far over its budget holds at most its
// places and this one turn.
func (m *Merger) Alone(ctx context.Context, loc string) (release func(), ok bool) {
	key := poolKey{loc, ghl.LaneOf(ctx)}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pool(key)
	if p.callers > 0 || p.alone {
		m.drop(key, p)
		return nil, false
	}
	p.alone = true
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			p.alone = false
			m.drop(key, p)
		})
	}, true
}

// Send writes diffs (per contact) for loc, merged with the writes other
// callers wait for, and returns when every contact of diffs is done,
// refused or given up on, with the outcome of each as Send's. The calls
// are made in ctx's lane (ghl.LaneOf). When ctx ends first, it returns
// with ctx's error and the contacts not done yet Incomplete; the write in
// flight, if any, goes on.
func (m *Merger) Send(ctx context.Context, loc string, diffs map[string]Diff) Result {
	req := &request{res: Result{Failed: map[string]string{}, Incomplete: map[string]bool{}}, done: make(chan struct{})}
	key := poolKey{loc, ghl.LaneOf(ctx)}
	m.mu.Lock()
	p := m.pool(key)
	now := m.sizes.now()
	for _, c := range slices.Sorted(maps.Keys(diffs)) {
		d := m.unsent(now, loc, c, diffs[c])
		if d.Empty() {
			continue
		}
		p.items = append(p.items, &item{req: req, contact: c, add: Set(d.Add), remove: Set(d.Remove)})
		req.res.Incomplete[c] = true
		req.left++
	}
	if req.left == 0 {
		m.drop(key, p)
		m.mu.Unlock()
		return Result{Failed: map[string]string{}, Incomplete: map[string]bool{}}
	}
	p.callers++
	select {
	case p.joined <- struct{}{}:
	default:
	}
	if p.senders == 0 {
		p.senders++
		// The sender keeps its pool's writes when paced and tries again
		// at the next permit: it is promised none of the permits over
		// which the deferred messages' returns are spread.
		sctx := ghl.WithInMemoryRetry(ghl.WithLane(context.WithoutCancel(ctx), key.lane))
		go m.send(sctx, key, p)
	}
	m.mu.Unlock()

	select {
	case <-req.done:
		return req.res
	case <-ctx.Done():
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-req.done:
		return req.res
	default:
	}
	// Gone: its items leave the pool (one in flight finishes unseen).
	p.items = slices.DeleteFunc(p.items, func(it *item) bool { return it.req == req && !it.inFlight })
	p.callers--
	m.drop(key, p)
	res := Result{Failed: req.res.Failed, Incomplete: map[string]bool{}, Err: ctx.Err()}
	for id := range req.res.Incomplete {
		res.Incomplete[id] = true
	}
	req.left = -1 // never finished by the sender
	return res
}

// unsent returns d less the tag changes this Merger made last, within
// RecentFor, to contact c of loc. The caller holds m.mu.
func (m *Merger) unsent(now time.Time, loc, c string, d Diff) Diff {
	keep := func(tags []string, remove bool) []string {
		var out []string
		for _, t := range tags {
			r, ok := m.recent[recentKey{loc, c, t}]
			if ok && r.remove == remove && now.Sub(r.at) < RecentFor {
				continue
			}
			out = append(out, t)
		}
		return out
	}
	return Diff{Add: keep(d.Add, false), Remove: keep(d.Remove, true)}
}

// wrote records that HighLevel took wr for contact c of loc. The caller
// holds m.mu.
func (m *Merger) wrote(now time.Time, loc, c string, wr *Write) {
	if len(m.recent) > 100_000 {
		maps.DeleteFunc(m.recent, func(_ recentKey, r recentWrite) bool { return now.Sub(r.at) >= RecentFor })
	}
	for _, t := range wr.Tags {
		m.recent[recentKey{loc, c, t}] = recentWrite{remove: wr.Remove, at: now}
	}
}

// MaxSenders is how many calls one location's pool (per lane) has in
// flight at most, in one process: while the location's budget paces its
// calls (less than half its window free, PaceBy), the pool holds more
// than its next call takes and merging folds nothing (the plan takes a
// call per caller anyway), a sender that starts a call starts another
// sender, so that such a backlog is not sent one call at a time (each
// call's own time, its permit and HighLevel's answer, left the window
// part unused: 0.88 of it at 100 per 10 s with one replica). With the
// budget free, one sender keeps up with it. While merging folds
// writes, one sender plans them all: senders side by side would split
// what one call carries (9 calls for 12 callers where one sender makes
// 5). The governor still paces every call (a sender it paces beyond the
// first ends, the first waits and tries again), and a contact with a
// call in flight is not in another (choose), so its changes keep their
// order.
const MaxSenders = 4

// send is one of the pool's senders: it makes one call after another
// until the pool has nothing left for it.
func (m *Merger) send(ctx context.Context, key poolKey, p *pool) {
	client := m.client(key.loc)
	var last time.Time // the previous call's start
	for {
		// The pace counts from the previous call's start, not its end
		// (waiting it after each call would add the call's own time to
		// every one), and holds only while the next call would carry
		// every write of the pool: with more waiting than one call takes,
		// waiting gathers nothing the pool lacks (0.79 of the window at
		// 100 per 10 s with one replica, 0.73 with the pace from the
		// call's end only).
		pace := m.linger(key)
		d := pace - time.Since(last)
		m.gather(p)
		m.mu.Lock()
		size := m.sizes.Size(key.loc)
		wr, its, more, folds := choose(p.items, m.bulkMin, size)
		if wr != nil && !more && d > 0 {
			m.mu.Unlock()
			<-time.After(d)
			m.gather(p)
			m.mu.Lock()
			size = m.sizes.Size(key.loc)
			wr, its, more, folds = choose(p.items, m.bulkMin, size)
		}
		if wr == nil {
			p.senders--
			m.drop(key, p)
			m.mu.Unlock()
			return
		}
		for _, it := range its {
			it.inFlight = true
		}
		if more && !folds && pace > 0 && p.senders < MaxSenders {
			p.senders++
			go m.send(ctx, key, p)
		}
		m.mu.Unlock()

		last = time.Now()
		out := Send(ctx, client, key.loc, []Write{*wr})
		var pause time.Duration
		var deferrer interface{ DeferFor() time.Duration }
		again := false
		switch {
		case out.Err != nil && errors.As(out.Err, &deferrer) && deferrer.DeferFor() <= MaxPause:
			// Paced: the same contacts (and those that come
			// meanwhile) are tried again once a permit is near.
			pause, again = deferrer.DeferFor(), true
		case wr.Bulk && len(wr.Contacts) > 1 && tooMany(out.Err):
			// HighLevel's bulk maximum (assumed: it documents none):
			// the same contacts go again in smaller calls.
			m.sizes.Refused(key.loc, len(wr.Contacts))
			again = true
		}

		m.mu.Lock()
		for _, it := range its {
			it.inFlight = false
		}
		if again {
			p.items = slices.DeleteFunc(p.items, func(it *item) bool { return it.req.left < 0 })
		} else {
			now := m.sizes.now()
			for _, c := range wr.Contacts {
				if out.Failed[c] == "" && !out.Incomplete[c] {
					m.wrote(now, key.loc, c, wr)
				}
			}
			m.settle(p, wr, its, out)
		}
		if pause > 0 && p.senders > 1 {
			// Paced: one sender waits for the permit, the others end.
			p.senders--
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		if pause > 0 {
			<-time.After(pause)
		}
	}
}

// settle applies the outcome of wr to its items and finishes the callers
// that are done. The caller holds m.mu.
func (m *Merger) settle(p *pool, wr *Write, its []*item, out Result) {
	var failedReqs []*request
	for _, it := range its {
		r := it.req
		if r.left < 0 {
			continue // its caller is gone
		}
		switch {
		case out.Failed[it.contact] != "":
			r.res.Failed[it.contact] = out.Failed[it.contact]
			delete(r.res.Incomplete, it.contact)
			it.add, it.remove = nil, nil
		case out.Incomplete[it.contact]:
			if !slices.Contains(failedReqs, r) {
				failedReqs = append(failedReqs, r)
			}
		default:
			tags := it.add
			if wr.Remove {
				tags = it.remove
			}
			for _, t := range wr.Tags {
				delete(tags, t)
			}
		}
	}
	if out.Err != nil {
		// The call failed as a whole: its callers are given up on,
		// their contacts not done yet incomplete.
		for _, r := range failedReqs {
			r.res.Err = out.Err
		}
	}
	kept := p.items[:0]
	for _, it := range p.items {
		r := it.req
		switch {
		case r.left < 0:
			if it.inFlight {
				kept = append(kept, it)
			}
			continue
		case r.res.Err != nil:
			// stays Incomplete
		case len(it.add) == 0 && len(it.remove) == 0:
			delete(r.res.Incomplete, it.contact)
		default:
			kept = append(kept, it)
			continue
		}
		r.left--
		if r.left == 0 {
			p.callers--
			r.finish()
		}
	}
	clear(p.items[len(kept):])
	p.items = kept
}

// tooMany reports whether err is HighLevel's refusal of a bulk call as a
// whole with a 422: with socialsync's well-formed bodies, the only cause
// is more contacts than it takes.
func tooMany(err error) bool {
	var e *ghl.Error
	return errors.As(err, &e) && e.StatusCode == http.StatusUnprocessableEntity
}

// choose returns the next write of the pool, and its items: the first
// write of the cheapest of three plans for the items not in flight, by
// the number of calls: contacts needing the same whole change share calls
// (Batch), or each tag that at least bulkMin contacts need is one bulk
// call for all of them and every contact's other tags one single-contact
// call (ByTag), or each set of tags the events asked for is one call for
// all of their contacts (byEvent). The first suits one event's contacts,
// which need the same tags; the second a backlog of many events, whose
// contacts need different sets of the same few tags; the third a backlog
// of events that ask for different sets of many tags and share a few
// contacts. The items of one contact (several
// callers' events naming it) are planned together, unless one removes a
// tag another adds: that one waits for a later write. A contact with an
// item in flight (another sender's call) waits for its outcome, so that
// one contact's changes reach HighLevel in order. nil when nothing is
// left to write; more reports whether the pool holds more than the
// returned write takes (a later call's worth), folds whether the plan
// takes fewer calls than there are callers (merging saves calls).
func choose(items []*item, bulkMin, size int) (_ *Write, _ []*item, more, folds bool) {
	type acc struct {
		add, remove map[string]bool
		items       []*item
	}
	busy := map[string]bool{}
	for _, it := range items {
		if it.inFlight {
			busy[it.contact] = true
		}
	}
	byContact := map[string]*acc{}
	var planned []*item
	for _, it := range items {
		if it.inFlight || it.req.left < 0 || len(it.add)+len(it.remove) == 0 {
			continue
		}
		if busy[it.contact] {
			more = true
			continue
		}
		a := byContact[it.contact]
		if a == nil {
			a = &acc{add: map[string]bool{}, remove: map[string]bool{}}
			byContact[it.contact] = a
		}
		if overlaps(it.add, a.remove) || overlaps(it.remove, a.add) {
			more = true
			continue
		}
		for t := range it.add {
			a.add[t] = true
		}
		for t := range it.remove {
			a.remove[t] = true
		}
		a.items = append(a.items, it)
		planned = append(planned, it)
	}
	if len(byContact) == 0 {
		return nil, nil, more, false
	}
	callers := map[*request]bool{}
	for _, it := range planned {
		callers[it.req] = true
	}
	diffs := make(map[string]Diff, len(byContact))
	for c, a := range byContact {
		diffs[c] = Diff{Add: Sorted(a.add), Remove: Sorted(a.remove)}
	}
	plan := Batch(diffs, bulkMin, size)
	if other := ByTag(diffs, bulkMin, size); len(other) < len(plan) {
		plan = other
	}
	if wr, its, calls := byEvent(planned, bulkMin, size); calls < len(plan) {
		return wr, its, more || calls > 1, calls < len(callers)
	}
	// The write that covers the most (contact, tag) pairs goes first: a
	// paced location's next permits go where most is waiting.
	wr := plan[0]
	for _, w := range plan[1:] {
		if len(w.Contacts)*len(w.Tags) > len(wr.Contacts)*len(wr.Tags) {
			wr = w
		}
	}
	var its []*item
	for _, c := range wr.Contacts {
		its = append(its, byContact[c].items...)
	}
	return &wr, its, more || len(plan) > 1, len(plan) < len(callers)
}

// byEvent is the third plan of choose: the items' own changes, the tags
// each event asked for, share calls, whatever else their contacts need.
// Items wanting the same tags added (or removed) are one call for all of
// their contacts: a backlog of events that name few common contacts and
// many different sets of a location's tags takes a call per set, where
// Batch would split every event naming a contact that another event
// names too, and ByTag would take one call per tag. It returns the write
// of the set covering the most (contact, tag) pairs, the items it
// serves, and the number of calls the plan takes.
func byEvent(items []*item, bulkMin, size int) (*Write, []*item, int) {
	if size < 1 {
		size = BulkMax
	}
	type group struct {
		remove   bool
		tags     []string
		contacts map[string][]*item
	}
	groups := map[string]*group{}
	for _, it := range items {
		for _, remove := range []bool{false, true} {
			set := it.add
			if remove {
				set = it.remove
			}
			if len(set) == 0 {
				continue
			}
			tags := Sorted(set)
			key := fmt.Sprint(remove, tags)
			g := groups[key]
			if g == nil {
				g = &group{remove: remove, tags: tags, contacts: map[string][]*item{}}
				groups[key] = g
			}
			g.contacts[it.contact] = append(g.contacts[it.contact], it)
		}
	}
	calls := 0
	var best *group
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		g := groups[key]
		n := len(g.contacts)
		if bulkMin > 0 && n >= bulkMin {
			calls += (n + size - 1) / size
		} else {
			calls += n
		}
		if best == nil || n*len(g.tags) > len(best.contacts)*len(best.tags) {
			best = g
		}
	}
	if best == nil {
		return nil, nil, 0
	}
	contacts := slices.Sorted(maps.Keys(best.contacts))
	wr := &Write{Remove: best.remove, Tags: best.tags}
	if bulkMin > 0 && len(contacts) >= bulkMin {
		wr.Contacts, wr.Bulk = contacts[:min(size, len(contacts))], true
	} else {
		wr.Contacts = contacts[:1]
	}
	var its []*item
	for _, c := range wr.Contacts {
		its = append(its, best.contacts[c]...)
	}
	return wr, its, calls
}

func overlaps(a, b map[string]bool) bool {
	for t := range a {
		if b[t] {
			return true
		}
	}
	return false
}
