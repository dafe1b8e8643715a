package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// doctorCall is one request the doctor made.
type doctorCall struct {
	name    string
	info    ghl.ResponseInfo
	err     error
	skipped string
}

func doctorCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "doctor", "Check a connected location: its token, its scopes, and test calls to the tags, accounts and\n"+
		"statistics endpoints, with their latency and rate-limit headroom, and obvious data problems.\n"+
		"Exits non-zero when a call fails. An expired OAuth token is refreshed when the app's credentials are set.\n\n"+
		"Environment:\n"+usageOf(&oauthConfig{}))
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location (sub-account) id (required)")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on each call")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := locationArg(*loc); err != nil {
		return err
	}
	cfg, c, store, err := openRefreshingStore(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	l, err := store.Location(ctx, *loc)
	if err != nil {
		return err
	}
	st, err := store.Status(ctx, *loc)
	if err != nil {
		return err
	}

	var (
		mu        sync.Mutex
		responses []ghl.ResponseInfo
	)
	gc, err := cfg.client(ghl.Options{MaxRetries: -1, OnResponse: func(ri ghl.ResponseInfo) {
		mu.Lock()
		responses = append(responses, ri)
		mu.Unlock()
	}})
	if err != nil {
		return err
	}
	client := gc.ForLocation(*loc, store.TokenSource(*loc))
	run := func(name string, call func(context.Context) error) doctorCall {
		mu.Lock()
		n := len(responses)
		mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		dc := doctorCall{name: name, err: call(cctx)}
		mu.Lock()
		if len(responses) > n {
			dc.info = responses[len(responses)-1]
		}
		mu.Unlock()
		return dc
	}

	var (
		tags     ghl.TagsResults
		accounts ghl.AccountsResults
		calls    []doctorCall
	)
	calls = append(calls, run("tags (first page)", func(ctx context.Context) (err error) {
		tags, err = client.ListSocialTags(ctx, *loc, ghl.SearchOpts{Limit: ghl.TagPageLimit})
		return err
	}))
	accountsCall := run("social accounts", func(ctx context.Context) (err error) {
		accounts, err = client.Accounts(ctx, *loc)
		return err
	})
	calls = append(calls, accountsCall)
	var profiles []string
	for _, a := range accounts.Accounts {
		if !a.IsExpired && a.ProfileID != "" && len(profiles) < ghl.StatisticsBatch {
			profiles = append(profiles, a.ProfileID)
		}
	}
	switch {
	case accountsCall.err != nil:
		calls = append(calls, doctorCall{name: "statistics", skipped: "no accounts to ask about"})
	case len(profiles) == 0:
		calls = append(calls, doctorCall{name: "statistics", skipped: "no active account"})
	default:
		calls = append(calls, run(fmt.Sprintf("statistics (%d profiles)", len(profiles)), func(ctx context.Context) error {
			_, err := client.Statistics(ctx, *loc, profiles, nil)
			return err
		}))
	}

	now := time.Now()
	fmt.Fprintf(env.Stdout, "location %s (%s): %s, %s\n", l.ID, dash(l.Name), l.Auth, l.State)
	fmt.Fprintf(env.Stdout, "token: %s\n", tokenState(ctx, store, l, now))
	fmt.Fprintf(env.Stdout, "token key: %s\n", keyState(ctx, store, l.ID))
	fmt.Fprintf(env.Stdout, "time zone: %s\n", timezoneOf(l))
	dailyReport(ctx, env.Stdout, c.js, l.ID, now)
	problems := scopeReport(env, l, st)
	warning, err := oldKeyWarning(ctx, store)
	if err != nil {
		return err
	}
	if warning != "" {
		problems = append(problems, warning)
	}
	featureReport(env, l)

	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nCALL\tENDPOINT\tSTATUS\tLATENCY\tREMAINING\tDAILY REMAINING")
	failed := 0
	for _, dc := range calls {
		status := "ok"
		switch {
		case dc.skipped != "":
			status = "skipped: " + dc.skipped
		case dc.err != nil:
			failed++
			status = "FAILED"
		}
		endpoint, code, latency, remaining, daily := "-", "-", "-", "-", "-"
		if dc.info.Path != "" {
			endpoint = dc.info.Method + " " + dc.info.Path
			latency = fmt.Sprintf("%.1fms", float64(dc.info.Duration)/float64(time.Millisecond))
		}
		if dc.info.StatusCode != 0 {
			code = fmt.Sprint(dc.info.StatusCode)
		}
		if rl := dc.info.RateLimit; rl.Present {
			remaining = fmt.Sprintf("%d/%d", rl.Remaining, rl.Max)
			daily = fmt.Sprintf("%d/%d", rl.DailyRemaining, rl.DailyLimit)
		}
		fmt.Fprintf(w, "%s\t%s\t%s %s\t%s\t%s\t%s\n", dc.name, endpoint, code, status, latency, remaining, daily)
	}
	_ = w.Flush()
	for _, dc := range calls {
		if dc.err != nil {
			fmt.Fprintf(env.Stdout, "  %s: %v\n", dc.name, dc.err)
		}
	}

	problems = append(problems, dataProblems(calls, tags, accounts, st, now)...)
	if len(problems) == 0 {
		fmt.Fprintln(env.Stdout, "\nno problems found")
	} else {
		fmt.Fprintln(env.Stdout, "\nproblems:")
		for _, p := range problems {
			fmt.Fprintln(env.Stdout, "  - "+p)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d calls failed", failed, len(calls))
	}
	return nil
}

// scopeReport prints the granted scopes and returns the missing ones as
// problems.
func scopeReport(env *Env, l creds.Location, st creds.TokenStatus) []string {
	if l.Auth == creds.AuthPIT {
		fmt.Fprintln(env.Stdout, "scopes: unknown (a private integration token's scopes are chosen when it is created in HighLevel; the calls below test those socialsync reads)")
		return nil
	}
	fmt.Fprintf(env.Stdout, "scopes: %s\n", dash(strings.Join(st.Scopes, " ")))
	var out []string
	for _, s := range ghl.LocationScopes() {
		if slices.Contains(st.Scopes, s) {
			continue
		}
		if f, ok := creds.FeatureOf(s); ok {
			p := "scope " + s + " was not granted: " + string(f) + " is off for this location (connect it again asking for the scope to turn it on)"
			if f == creds.FeatureLocationDetails {
				p += "; its name and time zone are not read from HighLevel: statistics run in the operator's time zone (--timezone), or UTC"
			}
			out = append(out, p)
		} else {
			out = append(out, "scope "+s+" was not granted: connect the location again asking for it")
		}
	}
	return out
}

// featureReport prints the optional features and whether each is on.
func featureReport(env *Env, l creds.Location) {
	var parts []string
	for _, f := range creds.Features() {
		if d, off := l.FeatureDisabled(f); off {
			parts = append(parts, fmt.Sprintf("%s off since %s (HighLevel refused %s)", f, d.Since.UTC().Format("2006-01-02 15:04Z"), d.Scope))
		} else {
			parts = append(parts, string(f)+" on")
		}
	}
	fmt.Fprintf(env.Stdout, "optional features: %s\n", strings.Join(parts, "; "))
}

// dataProblems lists what looks wrong in what the calls returned.
func dataProblems(calls []doctorCall, tags ghl.TagsResults, accounts ghl.AccountsResults, st creds.TokenStatus, now time.Time) []string {
	var out []string
	if st.NeedsReauth != nil {
		out = append(out, "the location needs re-authorisation: "+st.NeedsReauth.Reason)
	}
	if exp := st.ExpiresAt; !exp.IsZero() && !st.CanRefresh && exp.Sub(now) < 24*time.Hour {
		out = append(out, fmt.Sprintf("the access token expires in %s and there is no refresh token to renew it", exp.Sub(now).Round(time.Minute)))
	}
	for _, dc := range calls {
		var (
			reauth *creds.NeedsReauthError
			se     *ghl.ScopeError
		)
		switch {
		case errors.As(dc.err, &reauth):
		case errors.As(dc.err, &se):
			out = append(out, dc.name+": the token lacks scope "+se.MissingScope()+": connect the location again asking for it")
		case ghl.IsAuth(dc.err) && (dc.info.StatusCode == http.StatusUnauthorized || dc.info.StatusCode == http.StatusForbidden):
			out = append(out, dc.name+": HighLevel refused the token (missing scope, revoked or rotated token)")
		}
	}
	if calls[0].err == nil && len(tags.Tags) == 0 {
		out = append(out, "the location has no Social Planner tags: nothing to sync yet")
	}
	if calls[1].err == nil {
		if len(accounts.Accounts) == 0 {
			out = append(out, "no social account is connected: there are no statistics to fetch")
		}
		for _, a := range accounts.Accounts {
			if a.IsExpired {
				out = append(out, fmt.Sprintf("social account %q (%s) has expired: reconnect it in HighLevel's Social Planner", a.Name, a.Platform))
			}
		}
	}
	return out
}
