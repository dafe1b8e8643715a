package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/socialsync/socialsync/pkg/automation"
)

// definitionKind is what `segments` and `workflows` share: parse a file,
// store it, list and delete what is stored (automation.Kind, which the
// gateway's API uses too).
type definitionKind struct {
	automation.Kind
	about string
}

var segmentsKind = definitionKind{automation.Segments, "segment definitions: members carry the contact tag segment:<name>"}

var workflowsKind = definitionKind{automation.Workflows, "saved workflows: actions fired by tag, statistics and segment events"}

func segmentsCmd(ctx context.Context, env *Env, args []string) error {
	return segmentsKind.run(ctx, env, args)
}

func workflowsCmd(ctx context.Context, env *Env, args []string) error {
	return workflowsKind.run(ctx, env, args)
}

func (k definitionKind) run(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: apply, validate, list or delete", errUsage)
	}
	switch args[0] {
	case "apply":
		return k.apply(ctx, env, args[1:], false)
	case "validate":
		return k.apply(ctx, env, args[1:], true)
	case "list":
		return k.listCmd(ctx, env, args[1:])
	case "delete":
		return k.deleteCmd(ctx, env, args[1:])
	default:
		return fmt.Errorf("%w: unknown subcommand %q: want apply, validate, list or delete", errUsage, args[0])
	}
}

func (k definitionKind) apply(ctx context.Context, env *Env, args []string, validateOnly bool) error {
	verb := "apply"
	summary := "Check a YAML file of " + k.about + ", and store it in NATS;\nthe running workers pick it up with no restart."
	if validateOnly {
		verb = "validate"
		summary = "Check a YAML file of " + k.about + ", without storing it."
	}
	fs := newFlags(env, k.Name+" "+verb, summary)
	file := fs.String("f", "", "the YAML file (required)")
	var url *string
	var prune *bool
	if !validateOnly {
		url = natsFlag(fs)
		prune = fs.Bool("prune", false, "also delete stored "+k.Name+" the file does not define")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("%w: -f FILE is required", errUsage)
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	parsed, err := k.Parse(*file, data)
	if err != nil {
		return err
	}
	if validateOnly {
		fmt.Fprintf(env.Stdout, "%s: %d %s, valid\n", *file, len(parsed.Names), k.Name)
		return nil
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	applied, err := parsed.Apply(ctx, c.js, *prune)
	for _, a := range applied {
		fmt.Fprintf(env.Stdout, "%s %s\n", a.Name, a.Action)
	}
	return err
}

func (k definitionKind) listCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, k.Name+" list", "List the stored "+k.about+".")
	url := natsFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	stored, err := k.List(ctx, c.js)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tREVISION\tUPDATED\tDEFINITION")
	for _, s := range stored {
		def := s.Summary
		if s.Err != nil {
			def = "NOT LOADED: " + s.Err.Error()
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", s.Name, s.Revision, s.Updated.UTC().Format(time.RFC3339), def)
	}
	return w.Flush()
}

func (k definitionKind) deleteCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, k.Name+" delete", "Delete a stored definition.")
	url := natsFlag(fs)
	name := fs.String("name", "", "the name to delete (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	if err := k.Delete(ctx, c.js, *name); err != nil {
		if errors.Is(err, automation.ErrInvalid) {
			return fmt.Errorf("%w: --name: %v", errUsage, err)
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "%s deleted\n", *name)
	return nil
}
