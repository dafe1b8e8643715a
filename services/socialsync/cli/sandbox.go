package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/socialsync/socialsync/pkg/ghlsim"
)

func sandboxCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "sandbox", "Serve the HighLevel simulator: HighLevel's API for the calls socialsync makes, plus the /_sandbox admin API.")
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on")
	seed := fs.String("seed", "demo", "initial data: demo (several locations with tags, accounts, posts, contacts) or empty")
	if err := parse(fs, args); err != nil {
		return err
	}
	sim, err := ghlsim.New(ghlsim.Options{Seed: *seed})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	base := "http://" + ln.Addr().String()
	printSandbox(env, sim, base)

	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// printSandbox prints where the simulator listens and its credentials. They
// are the simulator's own, made up at start, so printing them is the point.
func printSandbox(env *Env, sim *ghlsim.Simulator, base string) {
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "HighLevel simulator on %s (SOCIALSYNC_GHL_BASE_URL=%s)\n\n", base, base)
	fmt.Fprintln(w, "LOCATION\tNAME\tTIME ZONE\tPRIVATE INTEGRATION TOKEN")
	for _, l := range sim.Locations() {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", l.ID, l.Name, l.Timezone, l.Token)
	}
	fmt.Fprintln(w, "\nOAUTH APP CLIENT ID\tCLIENT SECRET\tCOMPANY")
	for _, a := range sim.Apps() {
		fmt.Fprintf(w, "%s\t%s\t%s\n", a.ClientID, a.ClientSecret, a.CompanyID)
	}
	fmt.Fprintf(w, "\nAdmin API: %s/_sandbox/locations, /_sandbox/requests, /_sandbox/faults, /_sandbox/config\n", base)
	_ = w.Flush()
}
