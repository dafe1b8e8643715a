package creds

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
)

// AppID returns the Marketplace app id of a client id: the part before the
// dash ("<24 hex>-<8 chars>"), as HighLevel's Node SDK derives it.
func AppID(clientID string) string {
	id, _, _ := strings.Cut(clientID, "-")
	return id
}

// ConnectAgency connects every location of an agency where the app is
// installed: with the agency (Company) token agency, it lists the
// installed locations (GET /oauth/installedLocations) and trades the
// agency token for a location token for each (POST /oauth/locationToken),
// stored as an OAuth location. c is a client for HighLevel's API; its own
// token source is not used. Locations that fail are reported in the joined
// error; the others are stored and returned. The agency token itself is
// not stored.
func (s *Store) ConnectAgency(ctx context.Context, c *ghl.Client, agency Token) ([]Location, error) {
	switch {
	case agency.AccessToken == "":
		return nil, errors.New("creds: empty agency access token")
	case agency.CompanyID == "":
		return nil, errors.New("creds: the agency token names no company")
	case agency.ClientID == "":
		return nil, errors.New("creds: the agency token names no app (client id)")
	}
	ac := c.ForLocation("", oauth2.StaticTokenSource(&oauth2.Token{AccessToken: agency.AccessToken, TokenType: "Bearer"}))
	installed, err := ac.InstalledLocations(ctx, agency.CompanyID, AppID(agency.ClientID))
	if err != nil {
		return nil, fmt.Errorf("list the agency's installed locations: %w", err)
	}
	var (
		out  []Location
		errs []error
	)
	for _, il := range installed {
		if !ids.ValidHighLevel(il.ID) {
			errs = append(errs, fmt.Errorf("%w: %q", ErrInvalidLocation, il.ID))
			continue
		}
		issued := s.now()
		lt, err := ac.LocationToken(ctx, agency.CompanyID, il.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("location token for %s: %w", il.ID, err))
			continue
		}
		tok := TokenFromGHL(lt, agency.ClientID, issued)
		tok.UserType, tok.CompanyID = ghl.UserTypeLocation, agency.CompanyID
		if tok.Scope == "" {
			tok.Scope = agency.Scope
		}
		// The name is HighLevel's; the time zone is learned later
		// (LearnDetails).
		loc := Location{ID: il.ID, Name: il.Name, NameFrom: SourceHighLevel}
		if err := s.AddOAuth(ctx, loc, tok); err != nil {
			errs = append(errs, err)
			continue
		}
		stored, err := s.Location(ctx, il.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, stored)
	}
	return out, errors.Join(errs...)
}
