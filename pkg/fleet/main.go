package fleet

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
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

// Runner is a worker: Run handles messages until ctx ends.
type Runner interface {
	Run(ctx context.Context) error
}

// Exit is the whole main of a binary: it runs run with a context that
// ends on SIGINT or SIGTERM, and exits 1 with the error logged when run
// fails.
func Exit(name string, run func(ctx context.Context) error) {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		log.Error(name+" stopped", "err", err)
		os.Exit(1)
	}
}

// Main is the whole main of a binary built by newWorker: Exit running
// RunWorker, connected with opts.
func Main[C any, W Runner](name, summary string, cfg *C, base *Config, opts Options, newWorker func(C, *Deps) (W, error)) {
	Exit(name, func(ctx context.Context) error {
		return RunWorker(ctx, name, summary, cfg, base, os.Args[1:], os.Stdout, opts, newWorker)
	})
}

// RunWorker is the body of a worker binary whose constructor takes the
// whole Deps: Setup (connected with opts), then newWorker, then Serve.
func RunWorker[C any, W Runner](ctx context.Context, name, summary string, cfg *C, base *Config, args []string, stdout io.Writer,
	opts Options, newWorker func(C, *Deps) (W, error)) error {
	deps, err := setup(ctx, name, summary, cfg, base, args, stdout, opts)
	if deps == nil || err != nil {
		return err
	}
	defer deps.Close(context.WithoutCancel(ctx))
	w, err := newWorker(*cfg, deps)
	if err != nil {
		return err
	}
	deps.Log.Info("worker starting", "worker", name)
	return deps.Serve(ctx, Component{Name: name, Run: w.Run})
}

// Setup is the start of a worker binary's run: --help (in args) lists the
// variables; otherwise it reads cfg (a pointer to the worker's Config,
// whose embedded fleet.Config is base) from the environment and connects
// (Connect), logging to os.Stderr. It returns nil Deps and a nil error for
// --help and when ctx ended while it waited for NATS: there is nothing to
// run. The caller closes the Deps it returns.
func Setup(ctx context.Context, name, summary string, cfg any, base *Config, args []string, stdout io.Writer) (*Deps, error) {
	return setup(ctx, name, summary, cfg, base, args, stdout, Options{})
}

// setup is Setup connecting with opts (its LogOutput is os.Stderr).
func setup(ctx context.Context, name, summary string, cfg any, base *Config, args []string, stdout io.Writer, opts Options) (*Deps, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "%s: %s\n\nConfiguration comes from the environment (variable, default, meaning):\n", name, summary)
		_ = Usage(stdout, cfg)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q; configuration is read from the environment (see --help)", fs.Arg(0))
	}
	if err := envconfig.Process("socialsync", cfg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	opts.LogOutput = os.Stderr
	deps, err := Connect(ctx, name, *base, opts)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, nil // stopped while waiting for NATS
		}
		return nil, err
	}
	return deps, nil
}
