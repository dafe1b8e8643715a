package creds

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Source says who set a location's name or time zone.
type Source string

// The sources of a location's name and time zone.
const (
	// SourceOperator is a value given when the location was added or
	// connected (`--name`, `--timezone`): HighLevel's never replaces it.
	SourceOperator Source = "operator"
	// SourceHighLevel is a value read from HighLevel (LearnDetails).
	SourceHighLevel Source = "highlevel"
	// SourceDefault is no value: no name, and UTC for the time zone.
	SourceDefault Source = "default"
)

// NameSource says where l's name came from. A name stored before the
// source was kept is the operator's.
func (l Location) NameSource() Source { return sourceOf(l.Name, l.NameFrom) }

// TimezoneSource says where l's time zone came from. A time zone stored
// before the source was kept is the operator's (nothing else set one).
func (l Location) TimezoneSource() Source { return sourceOf(l.Timezone, l.TimezoneFrom) }

func sourceOf(value string, from Source) Source {
	switch {
	case value == "":
		return SourceDefault
	case from == "":
		return SourceOperator
	}
	return from
}

// NeedsDetails reports whether LearnDetails would ask HighLevel anything
// for l: it is active, has not been asked since it was connected, lacks
// an operator's name or time zone, and its token was not refused
// locations.readonly.
func (l Location) NeedsDetails() bool {
	if _, off := l.FeatureDisabled(FeatureLocationDetails); off {
		return false
	}
	return l.State == StateActive && l.LearnedAt.IsZero() &&
		(l.NameSource() != SourceOperator || l.TimezoneSource() != SourceOperator)
}

// LocationReader reads a location's details from HighLevel (ghl.Client,
// with the location's token).
type LocationReader interface {
	Location(ctx context.Context, loc string) (ghl.LocationDetails, error)
}

// LearnDetails asks HighLevel (GET /locations/{locationId}, through c)
// for loc's name and time zone, when loc NeedsDetails, and stores those
// the operator did not set, and when it asked. A token without
// locations.readonly turns FeatureLocationDetails off and is no error:
// the location keeps its values (UTC when it has no time zone) until it
// is connected again. A time zone HighLevel gives that is not an IANA
// name is not stored. It returns the location as stored.
func (s *Store) LearnDetails(ctx context.Context, loc string, c LocationReader) (Location, error) {
	l, err := s.Location(ctx, loc)
	if err != nil || !l.NeedsDetails() {
		return l, err
	}
	d, err := c.Location(ctx, loc)
	var se *ghl.ScopeError
	if errors.As(err, &se) {
		scope := se.MissingScope()
		if scope == "" {
			scope = FeatureLocationDetails.Scopes()[0]
		}
		if err := s.DisableFeature(ctx, loc, FeatureLocationDetails, scope); err != nil {
			return l, err
		}
		return s.Location(ctx, loc)
	}
	if err != nil {
		return l, fmt.Errorf("read location %s from HighLevel: %w", loc, err)
	}
	if d.Timezone != "" && !ianaZone(d.Timezone) {
		s.opts.log.Warn("HighLevel's time zone of the location is not an IANA name; not used", "location", loc, "time_zone", d.Timezone)
		d.Timezone = ""
	}
	now := s.now().UTC()
	_, _, err = s.updateLocation(ctx, loc, func(l *Location) bool {
		if !l.NeedsDetails() {
			return false // learned meanwhile, or reconnected with other values
		}
		if l.NameSource() != SourceOperator && d.Name != "" {
			l.Name, l.NameFrom = d.Name, SourceHighLevel
		}
		if l.TimezoneSource() != SourceOperator && d.Timezone != "" {
			l.Timezone, l.TimezoneFrom = d.Timezone, SourceHighLevel
		}
		l.LearnedAt = now
		return true
	})
	if err != nil {
		return l, err
	}
	return s.Location(ctx, loc)
}

// ianaZone reports whether name is an IANA time zone the process knows.
func ianaZone(name string) bool {
	if name == "Local" {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}
