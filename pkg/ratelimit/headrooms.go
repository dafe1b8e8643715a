package ratelimit

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// Headrooms returns the headroom of every location (or company) that has a
// budget in the bucket, keyed by its id, read in one pass over the bucket
// rather than a request per location: what a view across hundreds of
// locations needs. A location missing from the map never asked for a
// permit and has its whole budget (Headroom says how much). A budget that
// does not decode is left out and named in the error, which comes with the
// others.
func (g *Governor) Headrooms(ctx context.Context) (map[string]Headroom, error) {
	now := micros(g.cfg.Now())
	out := map[string]Headroom{}
	var bad []string
	err := bus.EachCurrent(ctx, g.kv, []string{keyPrefix + ">"}, func(e jetstream.KeyValueEntry) {
		id := strings.TrimPrefix(e.Key(), keyPrefix)
		if !ghl.ValidID(id) {
			return
		}
		b, err := unmarshalBudget(e.Value())
		if err != nil {
			bad = append(bad, id)
			return
		}
		out[id] = g.headroomOf(b, now)
	})
	if err != nil {
		return nil, fmt.Errorf("read rate budgets: %w", err)
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("read rate budgets: undecodable budget of %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// Unused is the headroom of a resource that never asked for a permit: the
// whole budget.
func (g *Governor) Unused() Headroom {
	return g.headroomOf(budget{}, micros(g.cfg.Now()))
}
