// Command automation runs the socialsync automation worker: it keeps segment membership and fires saved workflows.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"context"
	"os"

	"github.com/socialsync/socialsync/pkg/fleet"
	automationworker "github.com/socialsync/socialsync/services/automation"
)

func main() { fleet.Exit("automation", run) }

func run(ctx context.Context) error {
	// Configuration, then NATS, telemetry, the credential store and the
	// HighLevel client (nil d: --help, or stopped while waiting for NATS).
	var cfg automationworker.Config
	d, err := fleet.Setup(ctx, "automation", "keeps segment membership and fires saved workflows",
		&cfg, &cfg.Config, os.Args[1:], os.Stdout)
	if d == nil || err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))

	// What the automation worker uses.
	stores, err := automationworker.OpenStores(ctx, d.JS)
	if err != nil {
		return err
	}
	w, err := automationworker.New(cfg, automationworker.Deps{
		Publisher:   d.Publisher,
		Locations:   d.Creds,
		Client:      func(loc string) automationworker.Client { return d.Client(loc) },
		Segments:    stores.Segments,
		Relations:   stores.Relations,
		Runs:        stores.Runs,
		SegmentDefs: stores.SegmentDefs,
		Workflows:   stores.Workflows,
		Mappings:    stores.Mappings,
		Outbox:      stores.Outbox,
		DeadLetters: stores.DeadLetters,
		Notices:     stores.Notices,
		Meter:       d.Telemetry.MeterProvider(),
		Log:         d.Log,
	})
	if err != nil {
		return err
	}

	// socialsync_locations{state} and socialsync_location_needs_reauth
	// (the alert of a location needing re-authorisation).
	if _, err := d.Directory.WatchStates(d.Telemetry.MeterProvider()); err != nil {
		return err
	}

	// Its routes and the definition watches, in one lifecycle group until
	// SIGTERM.
	components, err := d.Components("automation", w)
	if err != nil {
		return err
	}
	d.Log.Info("worker starting", "worker", "automation")
	return d.Serve(ctx, components...)
}
