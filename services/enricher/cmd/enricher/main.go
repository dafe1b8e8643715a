// Command enricher runs the socialsync enricher: tag details requests →
// stored details and mirrored contact tags; post triggers → post ↔ tag
// relations.
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
	"github.com/socialsync/socialsync/services/enricher"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, log, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		log.Error("enricher stopped", "err", err)
		os.Exit(1)
	}
}

// run reads the configuration, connects, and runs the enricher until ctx
// ends.
func run(ctx context.Context, log *slog.Logger, args []string, stdout io.Writer) error {
	var cfg enricher.Config
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
		return usage(stdout, &cfg)
	}
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q; configuration is read from the environment (see --help)", args[0])
	}
	if err := envconfig.Process("socialsync", &cfg); err != nil {
		return fmt.Errorf("%w: %v", fleet.ErrConfig, err)
	}
	deps, err := fleet.Connect(ctx, "enricher", cfg.Config, fleet.Options{LogOutput: os.Stderr})
	if err != nil {
		return err
	}
	defer deps.Close(context.WithoutCancel(ctx))
	w, err := enricher.New(cfg, deps)
	if err != nil {
		return err
	}
	log.Info("enricher starting", "concurrency", cfg.Concurrency, "contact_tag_prefix", cfg.ContactTagPrefix)
	return deps.Serve(ctx, fleet.Component{Name: "enricher", Run: w.Run})
}

// usage prints the environment variables the enricher reads.
func usage(w io.Writer, cfg *enricher.Config) error {
	fmt.Fprintln(w, "enricher: stores tag details, mirrors them as contact tags, keeps post ↔ tag relations.")
	fmt.Fprintln(w, "\nEnvironment (the default, then what it sets):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if err := envconfig.Usagef("socialsync", cfg, tw,
		"{{range .}}  {{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}"); err != nil {
		return err
	}
	return tw.Flush()
}
