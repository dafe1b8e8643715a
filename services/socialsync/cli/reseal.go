package cli

import (
	"context"
	"fmt"

	"github.com/socialsync/socialsync/pkg/doctor"
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
var keyState = doctor.KeyState

// oldKeyWarning counts the token records an older key seals and says how
// to fix them, or returns "" when there are none.
var oldKeyWarning = doctor.OldKeyWarning
