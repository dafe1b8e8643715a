// Command contactsync runs the socialsync contactsync worker: it turns the social tags of posts into tags of the posts' contacts.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"context"
	"os"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/contactsync"
	"github.com/socialsync/socialsync/services/contactsync/reconcile"
)

func main() { fleet.Exit("contactsync", run) }

func run(ctx context.Context) error {
	// Configuration, then NATS, telemetry, the credential store, the rate
	// governor and the HighLevel client (nil d: --help, or stopped while
	// waiting for NATS).
	var cfg contactsync.Config
	d, err := fleet.Setup(ctx, "contactsync", "turns the social tags of posts into tags of the posts' contacts",
		&cfg, &cfg.Config, os.Args[1:], os.Stdout)
	if d == nil || err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))

	// What contactsync uses.
	stores, err := contactsync.OpenStores(ctx, d.JS)
	if err != nil {
		return err
	}
	gc := d.Governor.Config()
	w, err := contactsync.New(cfg, contactsync.Deps{
		Publisher:   d.Publisher,
		Pacer:       d.Governor,
		Client:      func(loc string) contactsync.Client { return d.Client(loc) },
		Catalogues:  stores.Catalogues,
		Details:     stores.Details,
		Relations:   stores.Relations,
		ContactRefs: stores.ContactRefs,
		Mappings:    stores.Mappings,
		States:      stores.States,
		Locations:   d.Creds,
		Budget:      reconcile.Budget{Max: gc.Max, Window: gc.Window, Daily: gc.Daily},
		DeadLetters: stores.DeadLetters,
		Purge:       stores.Purge,
		Meter:       d.Telemetry.MeterProvider(),
		Log:         d.Log,
	})
	if err != nil {
		return err
	}

	// Its route, in one lifecycle group until SIGTERM.
	components, err := d.Components("contactsync", w)
	if err != nil {
		return err
	}
	d.Log.Info("worker starting", "worker", "contactsync")
	return d.Serve(ctx, components...)
}
