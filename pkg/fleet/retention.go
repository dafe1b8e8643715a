package fleet

import (
	"errors"
	"fmt"
	"time"

	"github.com/socialsync/socialsync/pkg/topology"
)

// Retention is how long each kind of data that may be personal is kept
// (docs/personal-data.md). Config holds it under SOCIALSYNC_RETENTION_
// (SOCIALSYNC_RETENTION_CONTACT_REFS); read it alone with
// envconfig.Process(RetentionPrefix, &r). Like the storage limits, it
// shapes the topology: give every process, and `socialsync topology
// apply`, the same values.
type Retention struct {
	ContactRefs time.Duration `envconfig:"CONTACT_REFS" default:"720h" desc:"how long an answer to an email, phone number or external id (its HighLevel contact) is cached in socialsync_contact_refs; at least 1h"`
	DeadLetters time.Duration `envconfig:"DEAD_LETTERS" default:"336h" desc:"how long a dead letter (it keeps the original event, which may carry emails and phone numbers) stays in SOCIALSYNC_DLQ; at least 24h"`
	Events      time.Duration `envconfig:"EVENTS" default:"720h" desc:"how long SOCIALSYNC_EVENTS keeps an event (contact tag changes carry contact ids); longer than SOCIALSYNC_RETRY_HORIZON"`
}

// RetentionPrefix is the envconfig prefix of Retention read alone.
const RetentionPrefix = "socialsync_retention"

// Smallest retentions accepted.
const (
	// minContactRefs keeps an answer long enough for a burst of events
	// naming the same person, and longer than a pending creation.
	minContactRefs = time.Hour
	// minDeadLetters leaves an operator a day to look at a dead letter.
	minDeadLetters = 24 * time.Hour
)

// DefaultRetention is Retention with its struct tags' defaults.
func DefaultRetention() Retention {
	return Retention{ContactRefs: topology.ContactRefsTTL, DeadLetters: topology.DeadLettersMaxAge, Events: topology.EventsMaxAge}
}

// Validate names the variable of a retention that cannot be used; horizon
// is SOCIALSYNC_RETRY_HORIZON (0: not checked), which an event must
// outlive. Zero stands for the default (a Config built in code).
func (r Retention) Validate(horizon time.Duration) error {
	var errs []error
	if r.ContactRefs != 0 && r.ContactRefs < minContactRefs {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_RETENTION_CONTACT_REFS: want at least %v, got %v", ErrConfig, minContactRefs, r.ContactRefs))
	}
	if r.DeadLetters != 0 && r.DeadLetters < minDeadLetters {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_RETENTION_DEAD_LETTERS: want at least %v, got %v", ErrConfig, minDeadLetters, r.DeadLetters))
	}
	if r.Events < 0 || r.Events != 0 && horizon > 0 && r.Events <= horizon {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_RETENTION_EVENTS: want longer than SOCIALSYNC_RETRY_HORIZON (%v), got %v", ErrConfig, horizon, r.Events))
	}
	return errors.Join(errs...)
}

// Apply sets these retentions in opts.
func (r Retention) Apply(opts *topology.Options) {
	opts.ContactRefsTTL, opts.DeadLettersMaxAge, opts.EventsMaxAge = r.ContactRefs, r.DeadLetters, r.Events
}
