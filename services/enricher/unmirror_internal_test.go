package enricher

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// carryingClient answers the contact search with carriers contacts and
// records the location tags deleted.
type carryingClient struct {
	Client
	carriers int
	deleted  []string
}

func (c *carryingClient) SearchContacts(context.Context, ghl.SearchContactsRequest) (ghl.SearchContactsResponse, error) {
	return ghl.SearchContactsResponse{Total: c.carriers}, nil
}

func (c *carryingClient) DeleteLocationTag(_ context.Context, _, id string) error {
	c.deleted = append(c.deleted, id)
	return nil
}

// A location tag the enricher created that contacts still carry is not
// deleted: the event waits for contactsync to take it off them, and once
// UnmirrorWait has passed since the change, the tag is left to them and
// forgotten.
func TestUnmirrorWaitsForCarriers(t *testing.T) {
	rel := newRecords()
	w := newTestWorker(t, newRecords(), rel)
	w.cfg.MirrorLocationTags = true
	client := &carryingClient{carriers: 1}
	w.deps.Client = func(string) Client { return client }
	key := relations.MirroredTagsKey("loc1", "tagA")
	data, _ := relations.MirroredTags{Created: map[string]string{"social:alpha": "lt1"}}.Marshal()
	rel.set(key, data)
	ev := &socialsyncv1.TagChanged{LocationId: "loc1", TagId: "tagA", TagName: "Alpha", Change: socialsyncv1.Change_CHANGE_DELETED, Timestamp: timestamppb.New(t0)}

	err := w.applyTagEvent(context.Background(), "loc1", ev)
	var d interface{ DeferFor() time.Duration }
	if !errors.As(err, &d) || len(client.deleted) != 0 || rel.data[key] == nil {
		t.Fatalf("carried: %v, deleted %v, record %s; want a deferral, nothing deleted, the record kept", err, client.deleted, rel.data[key])
	}
	w.now = func() time.Time { return t0.Add(UnmirrorWait) }
	if err := w.applyTagEvent(context.Background(), "loc1", ev); err != nil || len(client.deleted) != 0 || rel.data[key] != nil {
		t.Fatalf("carried past the wait: %v, deleted %v, record %s; want the tag left and forgotten", err, client.deleted, rel.data[key])
	}
}
