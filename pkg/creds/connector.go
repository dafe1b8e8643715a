package creds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Connection is what an authorization connected.
type Connection struct {
	// UserType is ghl.UserTypeLocation or ghl.UserTypeCompany (an agency:
	// its token is kept and Locations are its installed locations).
	UserType  string
	CompanyID string
	Locations []Location
}

// Connect exchanges an authorization code for tokens and stores them,
// sealed: the one piece `socialsync connect` (its loopback callback) and
// the Connector (the gateway's hosted callback) share. redirectURI is the
// one of the authorization URL. want is what socialsync asked for; its
// zero value is an install started in HighLevel's Marketplace, which
// connects whatever the token names. A Company token connects the agency
// (ConnectAgency); a Location token its location, which must be
// want.Location when that is set.
func (s *Store) Connect(ctx context.Context, c *ghl.Client, app ghl.AppCredentials, code, redirectURI string, want AuthRequest) (Connection, error) {
	issued := s.now()
	gt, err := c.ExchangeCode(ctx, app, code, redirectURI, want.UserType)
	if err != nil {
		return Connection{}, fmt.Errorf("exchange the authorization code: %w", err)
	}
	tok := TokenFromGHL(gt, app.ClientID, issued)
	if tok.UserType == ghl.UserTypeCompany || (tok.UserType == "" && want.UserType == ghl.UserTypeCompany) {
		tok.UserType = ghl.UserTypeCompany
		locs, err := s.ConnectAgency(ctx, c, tok)
		return Connection{UserType: ghl.UserTypeCompany, CompanyID: tok.CompanyID, Locations: locs}, err
	}
	id := gt.LocationID
	switch {
	case !ids.ValidHighLevel(id):
		return Connection{}, fmt.Errorf("HighLevel answered with no usable location id (%q): was the app installed on a location?", id)
	case want.Location != "" && id != want.Location:
		return Connection{}, fmt.Errorf("the authorization was for location %s, not %s: connect again and choose %s", id, want.Location, want.Location)
	}
	tok.UserType = ghl.UserTypeLocation
	if err := s.AddOAuth(ctx, Location{ID: id, Name: want.Name, Timezone: want.Timezone}, tok); err != nil {
		return Connection{}, err
	}
	l, err := s.Location(ctx, id)
	if err != nil {
		return Connection{}, err
	}
	return Connection{UserType: ghl.UserTypeLocation, CompanyID: tok.CompanyID, Locations: []Location{l}}, nil
}

// The kinds of ConnectRequest.
const (
	// ConnectCallback is HighLevel's redirect with an authorization code.
	ConnectCallback = "callback"
	// ConnectInstall is an INSTALL webhook.
	ConnectInstall = "install"
	// ConnectUninstall is an UNINSTALL webhook.
	ConnectUninstall = "uninstall"
)

// ConnectRequest is what the gateway hands the Connector on
// topology.SubjectOAuthConnect: a callback's code, or an INSTALL or
// UNINSTALL webhook. The gateway holds neither the token key nor the
// client secret; the code is worth nothing without the secret.
type ConnectRequest struct {
	Kind        string `json:"kind"`
	Code        string `json:"code,omitempty"`
	RedirectURI string `json:"redirectUri,omitempty"`
	// Request is the authorization socialsync issued (its state matched);
	// nil for an install started in HighLevel's Marketplace.
	Request *AuthRequest `json:"request,omitempty"`
	// CompanyID and LocationID are an INSTALL's or UNINSTALL's; an empty
	// LocationID is the agency's own install or uninstall.
	CompanyID  string `json:"companyId,omitempty"`
	LocationID string `json:"locationId,omitempty"`
}

// String keeps the code out of logs.
func (r ConnectRequest) String() string {
	return fmt.Sprintf("creds.ConnectRequest{%s company %q location %q}", r.Kind, r.CompanyID, r.LocationID)
}

// ConnectedLocation is a location a ConnectReply names.
type ConnectedLocation struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	State State  `json:"state"`
}

// ConnectReply is the Connector's answer.
type ConnectReply struct {
	// Error says why nothing (or not everything) was connected, in words
	// safe to show; Retry says a later attempt may succeed.
	Error string `json:"error,omitempty"`
	Retry bool   `json:"retry,omitempty"`
	// UserType and CompanyID say what was connected.
	UserType  string              `json:"userType,omitempty"`
	CompanyID string              `json:"companyId,omitempty"`
	Locations []ConnectedLocation `json:"locations,omitempty"`
	// Pending is a location-level INSTALL recorded until its OAuth
	// callback arrives, or an agency's INSTALL waiting for its own.
	Pending bool `json:"pending,omitempty"`
}

// Connector is the worker's end of the hosted OAuth flow and of HighLevel's
// INSTALL and UNINSTALL webhooks: it holds the token key (Store) and the
// app's client secret (App), which the gateway does not.
type Connector struct {
	Store  *Store
	Client *ghl.Client
	App    ghl.AppCredentials
	Log    *slog.Logger
	// Timeout bounds one request (default 30 s).
	Timeout time.Duration
	// MaxConcurrent bounds the requests one process handles at once
	// (default 8): the callback is public, and each request may call
	// HighLevel. A request beyond it is answered at once, "retry".
	MaxConcurrent int
	// Agency, when set, is told of each agency connected (true) or
	// uninstalled (false): the stats worker keeps its sync schedule.
	Agency func(ctx context.Context, company string, connected bool) error
}

