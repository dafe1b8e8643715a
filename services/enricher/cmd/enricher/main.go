// Command enricher runs the socialsync enricher: tag details requests → stored details and mirrored contact tags; post triggers → post ↔ tag relations.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/enricher"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		log.Error("enricher stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg enricher.Config
	return fleet.RunWorker(ctx, "enricher", "stores tag details and post-tag relations, mirrors tags into the contact tag catalogue", &cfg, &cfg.Config, os.Args[1:], os.Stdout,
		func(d *fleet.Deps) (func(context.Context) error, error) {
			w, err := enricher.New(cfg, d)
			if err != nil {
				return nil, err
			}
			return w.Run, nil
		})
}
