package bus

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// PublishTo publishes m to family's subject of the location m names in its
// location_id, as `socialsync trigger` and the gateway's trigger endpoints
// do. It returns the subject with the acknowledgement. A message without a
// valid location_id fails with ErrInvalidLocation and sends nothing.
func (p *Publisher) PublishTo(ctx context.Context, family Family, m proto.Message, opts ...PublishOption) (string, *jetstream.PubAck, error) {
	loc, _ := LocationOf(m)
	subject, err := family.Subject(loc)
	if err != nil {
		return "", nil, err
	}
	ack, err := p.Publish(ctx, subject, m, opts...)
	return subject, ack, err
}
