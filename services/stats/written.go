package stats

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
)

// recordWritten adds names to loc's record of the custom values socialsync
// wrote (relations.WrittenValues), before they are written, so that
// `socialsync locations remove --purge` deletes exactly those. A record
// that already names them all is not written again.
func (h *handler) recordWritten(ctx context.Context, loc string, names []string) error {
	kv := h.w.deps.Stores.Relations
	if kv == nil {
		return nil // a handler test's fakes
	}
	var have relations.WrittenValues
	rev, err := revision.Load(ctx, kv, relations.WrittenValuesKey(loc), &have)
	if err != nil {
		return err
	}
	next := slices.Clone(have.Names)
	for _, n := range names {
		if n = strings.ToLower(strings.TrimSpace(n)); !slices.Contains(next, n) {
			next = append(next, n)
		}
	}
	if len(next) == len(have.Names) {
		return nil
	}
	slices.Sort(next)
	if _, err := revision.Save(ctx, kv, relations.WrittenValuesKey(loc), relations.WrittenValues{Names: next}, rev); err != nil {
		return fmt.Errorf("record the custom values written for %s: %w", loc, err)
	}
	return nil
}
