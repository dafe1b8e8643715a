// Command fetcher runs the socialsync fetcher: post triggers → coalesced tag catalogue refreshes → tag change events and tag details requests.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/fetcher"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		log.Error("fetcher stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg fetcher.Config
	return fleet.RunWorker(ctx, "fetcher", "refreshes Social Planner tag catalogues on post triggers and reports tag changes", &cfg, &cfg.Config, os.Args[1:], os.Stdout,
		func(d *fleet.Deps) (func(context.Context) error, error) {
			w, err := fetcher.New(cfg, d)
			if err != nil {
				return nil, err
			}
			return w.Run, nil
		})
}
