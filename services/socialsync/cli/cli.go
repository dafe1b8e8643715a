// Package cli implements the socialsync command line: the all-in-one
// `run`, the HighLevel simulator (`sandbox`) and the operator commands.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// Env is what a command writes to, and the clock it reads.
type Env struct {
	// Stdin is where secrets given as - are read from.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Log    *slog.Logger
	// Now is the time the commands go by: a location's today, the
	// default day ranges, a report's or an archive's generation time.
	// Deadlines and timeouts keep the real clock.
	Now func() time.Time
}

func commands() map[string]command {
	return map[string]command{
		"run":       {"run the whole pipeline in one process on embedded defaults", runCmd},
		"sandbox":   {"serve the HighLevel simulator (API + /_sandbox admin API)", sandboxCmd},
		"locations": {"add, list, reseal, pause, resume, remove or sync-agency connected HighLevel locations", locationsCmd},
		"audit":     {"list the audit log: who connected, paused, resumed or removed a location, replays, admin key use", auditCmd},
		"connect":   {"connect HighLevel locations with OAuth (--hosted: the gateway's callback; else a local one)", connectCmd},
		"doctor":    {"test a connected location: token, scopes, calls, rate-limit headroom, data", doctorCmd},
		"trigger":   {"publish a post, tagdetails or stats trigger", triggerCmd},
		"contacts":  {"forget a contact: erase what socialsync holds of it (docs/personal-data.md)", contactsCmd},
		"reconcile": {"compare a location's contact tags with HighLevel and repair the drift", reconcileCmd},
		"dlq":       {"list dead letters with their reasons", dlqCmd},
		"stats":     {"backfill or export a location's statistics history", statsCmd},
		"report":    {"build a location's report (json, csv, md, html) over a day range", reportCmd},
		"mappings":  {"set or get a location's field mappings (contact tags, custom fields, custom values)", mappingsCmd},
		"segments":  {"apply, validate, list or delete segment definitions (YAML)", segmentsCmd},
		"workflows": {"apply, validate, list or delete saved workflows (YAML)", workflowsCmd},
		"sources":   {"bind webhook sources to the locations or companies they may speak for", sourcesCmd},
		"backup":    {"write an archive of the stored state (buckets, object stores, stream and consumer configurations)", backupCmd},
		"restore":   {"bring a backup archive into a NATS that holds no socialsync data", restoreCmd},
		"migrate":   {"raise the fleet's schema version after an upgrade and rewrite stored records in it (--status: where it stands)", migrateCmd},
		"topology":  {"apply (create or update) or check the streams, consumers and buckets: the operator step before the workers", topologyCmd},
	}
}

// errUsage marks an error caused by how the command was called.
var errUsage = errors.New("usage")

// Main runs the command line args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return mainEnv(ctx, &Env{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, Log: slog.New(slog.NewTextHandler(stderr, nil)), Now: time.Now}, args)
}

// mainEnv runs the command line args with env and returns the process
// exit code.
func mainEnv(ctx context.Context, env *Env, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, cmds)
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "socialsync: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	if err := c.run(ctx, env, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "socialsync %s: %v\n", args[0], err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("socialsync keeps HighLevel Social Planner tags and statistics flowing into contacts.\n\nUsage: socialsync <command> [flags]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 'socialsync <command> --help' for a command's flags.\n")
	_, _ = io.WriteString(w, b.String())
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(env *Env, name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("socialsync "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: socialsync %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, wrapping mistakes as usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
