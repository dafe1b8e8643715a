package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
)

func topologyCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: apply or check", errUsage)
	}
	switch args[0] {
	case "apply":
		return topologyApply(ctx, env, args[1:])
	case "check":
		return topologyCheck(ctx, env, args[1:])
	default:
		return fmt.Errorf("%w: unknown subcommand %q: want apply or check", errUsage, args[0])
	}
}

// topologyApply is the operator step that creates or updates every stream,
// durable consumer, key-value bucket and object store: the workers and the
// gateway only read them, and wait, not ready, until they exist. Its NATS
// user is the one allowed to create and update streams (topology in
// deploy/nats/accounts.conf); the Kubernetes Job socialsync-topology runs
// it before the workers of a release start.
func topologyApply(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "topology apply", "Create or update the streams, durable consumers, key-value buckets and object stores the fleet\n"+
		"needs, with SOCIALSYNC_STREAM_REPLICAS replicas and the SOCIALSYNC_LIMIT_* storage limits (give the values the\n"+
		"workers get), and print what it created, updated or left unchanged. Running it again changes nothing.\n"+
		"Workers and the gateway never create them: they stay not ready until this has run.")
	url := natsFlag(fs)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	topo, c, err := topologyConn(*url)
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	done, err := topo.Apply(ctx, c.js)
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	counts := map[string]int{}
	for _, a := range done {
		counts[a.Action]++
		fmt.Fprintf(w, "%s\t%s\n", a.Action, a.What)
	}
	if ferr := w.Flush(); ferr != nil {
		return ferr
	}
	if err != nil {
		return fmt.Errorf("apply the topology: %w", err)
	}
	fmt.Fprintf(env.Stdout, "topology applied: %d created, %d updated, %d unchanged\n", counts["created"], counts["updated"], counts["unchanged"])
	return nil
}

// topologyCheck says what of the topology the server does not hold, as a
// worker waiting for it does, and fails when anything is missing.
func topologyCheck(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "topology check", "List what of the topology (streams, durable consumers, buckets, object stores) the server\n"+
		"does not hold, reading their info only; exit 1 when something is missing.")
	url := natsFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	topo, c, err := topologyConn(*url)
	if err != nil {
		return err
	}
	defer c.close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = topo.Verify(ctx, c.js)
	var missing *bus.MissingError
	if errors.As(err, &missing) {
		for _, m := range missing.Missing {
			fmt.Fprintf(env.Stdout, "missing\t%s\n", m)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "topology present")
	return nil
}

// topologyConn is the topology the environment sizes (operatorTopology)
// and a connection to url to apply or check it; the caller closes it.
func topologyConn(url string) (bus.Topology, *conn, error) {
	topo, err := operatorTopology()
	if err != nil {
		return bus.Topology{}, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	c, err := connectNATS(url)
	return topo, c, err
}
