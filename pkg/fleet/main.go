package fleet

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"
)

// Usage writes the environment variables spec (a pointer to a Config
// struct) reads, with their defaults and descriptions, one per line.
func Usage(w io.Writer, spec any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if err := envconfig.Usagef("socialsync", spec, tw,
		"{{range .}}  {{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}"); err != nil {
		return err
	}
	return tw.Flush()
}

// RunWorker is the body of a worker binary's run: --help lists the
// variables; otherwise it reads cfg (a pointer to the worker's Config,
// whose embedded fleet.Config is base) from the environment, connects, calls
// start for the worker's Run, and serves until ctx ends.
func RunWorker(ctx context.Context, name, summary string, cfg any, base *Config, args []string, stdout io.Writer,
	start func(*Deps) (func(context.Context) error, error)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "%s: %s\n\nConfiguration comes from the environment (variable, default, meaning):\n", name, summary)
		_ = Usage(stdout, cfg)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; configuration is read from the environment (see --help)", fs.Arg(0))
	}
	if err := envconfig.Process("socialsync", cfg); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	deps, err := Connect(ctx, name, *base, Options{LogOutput: os.Stderr})
	if err != nil {
		return err
	}
	defer deps.Close(context.WithoutCancel(ctx))
	run, err := start(deps)
	if err != nil {
		return err
	}
	deps.Log.Info("worker starting", "worker", name)
	return deps.Serve(ctx, Component{Name: name, Run: run})
}
