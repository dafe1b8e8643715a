package creds

import (
	"context"
	"slices"
	"time"
)

// Feature is an optional part of the pipeline: a location whose token
// lacks one of its scopes runs without it instead of needing
// re-authorisation. Social Planner reads and contact tag writes are not
// optional: without them there is nothing to sync.
type Feature string

// The optional features.
const (
	// FeatureLocationTags is the enricher's mirroring of Social Planner
	// tags into the location's contact tag catalogue (scopes
	// locations/tags.readonly and locations/tags.write). Without it the
	// tag details are still stored and announced; HighLevel adds a tag to
	// the catalogue when a contact first gets it.
	FeatureLocationTags Feature = "location_tags"
	// FeatureCustomValues is the stats worker's writing of recommendations
	// and mapped statistics into the location's custom values (scopes
	// locations/customValues.readonly and locations/customValues.write).
	// Without it reports and RecommendationsUpdated are still produced.
	FeatureCustomValues Feature = "custom_values"
	// FeatureLocationDetails is the reading of the location's name and
	// time zone from HighLevel (scope locations.readonly, see
	// Store.LearnDetails). Without it the location keeps the operator's
	// values, or UTC.
	FeatureLocationDetails Feature = "location_details"
)

// Features lists the optional features.
func Features() []Feature {
	return []Feature{FeatureLocationTags, FeatureCustomValues, FeatureLocationDetails}
}

// Scopes returns the scopes f needs.
func (f Feature) Scopes() []string {
	switch f {
	case FeatureLocationTags:
		return []string{"locations/tags.readonly", "locations/tags.write"}
	case FeatureCustomValues:
		return []string{"locations/customValues.readonly", "locations/customValues.write"}
	case FeatureLocationDetails:
		return []string{"locations.readonly"}
	}
	return nil
}

// FeatureOf returns the optional feature that needs scope, if any.
func FeatureOf(scope string) (Feature, bool) {
	for _, f := range Features() {
		if slices.Contains(f.Scopes(), scope) {
			return f, true
		}
	}
	return "", false
}

// DisabledFeature records an optional feature turned off for a location
// because HighLevel refused its token a scope.
type DisabledFeature struct {
	Feature Feature `json:"feature"`
	// Scope is the scope HighLevel refused.
	Scope string    `json:"scope"`
	Since time.Time `json:"since"`
}

// FeatureDisabled reports whether f is turned off for l, and the record.
func (l Location) FeatureDisabled(f Feature) (DisabledFeature, bool) {
	i := slices.IndexFunc(l.Disabled, func(d DisabledFeature) bool { return d.Feature == f })
	if i < 0 {
		return DisabledFeature{}, false
	}
	return l.Disabled[i], true
}

// DisableFeature turns f off for loc because HighLevel refused the scope
// to its token. It changes nothing when f is off already. Connecting the
// location again (AddOAuth, AddPIT) turns every feature back on, to be
// turned off again if the new token still lacks the scope.
func (s *Store) DisableFeature(ctx context.Context, loc string, f Feature, scope string) error {
	_, changed, err := s.updateLocation(ctx, loc, func(l *Location) bool {
		if _, off := l.FeatureDisabled(f); off {
			return false
		}
		l.Disabled = append(l.Disabled, DisabledFeature{Feature: f, Scope: scope, Since: s.now().UTC()})
		return true
	})
	if changed {
		s.opts.log.Warn("optional feature disabled: the token lacks its scope", "location", loc, "feature", string(f), "scope", scope)
	}
	return err
}
