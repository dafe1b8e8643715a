package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/sources"
)

const sourcesSubcommands = "add, bind, unbind, list or remove"

func sourcesCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: %s", errUsage, sourcesSubcommands)
	}
	switch args[0] {
	case "add", "bind", "unbind":
		return sourcesChange(ctx, env, args[0], args[1:])
	case "list":
		return sourcesList(ctx, env, args[1:])
	case "remove":
		return sourcesRemove(ctx, env, args[1:])
	default:
		return fmt.Errorf("%w: unknown subcommand %q: want %s", errUsage, args[0], sourcesSubcommands)
	}
}

// sourcesHelp explains, once for every subcommand, what a binding is.
const sourcesHelp = "A webhook source (a sender signing with its own secret from the gateway's SOCIALSYNC_WEBHOOK_SECRETS)\n" +
	"speaks only for the locations its binding names, directly or through their company (agency): every\n" +
	"location of a bound company, present and future. A source with no binding is refused (403); the legacy\n" +
	"source \"default\" (SOCIALSYNC_WEBHOOK_SECRET) speaks for every registered location until it is bound.\n" +
	"Bindings hold no secret; changes apply to the next request, with no restart."

// sourceName takes the source's name, the first argument, before the flags.
func sourceName(cmd string, args []string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("%w: want the source's name first: socialsync sources %s <source> [flags]", errUsage, cmd)
	}
	if err := ids.CheckSource("source", args[0]); err != nil {
		return "", nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return args[0], args[1:], nil
}

// openSources connects to NATS at url and opens the bindings.
func openSources(ctx context.Context, url string) (*conn, *sources.Store, error) {
	c, err := dial(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	s, err := sources.Open(ctx, c.js)
	if err != nil {
		c.close()
		return nil, nil, err
	}
	return c, s, nil
}

// sourcesChange is add (a new binding, exactly these), bind (these too)
// and unbind (these no more).
func sourcesChange(ctx context.Context, env *Env, cmd string, args []string) error {
	summary := map[string]string{
		"add":    "Create a webhook source's binding to the locations and companies given.",
		"bind":   "Let a webhook source speak for these locations and companies too (creating its binding if need be).",
		"unbind": "Stop a webhook source speaking for these locations and companies (to remove every one, use remove).",
	}[cmd]
	fs := newFlags(env, "sources "+cmd+" <source>", summary+"\n\n"+sourcesHelp)
	url := natsFlag(fs)
	locs := fs.String("locations", "", "comma-separated HighLevel location ids")
	companies := fs.String("companies", "", "comma-separated HighLevel company (agency) ids: all their locations, present and future")
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		return parse(fs, args)
	}
	name, rest, err := sourceName(cmd, args)
	if err != nil {
		return err
	}
	if err := parse(fs, rest); err != nil {
		return err
	}
	l, co := splitList(*locs), splitList(*companies)
	if len(l) == 0 && len(co) == 0 {
		return fmt.Errorf("%w: give --locations, --companies or both", errUsage)
	}
	c, store, err := openSources(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	b, err := store.Update(ctx, name, func(b *sources.Binding, found bool) error {
		switch {
		case cmd == "add" && found:
			return fmt.Errorf("%w: source %s is bound already: change it with socialsync sources bind or unbind", errUsage, name)
		case cmd == "unbind" && !found:
			return fmt.Errorf("%w: %s", sources.ErrNotFound, name)
		case cmd == "unbind":
			b.Remove(l, co)
			if len(b.Locations) == 0 && len(b.Companies) == 0 {
				return fmt.Errorf("%w: that would leave source %s bound to nothing: socialsync sources remove %s", errUsage, name, name)
			}
		default:
			b.Add(l, co)
		}
		return nil
	})
	if errors.Is(err, sources.ErrInvalid) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "source %s speaks for %s\n", name, describe(b))
	return nil
}

// describe says what a binding lets its source speak for.
func describe(b sources.Binding) string {
	var parts []string
	if len(b.Locations) > 0 {
		parts = append(parts, "locations "+strings.Join(b.Locations, ", "))
	}
	if len(b.Companies) > 0 {
		parts = append(parts, "every location of companies "+strings.Join(b.Companies, ", "))
	}
	return strings.Join(parts, " and ")
}

func sourcesList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "sources list", "List the webhook sources' bindings.\n\n"+sourcesHelp)
	url := natsFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	c, store, err := openSources(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	list, err := store.List(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(env.Stdout, "no webhook source is bound: only the legacy source \"default\" (SOCIALSYNC_WEBHOOK_SECRET) is accepted, for every registered location")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tLOCATIONS\tCOMPANIES\tUPDATED")
	for _, b := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Source, orDash(strings.Join(b.Locations, ",")), orDash(strings.Join(b.Companies, ",")),
			b.UpdatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sourcesRemove(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "sources remove <source>", "Remove a webhook source's binding: it then speaks for no location (the legacy source\n"+
		"\"default\" for every registered one again). Its secret stays in the gateway's configuration until removed there.\n\n"+sourcesHelp)
	url := natsFlag(fs)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		return parse(fs, args)
	}
	name, rest, err := sourceName("remove", args)
	if err != nil {
		return err
	}
	if err := parse(fs, rest); err != nil {
		return err
	}
	c, store, err := openSources(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	if err := store.Delete(ctx, name); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "source %s removed: it speaks for no location\n", name)
	return nil
}
