package creds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/relations/revision"
)

// StateUninstalled is a location whose app was uninstalled in HighLevel
// (an UNINSTALL webhook): its tokens are deleted (HighLevel has revoked
// them), the gateway refuses its triggers with 410 and the workers ack
// the ones already stored without handling them (UninstalledError).
// Installing the app again connects it again.
const StateUninstalled State = "uninstalled"

// AppID returns the Marketplace app id of a client id: the part before the
// dash ("<24 hex>-<8 chars>"), as HighLevel's Node SDK derives it.
func AppID(clientID string) string {
	id, _, _ := strings.Cut(clientID, "-")
	return id
}

// UninstalledError is the error of a location whose app was uninstalled.
// It asks pkg/bus, through Dropped, to acknowledge a message for it
// without handling it, counted, rather than dead-letter each one.
type UninstalledError struct {
	Location string
	Since    time.Time
}

// Error names the location and the way back.
func (e *UninstalledError) Error() string {
	return fmt.Sprintf("creds: location %s was uninstalled in HighLevel (since %s); install the app again to connect it",
		e.Location, e.Since.UTC().Format(time.RFC3339))
}

// Dropped reports that a message for the location is acknowledged
// unhandled.
func (e *UninstalledError) Dropped() bool { return true }

// ConnectAgency keeps the agency (Company) token agency, sealed under its
// company id in the tokens bucket and refreshed like a location's, and
// connects every location of the agency where the app is installed
// (SyncAgency). c is a client for HighLevel's API; its own token source is
// not used. Locations that fail are reported in the joined error; the
// others are stored and returned.
func (s *Store) ConnectAgency(ctx context.Context, c *ghl.Client, agency Token) ([]Location, error) {
	switch {
	case agency.AccessToken == "":
		return nil, errors.New("creds: empty agency access token")
	case !ids.ValidHighLevel(agency.CompanyID):
		return nil, fmt.Errorf("creds: the agency token names no usable company (%q)", agency.CompanyID)
	case agency.ClientID == "":
		return nil, errors.New("creds: the agency token names no app (client id)")
	}
	agency.UserType = ghl.UserTypeCompany
	if agency.ObtainedAt.IsZero() {
		agency.ObtainedAt = s.now().UTC()
	}
	if err := s.PutToken(ctx, agency.CompanyID, agency); err != nil {
		return nil, fmt.Errorf("store the agency token: %w", err)
	}
	return s.SyncAgency(ctx, c, agency.CompanyID)
}

// Agency reports whether company's agency token is kept (ConnectAgency).
// It opens nothing.
func (d *Directory) Agency(ctx context.Context, company string) (bool, error) {
	rec, _, err := d.readSealed(ctx, company)
	switch {
	case errors.Is(err, ErrNoToken), errors.Is(err, ErrInvalidLocation):
		return false, nil
	case err != nil:
		return false, err
	}
	return rec.Meta != nil && rec.Meta.Company, nil
}

// Agencies returns the companies whose agency token is kept, ordered. It
// reads every token record's clear metadata and opens nothing.
func (d *Directory) Agencies(ctx context.Context) ([]string, error) {
	keys, err := revision.Keys(ctx, d.tokens)
	if err != nil {
		return nil, fmt.Errorf("list token records: %w", err)
	}
	var out []string
	for _, k := range keys {
		rec, _, err := d.readSealed(ctx, k)
		switch {
		case errors.Is(err, ErrNoToken), errors.Is(err, ErrInvalidLocation):
			continue // deleted meanwhile, or not a record of ours
		case err != nil:
			return nil, err
		}
		if rec.Meta != nil && rec.Meta.Company {
			out = append(out, k)
		}
	}
	return out, nil
}

// agencyClient returns company's agency token as stored and a client that
// uses it, refreshed under the lease like a location's.
func (s *Store) agencyClient(ctx context.Context, c *ghl.Client, company string) (Token, *ghl.Client, error) {
	ok, err := s.Agency(ctx, company)
	if err != nil {
		return Token{}, nil, err
	}
	if !ok {
		return Token{}, nil, fmt.Errorf("%w: %s", ErrNoAgency, company)
	}
	tok, err := s.Token(ctx, company)
	if err != nil {
		return Token{}, nil, err
	}
	return tok, c.ForLocation("", s.TokenSource(company)), nil
}

// SyncAgency connects every location of company where the app is
// installed (GET /oauth/installedLocations) that is not connected yet, or
// was uninstalled or needs re-authorisation, with a location token traded
// for the kept agency token (POST /oauth/locationToken). It returns the
// locations it connected; those connected and active (with an OAuth token
// or a Private Integration Token) are left alone.
func (s *Store) SyncAgency(ctx context.Context, c *ghl.Client, company string) ([]Location, error) {
	agency, ac, err := s.agencyClient(ctx, c, company)
	if err != nil {
		return nil, err
	}
	installed, err := ac.InstalledLocations(ctx, company, AppID(agency.ClientID))
	if err != nil {
		return nil, fmt.Errorf("list the agency's installed locations: %w", err)
	}
	var (
		out  []Location
		errs []error
	)
	for _, il := range installed {
		if cur, err := s.Location(ctx, il.ID); err == nil && cur.State == StateActive {
			if _, _, err := s.readSealed(ctx, il.ID); err == nil {
				continue // connected already
			}
		}
		l, err := s.connectFromAgency(ctx, ac, agency, il.ID, il.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, l)
	}
	return out, errors.Join(errs...)
}

