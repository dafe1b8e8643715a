package fetcher

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/services/fetcher/catalogue"
)

// Deps are what the fetcher uses, each as narrow as its use. A process
// gives it the fleet's publisher, credential store and HighLevel client,
// and the stores of OpenStores; a handler test gives it fakes.
type Deps struct {
	Publisher Publisher
	Locations Locations
	// Client returns the HighLevel client of a location.
	Client     func(loc string) Client
	Catalogues Catalogues
	Cursors    Cursors
	Refreshes  Refreshes
	Log        *slog.Logger
}

// Publisher publishes an event or trigger (bus.Publisher).
type Publisher interface {
	Publish(ctx context.Context, subject string, m proto.Message, opts ...bus.PublishOption) (*jetstream.PubAck, error)
}

// Locations lists the registered locations, for the posts poller
// (creds.Store).
type Locations interface {
	Locations(ctx context.Context) ([]creds.Location, error)
}

// Client is what the fetcher asks HighLevel for one location (ghl.Client).
type Client interface {
	AllSocialTags(ctx context.Context, loc string) ([]ghl.SocialTag, error)
	ListPosts(ctx context.Context, loc string, req ghl.ListPostsRequest) (ghl.PostsResults, error)
}

// Catalogues hold each location's tag catalogue under a revision.
type Catalogues interface {
	// Load returns loc's catalogue and its revision; the zero catalogue
	// and revision 0 when none is stored. An unreadable one is the zero
	// catalogue at its revision, to be replaced.
	Load(ctx context.Context, loc string) (relations.Catalogue, uint64, error)
	// Store writes c as loc's catalogue if its revision is still rev
	// (absent when 0); otherwise it fails with an error matching
	// revision.ErrConflict.
	Store(ctx context.Context, loc string, c relations.Catalogue, rev uint64) error
}

// Cursors hold each location's posts poll cursor under a revision.
type Cursors interface {
	// Load returns loc's cursor and its revision (0: none).
	Load(ctx context.Context, loc string) (catalogue.PollCursor, uint64, error)
	// Store writes c if loc's cursor is still at rev and returns the new
	// revision; an error matching revision.ErrConflict when it is not.
	Store(ctx context.Context, loc string, c catalogue.PollCursor, rev uint64) (uint64, error)
}

// Refreshes tell which refresh of a location is the pending one
// (SOCIALSYNC_REFRESH keeps one per subject).
type Refreshes interface {
	// Last returns the stream sequence of the last refresh on subject;
	// false when there is none.
	Last(ctx context.Context, subject string) (uint64, bool, error)
}
