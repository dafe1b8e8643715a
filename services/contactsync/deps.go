package contactsync

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/settings"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync/reconcile"
)

// Deps are what contactsync uses, each as narrow as its use. A process
// gives it the fleet's publisher, rate governor and HighLevel client, and
// the stores of OpenStores; a handler test gives it fakes.
type Deps struct {
	Publisher Publisher
	Pacer     Pacer
	// Client returns the HighLevel client of a location.
	Client     func(loc string) Client
	Catalogues Catalogues
	Details    Details
	Relations  Relations
	// ContactRefs caches the contacts of contact references
	// (socialsync_contact_refs), under the same revision checks.
	ContactRefs Relations
	Mappings    Mappings
	// States lists a location's contact states, for reconciliation.
	States States
	// Locations lists the registered locations for the reconciliation
	// schedules; nil: no schedule runs in this process.
	Locations Locations
	// Budget is the locations' request budget, for reconciliation's
	// estimate; zero fields mean HighLevel's documented limits.
	Budget reconcile.Budget
	// DeadLetters stores the items of a message given up on; only the
	// edge uses it.
	DeadLetters DeadLetters
	// Purge removes every revision of a key, delete marker included,
	// when a contact is erased (forget.go), so that not even a delete
	// marker names it.
	Purge func(ctx context.Context, bucket, key string) error
	// Meter counts the skipped tags; nil: they are not counted.
	Meter metric.MeterProvider
	Log   *slog.Logger
}

// Publisher publishes an event or trigger (bus.Publisher).
type Publisher interface {
	Publish(ctx context.Context, subject string, m proto.Message, opts ...bus.PublishOption) (*jetstream.PubAck, error)
}

// Pacer tells whether a location's HighLevel calls of a lane must wait
// (ratelimit.Governor): an error defers the message. A handler asks for
// the lane of its route (ghl.LaneOf its context).
type Pacer interface {
	CheckLane(loc string, lane ghl.Lane) error
	// PeekLane is CheckLane with nothing promised: for a post trigger
	// that may stay to have its writes merged (merge.go).
	PeekLane(loc string, lane ghl.Lane) error
}

// Client is what contactsync asks HighLevel for one location (ghl.Client):
// contact tag writes, contact custom fields, and finding or creating the
// contacts of contact references (refs.go).
type Client interface {
	contacttags.Tagger
	ContactCustomFields(ctx context.Context, loc string) ([]ghl.CustomFieldDef, error)
	SetContactCustomFields(ctx context.Context, contact string, fields []ghl.CustomFieldInput) (ghl.Contact, error)
	DuplicateContact(ctx context.Context, loc, email, phone string) (ghl.Contact, bool, error)
	SearchContacts(ctx context.Context, req ghl.SearchContactsRequest) (ghl.SearchContactsResponse, error)
	UpsertContact(ctx context.Context, req ghl.UpsertContactRequest) (ghl.UpsertContactResponse, error)
}

// Catalogues are the locations' tag catalogues, which the fetcher keeps.
type Catalogues interface {
	// Catalogue returns loc's catalogue; the zero catalogue when none is
	// stored yet.
	Catalogue(ctx context.Context, loc string) (relations.Catalogue, error)
	// AwaitCatalogue reports whether loc's catalogue, the one stored or
	// one stored before ctx ends, was fetched after after; it waits for
	// one (without polling) until ctx ends.
	AwaitCatalogue(ctx context.Context, loc string, after time.Time) (bool, error)
}

// Details are the tag details the enricher keeps.
type Details interface {
	// Detail returns the details of tag; nil when none are stored or they
	// cannot be read.
	Detail(ctx context.Context, loc, tag string) (*socialsyncv1.TagDetail, error)
}

// Relations hold contactsync's JSON values (contact states, post
// contacts, removal records) under revisions (pkg/relations/revision on
// socialsync_relations).
type Relations interface {
	// Load reads the value at key into v and returns its revision; 0
	// (and v untouched) when there is none.
	Load(ctx context.Context, key string, v any) (uint64, error)
	// Save writes v at key if its revision is still rev (absent when 0)
	// and returns the new revision; an error matching
	// revision.ErrConflict when it is not.
	Save(ctx context.Context, key string, v any, rev uint64) (uint64, error)
	// Delete deletes key if its revision is still rev.
	Delete(ctx context.Context, key string, rev uint64) error
}

// Mappings are the locations' mappings (settings.Mapping in
// socialsync_settings).
type Mappings interface {
	// Mapping returns loc's mapping; false when it has none, an error
	// matching settings.ErrInvalid when it cannot be read.
	Mapping(ctx context.Context, loc string) (settings.Mapping, bool, error)
	// Mapped returns the locations that have a mapping, from one listing
	// of the keys.
	Mapped(ctx context.Context) ([]string, error)
	// ContactTagNaming tells how loc's contact tags are named: by its
	// mapping, else by fallback (settings.ContactTagNaming).
	ContactTagNaming(ctx context.Context, loc string, fallback func(string) string, log *slog.Logger) (func(string) string, error)
}

// States lists contactsync's contact states (socialsync_relations).
type States interface {
	// ContactStates returns every contact state of loc, each with when it
	// was written.
	ContactStates(ctx context.Context, loc string) ([]reconcile.Contact, error)
}

// DeadLetters dead-letters one item of a message (bus.DeadLetterItem)
// and returns the dead letter's subject.
type DeadLetters interface {
	DeadLetterItem(ctx context.Context, worker string, msg jetstream.Msg, item string, class bus.Class, reason string) (string, error)
}
