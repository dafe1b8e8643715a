// Command contactsync runs the socialsync contactsync worker: it turns the social tags of posts into tags of the posts' contacts.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/contactsync"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		log.Error("contactsync stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg contactsync.Config
	return fleet.RunWorker(ctx, "contactsync", "turns the social tags of posts into tags of the posts' contacts", &cfg, &cfg.Config, os.Args[1:], os.Stdout,
		func(d *fleet.Deps) (func(context.Context) error, error) {
			w, err := contactsync.New(cfg, d)
			if err != nil {
				return nil, err
			}
			return w.Run, nil
		})
}
