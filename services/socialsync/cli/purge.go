package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/services/stats"
)

// The purge of `socialsync locations remove --purge` (remove.go): the
// stats worker's removal (stats.Remover, which DELETE /v1/locations/{loc}
// runs too) on the CLI's connection, with its progress on the terminal.

// remover returns the removal on c, its HighLevel calls through the
// fleet's governor (waiting for their permits, see governedClient) with
// the app of cfg, its progress told on env, and the function that closes
// the governor.
func remover(ctx context.Context, env *Env, c *conn, store *creds.Store, cfg oauthConfig) (*stats.Remover, func(), error) {
	gc, closeGov, err := cfg.governedClient(ctx, env, c, ghl.Options{})
	if err != nil {
		return nil, nil, err
	}
	bar := terminal(env.Stdout)
	return &stats.Remover{JS: c.js, Store: store, Now: env.Now,
		Client: func(loc string) *ghl.Client { return gc.ForLocation(loc, store.TokenSource(loc)) },
		Started: func(run relations.PurgeRun, resumed bool) {
			if resumed {
				fmt.Fprintf(env.Stdout, "purging: going on from contact %d of %d (started %s)\n", run.Done, run.Contacts, run.StartedAt.Format(time.RFC3339))
				return
			}
			fmt.Fprintf(env.Stdout, "purging: the tags socialsync applied to %d contacts\n", run.Contacts)
		},
		Stepped: func(run relations.PurgeRun) {
			if bar {
				fmt.Fprintf(env.Stdout, "\r%s", progressBar(run.Done, run.Contacts, 30, "contacts"))
			}
		},
	}, closeGov, nil
}

// purgeTags removes from HighLevel the contact tags, segment tags and
// custom values socialsync applied to loc (stats.Remover.Purge).
func purgeTags(ctx context.Context, env *Env, r *stats.Remover, loc string) (relations.PurgeRun, error) {
	run, err := r.Purge(ctx, loc, time.Time{})
	if terminal(env.Stdout) && run.Done > 0 {
		fmt.Fprintln(env.Stdout)
	}
	if err != nil {
		return run, fmt.Errorf("%w (run the command again to go on)", err)
	}
	return run, nil
}
