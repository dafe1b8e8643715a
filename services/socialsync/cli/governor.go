package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// The HighLevel calls of a command for a location (or an agency's
// company) take their permits from the fleet's shared budget, like the
// workers' calls: an operator's doctor on a busy location waits for the
// budget rather than push the location past HighLevel's limit and cause
// 429s for the workers. The command reads the SOCIALSYNC_RATE_* variables
// the workers read (fleet.RateSettings).

// openGovernor opens the fleet's rate governor on c with the
// SOCIALSYNC_RATE_* variables of the environment. Close it with
// closeGovernor.
func openGovernor(ctx context.Context, env *Env, c *conn) (*ratelimit.Governor, error) {
	var rs fleet.RateSettings
	if err := envconfig.Process("socialsync", &rs); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	rcfg, err := rs.GovernorConfig(env.Log)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	gov, err := ratelimit.Open(ctx, c.js, rcfg)
	if errors.Is(err, ratelimit.ErrConfig) {
		return nil, fmt.Errorf("%w: SOCIALSYNC_RATE_*: %v", errUsage, err)
	}
	return gov, err
}

// closeGovernor gives gov's leased permits back, so that the workers can
// take them at once rather than at the leases' end.
func closeGovernor(env *Env, gov *ratelimit.Governor) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := gov.Close(ctx); err != nil {
		env.Log.Warn("return rate leases", "err", err)
	}
}

// commandMaxWait is the longest a command's call waits for its permit:
// a location paced for longer (its daily cap reached, a long 429 pause)
// fails the call at once, saying for how long, rather than hang until the
// daily reset.
const commandMaxWait = 2 * time.Minute

// commandLimiter is the governor for a command: a command has nothing
// else to do meanwhile, so a call whose permit is further away than the
// governor's MaxWait (a handler's bound) waits for it (Governor.Wait)
// rather than fail, when it comes within commandMaxWait and the call's
// context.
type commandLimiter struct{ gov *ratelimit.Governor }

func (l commandLimiter) Acquire(ctx context.Context, resource string) (ghl.Release, error) {
	// In-memory: the answer promises none of the permits the deferred
	// messages of the workers come back for.
	release, err := l.gov.Acquire(ghl.WithInMemoryRetry(ctx), resource)
	var paced *ratelimit.PacedError
	if !errors.As(err, &paced) {
		return release, err
	}
	limit := commandMaxWait
	if dl, ok := ctx.Deadline(); ok {
		limit = min(limit, time.Until(dl))
	}
	if paced.Wait > limit {
		return nil, fmt.Errorf("%w: its next permit is further away than a command waits (%v): run the command again later", err, limit.Round(time.Second))
	}
	return l.gov.Wait(ctx, resource)
}

// governedClient returns a client of cfg whose calls take their permits
// from the fleet's budget (see commandLimiter), and the function that
// closes the governor.
func (c oauthConfig) governedClient(ctx context.Context, env *Env, cn *conn, opts ghl.Options) (*ghl.Client, func(), error) {
	gov, err := openGovernor(ctx, env, cn)
	if err != nil {
		return nil, nil, err
	}
	opts.Limiter = commandLimiter{gov}
	gc, err := c.client(opts)
	if err != nil {
		closeGovernor(env, gov)
		return nil, nil, err
	}
	return gc, func() { closeGovernor(env, gov) }, nil
}
