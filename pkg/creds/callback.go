package creds

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// CallbackPath is the path of a Callback's redirect URI.
const CallbackPath = "/callback"

// Callback is the local end of an OAuth authorization-code flow: an HTTP
// server on a loopback address that receives HighLevel's redirect, checks
// its state and hands over the code.
type Callback struct {
	srv    *http.Server
	state  string
	uri    string
	result chan callbackResult
	// forged counts the callbacks refused for a wrong state: the flow
	// goes on waiting for the right one.
	forged atomic.Int64
}

type callbackResult struct {
	code string
	err  error
}

// ListenCallback serves a callback on addr, which must be a loopback
// address ("127.0.0.1:0" picks a free port). HighLevel redirects only to
// the redirect URIs registered with the app, so register RedirectURI (with
// a fixed port) there.
func ListenCallback(addr string) (*Callback, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("callback address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("callback address %q: want a loopback address such as 127.0.0.1:0", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for the OAuth callback on %s: %w", addr, err)
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	c := &Callback{
		state:  base64.RawURLEncoding.EncodeToString(b),
		uri:    "http://" + ln.Addr().String() + CallbackPath,
		result: make(chan callbackResult, 1),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CallbackPath, c.handle)
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

// RedirectURI is the URI HighLevel redirects the browser to.
func (c *Callback) RedirectURI() string { return c.uri }

// AuthURL returns the authorization URL of cfg (see ghl.Client.OAuthConfig:
// HighLevel's chooselocation page, the client id, the scopes) with the
// callback's state; cfg's redirect URI must be the callback's. opts add
// parameters (location_id).
func (c *Callback) AuthURL(cfg *oauth2.Config, opts ...oauth2.AuthCodeOption) (string, error) {
	u, err := url.Parse(cfg.Endpoint.AuthURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("authorization URL %q: want an http(s) URL", cfg.Endpoint.AuthURL)
	}
	if cfg.RedirectURL != c.uri {
		return "", fmt.Errorf("redirect URI %q: want the callback's, %s", cfg.RedirectURL, c.uri)
	}
	return cfg.AuthCodeURL(c.state, opts...), nil
}

// Wait returns the code of the first callback carrying the right state,
// or the error it carried (a denial), or ctx's error. A callback with a
// wrong state is answered 400 and decides nothing, so that a stray or
// forged request cannot end the flow; when ctx ends after such callbacks,
// the error also matches ErrStateMismatch.
func (c *Callback) Wait(ctx context.Context) (string, error) {
	select {
	case r := <-c.result:
		return r.code, r.err
	case <-ctx.Done():
		err := fmt.Errorf("wait for the OAuth callback on %s: %w", c.uri, ctx.Err())
		if n := c.forged.Load(); n > 0 {
			err = fmt.Errorf("%w (%d callbacks refused: %w)", err, n, ErrStateMismatch)
		}
		return "", err
	}
}

// Close stops the server.
func (c *Callback) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.srv.Shutdown(ctx)
}

func (c *Callback) handle(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(c.state)) != 1 {
		c.forged.Add(1)
		page(w, http.StatusBadRequest, "socialsync did not accept this callback",
			"Its state does not match the authorization this terminal started; it is still waiting for that one.")
		return
	}
	var res callbackResult
	switch {
	case q.Get("error") != "":
		res.err = fmt.Errorf("creds: authorization denied: %s", clip(strings.TrimSpace(q.Get("error")+" "+q.Get("error_description")), 200))
	case q.Get("code") == "":
		res.err = errors.New("creds: the OAuth callback carried no code")
	default:
		res.code = q.Get("code")
	}
	if res.err != nil {
		page(w, http.StatusBadRequest, "socialsync could not connect", res.err.Error())
	} else {
		page(w, http.StatusOK, "socialsync is connected", "You can close this window and return to the terminal.")
	}
	select {
	case c.result <- res:
	default: // a later callback: the first one decided
	}
}

func page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>%s</title><h1>%s</h1><p>%s</p>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
}

// clip cuts s to n bytes.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
