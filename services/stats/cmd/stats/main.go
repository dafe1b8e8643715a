// Command stats runs the socialsync statistics worker: statistics requests and daily schedules → stored snapshots, reports and recommendations.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"context"
	"os"
	"time"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/stats"
)

func main() { fleet.Exit("stats", run) }

func run(ctx context.Context) error {
	// Configuration, then NATS, telemetry, the credential store and the
	// HighLevel client (nil d: --help, or stopped while waiting for NATS).
	var cfg stats.Config
	d, err := fleet.Setup(ctx, "stats", "fetches every connected social account's statistics, daily by JetStream schedule and on request, and keeps a daily history",
		&cfg, &cfg.Config, os.Args[1:], os.Stdout)
	if d == nil || err != nil {
		return err
	}
	defer d.Close(context.WithoutCancel(ctx))

	// What the worker uses.
	stores, err := stats.OpenStores(ctx, d.JS)
	if err != nil {
		return err
	}
	w, err := stats.New(cfg, stats.Deps{
		Publisher: d.Publisher,
		Locations: d.Creds,
		Client:    func(loc string) stats.Client { return d.Client(loc) },
		History:   stats.KVHistory{KV: stores.History},
		FollowUps: stats.KVFollowUps{Stores: stores},
		Stores:    stores,
		Log:       d.Log,
		Connector: d.Connector(),
		Conn:      d.Conn,
		Doctor:    d.Doctor(),
		// Removals (DELETE /v1/locations/{loc}).
		Remover: &stats.Remover{JS: d.JS, Store: d.Creds, Client: d.Client, Now: time.Now},
		Audit:   audit.New(d.JS, nil),
	})
	if err != nil {
		return err
	}

	// Its route and its schedules loop, in one lifecycle group until SIGTERM.
	components, err := d.Components("stats", w)
	if err != nil {
		return err
	}
	d.Log.Info("worker starting", "worker", "stats")
	return d.Serve(ctx, components...)
}
