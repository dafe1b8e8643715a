package doctor

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/socialsync/socialsync/pkg/creds"
)

// writeCalls prints the calls as a table.
func writeCalls(out io.Writer, calls []Call) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nCALL\tENDPOINT\tSTATUS\tLATENCY\tREMAINING\tDAILY REMAINING")
	for _, c := range calls {
		status := "ok"
		switch c.Outcome {
		case "skipped":
			status = "skipped: " + c.Skipped
		case "failed":
			status = "FAILED"
		}
		endpoint, code, latency, remaining, daily := "-", "-", "-", "-", "-"
		if c.Path != "" {
			endpoint = c.Method + " " + c.Path
			latency = fmt.Sprintf("%.1fms", c.LatencyMS)
		}
		if c.Status != 0 {
			code = fmt.Sprint(c.Status)
		}
		if rl := c.RateLimit; rl != nil {
			remaining = fmt.Sprintf("%d/%d", rl.Remaining, rl.Max)
			daily = fmt.Sprintf("%d/%d", rl.DailyRemaining, rl.DailyLimit)
		}
		fmt.Fprintf(w, "%s\t%s\t%s %s\t%s\t%s\t%s\n", c.Name, endpoint, code, status, latency, remaining, daily)
	}
	_ = w.Flush()
}

// Timezone describes l's time zone and where it came from.
func Timezone(l creds.Location) string {
	tz := l.Timezone
	if tz == "" {
		tz = "UTC"
	}
	out := fmt.Sprintf("%s (%s)", tz, l.TimezoneSource())
	switch _, off := l.FeatureDisabled(creds.FeatureLocationDetails); {
	case off && l.TimezoneSource() != creds.SourceOperator:
		out += ", not from HighLevel: no locations.readonly"
	case l.NeedsDetails() && l.TimezoneSource() != creds.SourceOperator:
		out += ", HighLevel's not read yet"
	}
	return out
}

// TokenState describes a location's token for people.
func TokenState(ctx context.Context, store *creds.Store, l creds.Location, now time.Time) string {
	if l.State == creds.StateUninstalled || l.State == creds.StateConnecting {
		return "none: " + l.Reason // no token, on purpose
	}
	st, err := store.Status(ctx, l.ID)
	switch {
	case err != nil:
		return "unreadable: " + err.Error()
	case st.NeedsReauth != nil:
		return "needs re-auth: " + st.NeedsReauth.Reason
	case st.ExpiresAt.IsZero():
		return "does not expire"
	}
	until := st.ExpiresAt.UTC().Format("2006-01-02 15:04Z")
	switch {
	case !st.CanRefresh && now.After(st.ExpiresAt):
		return "expired " + until + ", no refresh token: needs re-auth"
	case !st.CanRefresh:
		return "valid until " + until + ", no refresh token"
	case st.Refreshing != "":
		return "valid until " + until + ", being refreshed"
	case now.After(st.ExpiresAt):
		return "expired " + until + ", refreshed on next use"
	}
	return "valid until " + until
}

// KeyState describes the key that seals loc's token record.
func KeyState(ctx context.Context, store *creds.Store, loc string) string {
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

// OldKeyWarning counts the token records an older key seals and says how
// to fix them, or returns "" when there are none.
func OldKeyWarning(ctx context.Context, store *creds.Store) (string, error) {
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
