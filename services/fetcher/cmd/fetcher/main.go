// Command fetcher runs the socialsync fetcher: post triggers → coalesced tag catalogue refreshes → tag change events and tag details requests.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"context"
	"os"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/fetcher"
)

func main() { fleet.Exit("fetcher", run) }

func run(ctx context.Context) error {
	// Configuration, then NATS, telemetry, the credential store and the
	// HighLevel client (nil d: --help, or stopped while waiting for NATS).
	var cfg fetcher.Config
	d, err := fleet.Setup(ctx, "fetcher", "refreshes Social Planner tag catalogues on post triggers and reports tag changes",
		&cfg, &cfg.Config, os.Args[1:], os.Stdout)
	if d == nil || err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))

	// What the fetcher uses.
	stores, err := fetcher.OpenStores(ctx, d.JS)
	if err != nil {
		return err
	}
	w, err := fetcher.New(cfg, fetcher.Deps{
		Publisher:  d.Publisher,
		Locations:  d.Creds,
		Client:     func(loc string) fetcher.Client { return d.Client(loc) },
		Catalogues: stores.Catalogues,
		Cursors:    stores.Cursors,
		Refreshes:  stores.Refreshes,
		Log:        d.Log,
	})
	if err != nil {
		return err
	}

	// Its routes and loops, in one lifecycle group until SIGTERM.
	components, err := d.Components("fetcher", w)
	if err != nil {
		return err
	}
	d.Log.Info("worker starting", "worker", "fetcher")
	return d.Serve(ctx, components...)
}
