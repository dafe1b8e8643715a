// Package doctor checks one connected location: its token, its scopes,
// and test calls to the tags, accounts and statistics endpoints with
// their status, latency and rate-limit headroom, and what looks wrong in
// their answers. `socialsync doctor` prints a Report; the stats worker
// (which holds the token key) answers the gateway's console with one
// (Server, over topology.SubjectConsoleDoctor).
package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// RawMax is the most bytes of one answer a Report keeps.
const RawMax = 64 << 10

// Call is one test call the doctor made.
type Call struct {
	Name string `json:"name"`
	// Method and Path name HighLevel's route ("" when skipped).
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// Outcome is "ok", "failed" or "skipped".
	Outcome string `json:"outcome"`
	// Skipped says why the call was not made; Error why it failed.
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
	Status  int    `json:"status,omitempty"`
	// LatencyMS is the time from the request to the answer's body.
	LatencyMS float64 `json:"latencyMs,omitempty"`
	// RateLimit is what the answer's X-RateLimit-* headers said.
	RateLimit *Headroom `json:"rateLimit,omitempty"`
	// Raw is the answer's body (at most RawMax bytes; RawTruncated then),
	// never a header of the request.
	Raw          string `json:"raw,omitempty"`
	RawTruncated bool   `json:"rawTruncated,omitempty"`

	err error
}

// Headroom is what an answer said of the location's rate limit.
type Headroom struct {
	Remaining      int `json:"remaining"`
	Max            int `json:"max"`
	DailyRemaining int `json:"dailyRemaining"`
	DailyLimit     int `json:"dailyLimit"`
}

// Report is what the doctor found for one location.
type Report struct {
	Location string    `json:"location"`
	Name     string    `json:"name,omitempty"`
	Auth     string    `json:"auth"`
	State    string    `json:"state"`
	At       time.Time `json:"at"`
	Token    string    `json:"token"`
	TokenKey string    `json:"tokenKey"`
	Timezone string    `json:"timezone"`
	// ScopesKnown is false for a private integration token, whose scopes
	// were chosen in HighLevel; Granted and Missing are then empty.
	ScopesKnown bool     `json:"scopesKnown"`
	Granted     []string `json:"granted"`
	Missing     []string `json:"missing"`
	Features    []string `json:"features"`
	Calls       []Call   `json:"calls"`
	// Problems are the missing scopes, data checks and token problems,
	// in words for people.
	Problems []string `json:"problems"`
}

// Failed counts the calls that failed.
func (r Report) Failed() int {
	n := 0
	for _, c := range r.Calls {
		if c.Outcome == "failed" {
			n++
		}
	}
	return n
}

