package sources

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/ids"
)

// Binding is what a webhook source may speak for: the locations it names,
// and every location of the companies it names. A source without a
// binding speaks for nothing (the gateway refuses its events), except the
// legacy "default" source of SOCIALSYNC_WEBHOOK_SECRET.
type Binding struct {
	// Source is the source's name, as it names itself in a webhook
	// request (X-Socialsync-Source).
	Source string `json:"source"`
	// Locations are HighLevel location ids, sorted, without repeats.
	Locations []string `json:"locations,omitempty"`
	// Companies are HighLevel company (agency) ids, sorted, without
	// repeats: the source speaks for every location whose record names
	// one of them (creds.Location.CompanyID), present and future.
	Companies []string `json:"companies,omitempty"`
	// UpdatedAt is when the binding was last written.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// NamesLocation reports whether b names location loc itself.
func (b Binding) NamesLocation(loc string) bool {
	_, ok := slices.BinarySearch(b.Locations, loc)
	return ok
}

// Allows reports whether b lets its source speak for location loc of
// company company ("" when the location's company is unknown).
func (b Binding) Allows(loc, company string) bool {
	if b.NamesLocation(loc) {
		return true
	}
	_, ok := slices.BinarySearch(b.Companies, company)
	return ok && company != ""
}

// Add adds locations and companies to b.
func (b *Binding) Add(locations, companies []string) {
	b.Locations = normal(append(b.Locations, locations...))
	b.Companies = normal(append(b.Companies, companies...))
}

// Remove removes locations and companies from b.
func (b *Binding) Remove(locations, companies []string) {
	b.Locations = slices.DeleteFunc(b.Locations, func(s string) bool { return slices.Contains(locations, s) })
	b.Companies = slices.DeleteFunc(b.Companies, func(s string) bool { return slices.Contains(companies, s) })
}

// Validate checks b's names and ids; its error wraps ErrInvalid and
// names the field.
func (b Binding) Validate() error {
	var errs []error
	if err := ids.CheckSource("source", b.Source); err != nil {
		errs = append(errs, err)
	}
	for i, l := range b.Locations {
		if err := ids.CheckHighLevel(fmt.Sprintf("locations[%d]", i), l); err != nil {
			errs = append(errs, err)
		}
	}
	for i, c := range b.Companies {
		if err := ids.CheckHighLevel(fmt.Sprintf("companies[%d]", i), c); err != nil {
			errs = append(errs, err)
		}
	}
	if len(b.Locations) == 0 && len(b.Companies) == 0 {
		errs = append(errs, errors.New("a binding names at least one location or company (to bind nothing, remove the source)"))
	}
	if len(b.Locations) > MaxEntries || len(b.Companies) > MaxEntries {
		errs = append(errs, fmt.Errorf("a binding names at most %d locations and %d companies", MaxEntries, MaxEntries))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// MaxEntries bounds the locations, and the companies, of one binding: a
// source speaking for more is bound to their companies.
const MaxEntries = 1000

// normal returns s sorted, without repeats or empty strings.
func normal(s []string) []string {
	s = slices.DeleteFunc(s, func(x string) bool { return x == "" })
	slices.Sort(s)
	return slices.Compact(s)
}
