// Command fetcher runs the socialsync fetcher: post triggers → coalesced
// tag catalogue refreshes → tag change events and tag details requests.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/fetcher"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, log, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		log.Error("fetcher stopped", "err", err)
		os.Exit(1)
	}
}

// run reads the configuration, connects, and runs the fetcher until ctx
// ends.
func run(ctx context.Context, log *slog.Logger, args []string, stdout io.Writer) error {
	var cfg fetcher.Config
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
		return usage(stdout, &cfg)
	}
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q; configuration is read from the environment (see --help)", args[0])
	}
	if err := envconfig.Process("socialsync", &cfg); err != nil {
		return fmt.Errorf("%w: %v", fleet.ErrConfig, err)
	}
	deps, err := fleet.Connect(ctx, "fetcher", cfg.Config, fleet.Options{LogOutput: os.Stderr})
	if err != nil {
		return err
	}
	defer deps.Close(context.WithoutCancel(ctx))
	w, err := fetcher.New(cfg, deps)
	if err != nil {
		return err
	}
	log.Info("fetcher starting", "concurrency", cfg.Concurrency, "refresh_interval", cfg.RefreshInterval, "poll_interval", cfg.PollInterval)
	return deps.Serve(ctx, fleet.Component{Name: "fetcher", Run: w.Run})
}

// usage prints the environment variables the fetcher reads.
func usage(w io.Writer, cfg *fetcher.Config) error {
	fmt.Fprintln(w, "fetcher: refreshes Social Planner tag catalogues on post triggers.")
	fmt.Fprintln(w, "\nEnvironment (the default, then what it sets):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if err := envconfig.Usagef("socialsync", cfg, tw,
		"{{range .}}  {{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}"); err != nil {
		return err
	}
	return tw.Flush()
}
