// Command enricher runs the socialsync enricher: tag details requests → stored details and mirrored contact tags; post triggers → post ↔ tag relations.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"context"
	"os"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/enricher"
)

func main() { fleet.Exit("enricher", run) }

func run(ctx context.Context) error {
	// Configuration, then NATS, telemetry, the credential store and the
	// HighLevel client (nil d: --help, or stopped while waiting for NATS).
	var cfg enricher.Config
	d, err := fleet.Setup(ctx, "enricher", "stores tag details and post-tag relations, mirrors tags into the contact tag catalogue",
		&cfg, &cfg.Config, os.Args[1:], os.Stdout)
	if d == nil || err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))

	// What the enricher uses.
	stores, err := enricher.OpenStores(ctx, d.JS)
	if err != nil {
		return err
	}
	w, err := enricher.New(cfg, enricher.Deps{
		Publisher: d.Publisher,
		Locations: d.Creds,
		Client:    func(loc string) enricher.Client { return d.Client(loc) },
		Details:   stores.Details,
		Relations: stores.Relations,
		Naming:    stores.Naming,
	})
	if err != nil {
		return err
	}

	// Its routes, in one lifecycle group until SIGTERM.
	components, err := d.Components("enricher", w)
	if err != nil {
		return err
	}
	d.Log.Info("worker starting", "worker", "enricher")
	return d.Serve(ctx, components...)
}