// ConnectInstalled connects loc, a location of company where the app was
// just installed (an INSTALL webhook), with a location token traded for
// the kept agency token. Its name and time zone are learned later
// (LearnDetails). Without an agency token it fails with ErrNoAgency.
func (s *Store) ConnectInstalled(ctx context.Context, c *ghl.Client, company, loc string) (Location, error) {
	agency, ac, err := s.agencyClient(ctx, c, company)
	if err != nil {
		return Location{}, err
	}
	return s.connectFromAgency(ctx, ac, agency, loc, "")
}

// connectFromAgency trades the agency token for loc's and stores it.
func (s *Store) connectFromAgency(ctx context.Context, ac *ghl.Client, agency Token, loc, name string) (Location, error) {
	if !ids.ValidHighLevel(loc) {
		return Location{}, fmt.Errorf("%w: %q", ErrInvalidLocation, loc)
	}
	issued := s.now()
	lt, err := ac.LocationToken(ctx, agency.CompanyID, loc)
	if err != nil {
		return Location{}, fmt.Errorf("location token for %s: %w", loc, err)
	}
	tok := TokenFromGHL(lt, agency.ClientID, issued)
	tok.UserType, tok.CompanyID = ghl.UserTypeLocation, agency.CompanyID
	if tok.Scope == "" {
		tok.Scope = agency.Scope
	}
	l := Location{ID: loc, CompanyID: agency.CompanyID}
	if name != "" {
		l.Name, l.NameFrom = name, SourceHighLevel
	}
	if err := s.AddOAuth(ctx, l, tok); err != nil {
		return Location{}, err
	}
	return s.Location(ctx, loc)
}

// AwaitCallback records loc, installed in HighLevel on its own (a
// location-level INSTALL webhook), as connecting until its OAuth callback
// arrives: the webhook may come first. A location already connected is
// left alone.
func (s *Store) AwaitCallback(ctx context.Context, company, loc string) error {
	if !ids.ValidHighLevel(loc) {
		return fmt.Errorf("%w: %q", ErrInvalidLocation, loc)
	}
	now := s.now().UTC()
	const reason = "installed in HighLevel; waiting for its OAuth callback"
	l := Location{ID: loc, CompanyID: company, Auth: AuthOAuth, State: StateConnecting, Reason: reason, AddedAt: now, StateSince: now}
	err := s.createLocation(ctx, l)
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return err
	}
	_, _, err = s.updateLocation(ctx, loc, func(cur *Location) bool {
		if cur.State != StateUninstalled {
			return false
		}
		cur.State, cur.Reason, cur.StateSince = StateConnecting, reason, now
		return true
	})
	return err
}

// Uninstall disconnects what an UNINSTALL webhook names: loc, or, when
// loc is empty, the agency company and every location of it connected
// with OAuth (a Private Integration Token is not the app's to revoke). Tokens are
// deleted (HighLevel has revoked them) and each location is marked
// StateUninstalled, with a LocationStateChanged.
func (s *Store) Uninstall(ctx context.Context, company, loc string) ([]string, error) {
	if loc != "" {
		return []string{loc}, s.uninstall(ctx, loc)
	}
	if !ids.ValidHighLevel(company) {
		return nil, fmt.Errorf("%w: company %q", ErrInvalidLocation, company)
	}
	if err := s.tokens.Delete(ctx, company); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("delete the agency token of %s: %w", company, err)
	}
	locs, err := s.Locations(ctx)
	if err != nil {
		return nil, err
	}
	var (
		out  []string
		errs []error
	)
	for _, l := range locs {
		if l.CompanyID != company || l.Auth == AuthPIT {
			continue // a Private Integration Token is not the app's
		}
		out = append(out, l.ID)
		errs = append(errs, s.uninstall(ctx, l.ID))
	}
	return out, errors.Join(errs...)
}

func (s *Store) uninstall(ctx context.Context, loc string) error {
	if !ids.ValidHighLevel(loc) {
		return fmt.Errorf("%w: %q", ErrInvalidLocation, loc)
	}
	if err := s.tokens.Delete(ctx, loc); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete the token of %s: %w", loc, err)
	}
	if _, err := s.Location(ctx, loc); errors.Is(err, ErrUnknownLocation) {
		return nil // never connected: nothing to mark
	}
	s.setState(ctx, loc, StateUninstalled, "uninstalled in HighLevel")
	return nil
}

// createLocation writes l when loc has no record; jetstream.ErrKeyExists
// when it has one.
func (s *Store) createLocation(ctx context.Context, l Location) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode location %s: %w", l.ID, err)
	}
	if _, err := s.locations.Create(ctx, l.ID, b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return err
		}
		return fmt.Errorf("store location %s: %w", l.ID, err)
	}
	return nil
}
