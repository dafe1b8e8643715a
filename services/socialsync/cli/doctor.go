package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/socialsync/socialsync/pkg/doctor"
)

func doctorCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "doctor", "Check a connected location: its token, its scopes, and test calls to the tags, accounts and\n"+
		"statistics endpoints, with their latency and rate-limit headroom, and obvious data problems.\n"+
		"Exits non-zero when a call fails. An expired OAuth token is refreshed when the app's credentials are set.\n"+
		"The dashboard's console (POST /v1/locations/{loc}/doctor) runs the same checks in the stats worker.\n\n"+
		"Environment:\n"+usageOf(&oauthConfig{})+
		"  SOCIALSYNC_RATE_DAILY_RESET  the workers' configured daily reset after midnight UTC, if any (shown as configured)\n")
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
	d := doctor.Doctor{Store: store, NewClient: cfg.client, Timeout: *timeout, Now: env.Now}
	r, err := d.Run(ctx, *loc)
	if err != nil {
		return err
	}
	r.WriteText(env.Stdout)
	dailyReport(ctx, env.Stdout, c.js, *loc, env.Now())
	if n := r.Failed(); n > 0 {
		return fmt.Errorf("%d of %d calls failed", n, len(r.Calls))
	}
	return nil
}
