package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/socialsync/socialsync/pkg/creds"
)

func locationsReseal(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "locations reseal", "Seal every stored token again under the newest key of SOCIALSYNC_TOKEN_KEY (the first), so the\n"+
		"older keys can be dropped. Run it once every process holds the new keyring (new key first, old ones after).\n"+
		"Each record is rewritten only if it is unchanged since it was read: a token refreshed meanwhile is kept.\n"+
		"Running it again changes nothing. Exits non-zero when a record could not be resealed.")
	url := natsFlag(fs)
	dryRun := fs.Bool("dry-run", false, "only report what would be resealed")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, store, err := openStore(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	r, err := store.Reseal(ctx, *dryRun)
	if err != nil {
		return err
	}
	for _, f := range r.Failed {
		fmt.Fprintf(env.Stdout, "  failed: %v\n", f)
	}
	verb := "resealed"
	if *dryRun {
		verb = "would reseal"
	}
	fmt.Fprintf(env.Stdout, "%s %d, already current %d, failed %d (newest key %s)\n", verb, r.Resealed, r.Current, len(r.Failed), store.CurrentKeyID())
	if len(r.Failed) > 0 {
		return fmt.Errorf("%d token records could not be resealed", len(r.Failed))
	}
	return nil
}

// keyState says which key seals a location's token, for people.
func keyState(ctx context.Context, store *creds.Store, loc string) string {
	sl, err := store.Sealing(ctx, loc)
	switch {
	case err != nil:
		return "-"
	case sl.Current && !sl.Described:
		return "current, no metadata"
	case sl.Current:
		return "current"
	case sl.Known:
		return "old " + sl.KeyID
	}
	return "unknown " + sl.KeyID
}

// oldKeyWarning counts the token records an older key seals and says how
// to fix them, or returns "" when there are none.
func oldKeyWarning(ctx context.Context, store *creds.Store) (string, error) {
	sealings, err := store.Sealings(ctx)
	if err != nil {
		return "", err
	}
	old, undescribed := 0, 0
	for _, sl := range sealings {
		if !sl.Current {
			old++
		} else if !sl.Described {
			undescribed++
		}
	}
	var parts []string
	if old > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d token records are sealed under an old key", old, len(sealings)))
	}
	if undescribed > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d token records keep no metadata in clear (the gateway shows them as unknown)", undescribed, len(sealings)))
	}
	if len(parts) == 0 {
		return "", nil
	}
	return strings.Join(parts, "; ") + ": run `socialsync locations reseal`", nil
}
