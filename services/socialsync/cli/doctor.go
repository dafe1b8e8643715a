package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/socialsync/socialsync/pkg/doctor"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ghl"
)

func doctorCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "doctor", "Check a connected location: its token, its scopes, and test calls to the tags, accounts and\n"+
		"statistics endpoints, with their latency and rate-limit headroom, and obvious data problems.\n"+
		"Exits non-zero when a call fails. An expired OAuth token is refreshed when the app's credentials are set.\n"+
		"The dashboard's console (POST /v1/locations/{loc}/doctor) runs the same checks in the stats worker.\n\n"+
		"The calls take their permits from the location's rate budget, which the workers share: on a busy location\n"+
		"they wait for it (within --timeout) rather than cause 429s.\n\n"+
		"Environment:\n"+usageOf(&oauthConfig{})+usageOf(&fleet.RateSettings{}))
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location (sub-account) id (required)")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on each call")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := locationArg(*loc); err != nil {
		return err
	}
	cfg, c, store, err := openRefreshingStore(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	gov, err := openGovernor(ctx, env, c)
	if err != nil {
		return err
	}
	defer closeGovernor(env, gov)
	// The test calls count in the location's shared budget and wait for
	// their permits.
	newClient := func(opts ghl.Options) (*ghl.Client, error) {
		opts.Limiter = commandLimiter{gov}
		return cfg.client(opts)
	}
	d := doctor.Doctor{Store: store, NewClient: newClient, Timeout: *timeout, Now: env.Now}
	r, err := d.Run(ctx, *loc)
	if err != nil {
		return err
	}
	r.WriteText(env.Stdout)
	// The leased permits the calls spent are written to the budget
	// before the daily line reads it: the day's count includes them.
	closeGovernor(env, gov)
	dailyReport(ctx, env.Stdout, gov, *loc, env.Now())
	if n := r.Failed(); n > 0 {
		return fmt.Errorf("%d of %d calls failed", n, len(r.Calls))
	}
	return nil
}
