// Command stats runs the socialsync stats worker: it fetches every connected social account's statistics, daily by JetStream schedule and on request, and keeps a daily history.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/stats"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		log.Error("stats stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg stats.Config
	return fleet.RunWorker(ctx, "stats", "fetches every connected social account's statistics, daily by JetStream schedule and on request, and keeps a daily history", &cfg, &cfg.Config, os.Args[1:], os.Stdout,
		func(d *fleet.Deps) (func(context.Context) error, error) {
			w, err := stats.New(cfg, d)
			if err != nil {
				return nil, err
			}
			return w.Run, nil
		})
}
