package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
)

// locationsSyncAgency is `socialsync locations sync-agency`: what each
// agency's schedule does in the stats worker, now, from the operator's
// machine.
func locationsSyncAgency(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "locations sync-agency", "Connect every location of a connected agency where the app is installed and that socialsync does not\n"+
		"hold yet (an INSTALL webhook that never arrived), with location tokens traded for the agency's kept token. The\n"+
		"stats worker does the same on a schedule (every 6 hours). Without --company, every agency whose token is kept.\n\n"+
		"Environment:\n"+usageOf(&oauthConfig{}))
	url := natsFlag(fs)
	company := fs.String("company", "", "the agency (HighLevel company id); default: every connected agency")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *company != "" && !ids.ValidHighLevel(*company) {
		return fmt.Errorf("%w: --company: want a HighLevel company id (letters and digits), got %q", errUsage, *company)
	}
	cfg, err := readOAuthConfig(true)
	if err != nil {
		return err
	}
	c, store, err := cfg.openStore(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	// The agency's calls count in its company's share of the budget.
	gc, closeGov, err := cfg.governedClient(ctx, env, c, ghl.Options{})
	if err != nil {
		return err
	}
	defer closeGov()
	companies := []string{*company}
	if *company == "" {
		if companies, err = store.Agencies(ctx); err != nil {
			return err
		}
		if len(companies) == 0 {
			return errors.New("no agency is connected (socialsync connect --user-type Company)")
		}
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	defer func() { _ = w.Flush() }()
	var errs []error
	for _, co := range companies {
		locs, err := store.SyncAgency(ctx, gc, co)
		fmt.Fprintf(w, "agency %s: %d locations connected\n", co, len(locs))
		for _, l := range locs {
			fmt.Fprintf(w, "  %s\t%s\t%s\n", l.ID, dash(l.Name), l.State)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("agency %s: %w", co, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		if errors.Is(err, creds.ErrNoAgency) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return err
	}
	return nil
}
