package ratelimit

import (
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Spare returns how many permits of lane this process's latest copy of
// loc's budget holds free now, less the callers of this process waiting
// for one, with the window's limit and length. It reads memory only (no
// NATS): a caller that can gather work (contacttags.Merger) asks it
// before each call, to tell a free budget from one running short. A
// location this process holds no copy of reports its whole limit free.
func (g *Governor) Spare(loc string, lane ghl.Lane) (spare, limit int64, window time.Duration) {
	r, err := g.resource(loc)
	if err != nil {
		return 0, 0, g.cfg.Window
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l := g.lim
	if !r.viewOK {
		return l.max, l.max, g.cfg.Window
	}
	now := micros(g.cfg.Now())
	ll := r.view.limits(r.view.forLane(now, l, lane))
	spare = ll.max - r.view.heldAt(now, ll) - int64(len(r.waiters))
	return max(spare, 0), ll.max, time.Duration(ll.window) * time.Microsecond
}