// Handle does what req asks and says how it went.
func (c *Connector) Handle(ctx context.Context, req ConnectRequest) ConnectReply {
	switch req.Kind {
	case ConnectCallback:
		return c.callback(ctx, req)
	case ConnectInstall:
		return c.install(ctx, req)
	case ConnectUninstall:
		uninstalled, err := c.Store.Uninstall(ctx, req.CompanyID, req.LocationID)
		if err == nil && req.LocationID == "" && c.Agency != nil {
			err = c.Agency(ctx, req.CompanyID, false)
		}
		out := c.reply(ctx, Connection{CompanyID: req.CompanyID}, err)
		for _, id := range uninstalled {
			out.Locations = append(out.Locations, ConnectedLocation{ID: id, State: StateUninstalled})
		}
		return out
	}
	return ConnectReply{Error: fmt.Sprintf("unknown request kind %q", req.Kind)}
}

func (c *Connector) callback(ctx context.Context, req ConnectRequest) ConnectReply {
	if req.Code == "" {
		return ConnectReply{Error: "the callback carried no authorization code"}
	}
	var want AuthRequest
	if req.Request != nil {
		want = *req.Request
	}
	if c.App.ClientID == "" || c.App.ClientSecret == "" {
		return ConnectReply{Error: "the worker has no app credentials (SOCIALSYNC_GHL_CLIENT_ID, SOCIALSYNC_GHL_CLIENT_SECRET)"}
	}
	conn, err := c.Store.Connect(ctx, c.Client, c.App, req.Code, req.RedirectURI, want)
	if err == nil && conn.UserType == ghl.UserTypeCompany && c.Agency != nil {
		err = c.Agency(ctx, conn.CompanyID, true)
	}
	return c.reply(ctx, conn, err)
}

// install connects a location an INSTALL names under a kept agency, or
// records it until its own callback arrives.
func (c *Connector) install(ctx context.Context, req ConnectRequest) ConnectReply {
	if req.LocationID == "" {
		// The agency's own install: its token comes with its callback.
		return ConnectReply{Pending: true, CompanyID: req.CompanyID}
	}
	l, err := c.Store.ConnectInstalled(ctx, c.Client, req.CompanyID, req.LocationID)
	if errors.Is(err, ErrNoAgency) {
		if err := c.Store.AwaitCallback(ctx, req.CompanyID, req.LocationID); err != nil {
			return c.reply(ctx, Connection{}, err)
		}
		return ConnectReply{Pending: true, CompanyID: req.CompanyID,
			Locations: []ConnectedLocation{{ID: req.LocationID, State: StateConnecting}}}
	}
	return c.reply(ctx, Connection{UserType: ghl.UserTypeLocation, CompanyID: req.CompanyID, Locations: []Location{l}}, err)
}

// reply describes conn and err; err's text is what the page shows, so it
// holds no token (no error of this package or of ghl quotes one).
func (c *Connector) reply(ctx context.Context, conn Connection, err error) ConnectReply {
	out := ConnectReply{UserType: conn.UserType, CompanyID: conn.CompanyID}
	for _, l := range conn.Locations {
		out.Locations = append(out.Locations, ConnectedLocation{ID: l.ID, Name: l.Name, State: l.State})
	}
	if err != nil {
		out.Error = err.Error()
		out.Retry = ghl.IsRetryable(err) || isRateLimited(err) || ctx.Err() != nil
		c.log().Warn("connection failed", "company", conn.CompanyID, "err", err)
	}
	return out
}

func isRateLimited(err error) bool {
	_, ok := ghl.IsRateLimited(err)
	return ok
}

func (c *Connector) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c.Log
}

// Serve answers the requests of topology.SubjectOAuthConnect on nc, in
// the queue group topology.QueueOAuthConnect, until ctx ends; then it
// unsubscribes and finishes the requests under way (a request not started
// is left to the gateway's timeout: HighLevel's code or webhook comes
// again, the page says to retry).
func (c *Connector) Serve(ctx context.Context, nc *nats.Conn) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	limit := c.MaxConcurrent
	if limit <= 0 {
		limit = 8
	}
	return bus.Responder[ConnectRequest, ConnectReply]{Subject: topology.SubjectOAuthConnect, Queue: topology.QueueOAuthConnect,
		Limit: limit, Timeout: timeout, Handle: c.Handle, Log: c.log(),
		Busy:      ConnectReply{Error: "too many connections under way; try again in a moment", Retry: true},
		Malformed: ConnectReply{Error: "malformed request: want a JSON ConnectRequest"}}.Serve(ctx, nc)
}

// RequestConnect sends req to the Connector over nc and waits for its
// reply until ctx ends (the gateway's side). It fails with
// nats.ErrNoResponders when no worker serves the subject.
func RequestConnect(ctx context.Context, nc *nats.Conn, req ConnectRequest) (ConnectReply, error) {
	return bus.Ask[ConnectRequest, ConnectReply](ctx, nc, topology.SubjectOAuthConnect, req)
}