// Doctor runs the checks.
type Doctor struct {
	Store *creds.Store
	// NewClient builds the client of the test calls from opts (the
	// caller adds its base URL and, in a worker, the rate governor as
	// Limiter: the calls count against the location's budget).
	NewClient func(opts ghl.Options) (*ghl.Client, error)
	// Timeout bounds each call (default 30 s).
	Timeout time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

// Run checks loc. It fails when loc is not registered or its records
// cannot be read; a failed call is in the Report.
func (d *Doctor) Run(ctx context.Context, loc string) (Report, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	store := d.Store
	l, err := store.Location(ctx, loc)
	if err != nil {
		return Report{}, err
	}
	st, err := store.Status(ctx, loc)
	if err != nil {
		return Report{}, err
	}
	var (
		mu        sync.Mutex
		responses []ghl.ResponseInfo
	)
	rec := &recorder{next: http.DefaultTransport}
	gc, err := d.NewClient(ghl.Options{MaxRetries: -1, HTTPClient: &http.Client{Transport: rec}, OnResponse: func(ri ghl.ResponseInfo) {
		mu.Lock()
		responses = append(responses, ri)
		mu.Unlock()
	}})
	if err != nil {
		return Report{}, err
	}
	client := gc.ForLocation(loc, store.TokenSource(loc))
	run := func(name string, call func(context.Context) error) Call {
		mu.Lock()
		n := len(responses)
		mu.Unlock()
		rec.reset()
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		c := Call{Name: name, err: call(cctx), Outcome: "ok"}
		if c.err != nil {
			c.Outcome, c.Error = "failed", c.err.Error()
		}
		mu.Lock()
		if len(responses) > n {
			ri := responses[len(responses)-1]
			c.Method, c.Path, c.Status = ri.Method, ri.Path, ri.StatusCode
			c.LatencyMS = float64(ri.Duration) / float64(time.Millisecond)
			if rl := ri.RateLimit; rl.Present {
				c.RateLimit = &Headroom{Remaining: rl.Remaining, Max: rl.Max, DailyRemaining: rl.DailyRemaining, DailyLimit: rl.DailyLimit}
			}
		}
		mu.Unlock()
		c.Raw, c.RawTruncated = rec.last()
		return c
	}

	var (
		tags     ghl.TagsResults
		accounts ghl.AccountsResults
		calls    []Call
	)
	calls = append(calls, run("tags (first page)", func(ctx context.Context) (err error) {
		tags, err = client.ListSocialTags(ctx, loc, ghl.SearchOpts{Limit: ghl.TagPageLimit})
		return err
	}))
	accountsCall := run("social accounts", func(ctx context.Context) (err error) {
		accounts, err = client.Accounts(ctx, loc)
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
		calls = append(calls, Call{Name: "statistics", Outcome: "skipped", Skipped: "no accounts to ask about"})
	case len(profiles) == 0:
		calls = append(calls, Call{Name: "statistics", Outcome: "skipped", Skipped: "no active account"})
	default:
		calls = append(calls, run(fmt.Sprintf("statistics (%d profiles)", len(profiles)), func(ctx context.Context) error {
			_, err := client.Statistics(ctx, loc, profiles, nil)
			return err
		}))
	}

	at := now()
	r := Report{Location: l.ID, Name: l.Name, Auth: string(l.Auth), State: string(l.State), At: at.UTC(),
		Token: TokenState(ctx, store, l, at), TokenKey: KeyState(ctx, store, l.ID), Timezone: Timezone(l),
		Granted: []string{}, Missing: []string{}, Calls: calls, Problems: []string{}}
	r.Problems = append(r.Problems, r.scopes(l, st)...)
	warning, err := OldKeyWarning(ctx, store)
	if err != nil {
		return Report{}, err
	}
	if warning != "" {
		r.Problems = append(r.Problems, warning)
	}
	r.Features = features(l)
	r.Problems = append(r.Problems, dataProblems(calls, tags, accounts, st, at)...)
	return r, nil
}

// scopes fills the granted and missing scopes and returns the missing
// ones as problems.
func (r *Report) scopes(l creds.Location, st creds.TokenStatus) []string {
	if l.Auth == creds.AuthPIT {
		return nil
	}
	r.ScopesKnown = true
	r.Granted = append(r.Granted, st.Scopes...)
	var out []string
	for _, s := range ghl.LocationScopes() {
		if slices.Contains(st.Scopes, s) {
			continue
		}
		r.Missing = append(r.Missing, s)
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

// features names the optional features and whether each is on.
func features(l creds.Location) []string {
	var parts []string
	for _, f := range creds.Features() {
		if d, off := l.FeatureDisabled(f); off {
			parts = append(parts, fmt.Sprintf("%s off since %s (HighLevel refused %s)", f, d.Since.UTC().Format("2006-01-02 15:04Z"), d.Scope))
		} else {
			parts = append(parts, string(f)+" on")
		}
	}
	return parts
}

// dataProblems lists what looks wrong in what the calls returned.
func dataProblems(calls []Call, tags ghl.TagsResults, accounts ghl.AccountsResults, st creds.TokenStatus, now time.Time) []string {
	var out []string
	if st.NeedsReauth != nil {
		out = append(out, "the location needs re-authorisation: "+st.NeedsReauth.Reason)
	}
	if exp := st.ExpiresAt; !exp.IsZero() && !st.CanRefresh && exp.Sub(now) < 24*time.Hour {
		out = append(out, fmt.Sprintf("the access token expires in %s and there is no refresh token to renew it", exp.Sub(now).Round(time.Minute)))
	}
	for _, c := range calls {
		var (
			reauth *creds.NeedsReauthError
			se     *ghl.ScopeError
		)
		switch {
		case errors.As(c.err, &reauth):
		case errors.As(c.err, &se):
			out = append(out, c.Name+": the token lacks scope "+se.MissingScope()+": connect the location again asking for it")
		case ghl.IsAuth(c.err) && (c.Status == http.StatusUnauthorized || c.Status == http.StatusForbidden):
			out = append(out, c.Name+": HighLevel refused the token (missing scope, revoked or rotated token)")
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

// recorder keeps the body of the latest answer, never a request header.
type recorder struct {
	next      http.RoundTripper
	mu        sync.Mutex
	body      []byte
	truncated bool
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return resp, nil // the client reads what came and fails as it would
	}
	r.mu.Lock()
	r.body, r.truncated = b, len(b) > RawMax
	if r.truncated {
		r.body = b[:RawMax]
	}
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.body, r.truncated = nil, false
	r.mu.Unlock()
}

func (r *recorder) last() (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.body), r.truncated
}

// WriteText prints r for people, as `socialsync doctor` does.
func (r Report) WriteText(out io.Writer) {
	fmt.Fprintf(out, "location %s (%s): %s, %s\n", r.Location, dash(r.Name), r.Auth, r.State)
	fmt.Fprintf(out, "token: %s\n", r.Token)
	fmt.Fprintf(out, "token key: %s\n", r.TokenKey)
	fmt.Fprintf(out, "time zone: %s\n", r.Timezone)
	if !r.ScopesKnown {
		fmt.Fprintln(out, "scopes: unknown (a private integration token's scopes are chosen when it is created in HighLevel; the calls below test those socialsync reads)")
	} else {
		fmt.Fprintf(out, "scopes: %s\n", dash(strings.Join(r.Granted, " ")))
	}
	fmt.Fprintf(out, "optional features: %s\n", strings.Join(r.Features, "; "))
	writeCalls(out, r.Calls)
	for _, c := range r.Calls {
		if c.Error != "" {
			fmt.Fprintf(out, "  %s: %s\n", c.Name, c.Error)
		}
	}
	if len(r.Problems) == 0 {
		fmt.Fprintln(out, "\nno problems found")
		return
	}
	fmt.Fprintln(out, "\nproblems:")
	for _, p := range r.Problems {
		fmt.Fprintln(out, "  - "+p)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
