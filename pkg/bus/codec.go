package bus

import (
	"fmt"
	"mime"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const (
	// ContentTypeProtobuf is the Content-Type the Publisher sets. A message
	// without Content-Type is read as protobuf too.
	ContentTypeProtobuf = "application/protobuf"
	// ContentTypeJSON marks a protojson payload, so that anyone can publish
	// with `nats pub -H Content-Type:application/json`.
	ContentTypeJSON = "application/json"

	// DefaultMaxMessageBytes is the largest payload a consumer accepts and
	// a stream stores, unless configured otherwise: 1 MiB, the default
	// max_payload of a NATS server.
	DefaultMaxMessageBytes = 1 << 20

	// locationField is the field every message contract names its
	// location by.
	locationField protoreflect.Name = "location_id"
	// eventIDField is the field a source's idempotency key travels in.
	eventIDField protoreflect.Name = "event_id"
)

// Marshal encodes m as deterministic protobuf, so that equal messages have
// equal bytes (and equal derived message ids).
func Marshal(m proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("bus: marshal %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return b, nil
}

// Unmarshal decodes data into m: protojson when the header Content-Type is
// application/json (in any case, parameters ignored), protobuf when it is
// application/protobuf, application/x-protobuf or absent. Unknown JSON
// fields are ignored, as protobuf ignores unknown fields. Every failure
// matches ErrUndecodable.
func Unmarshal(h nats.Header, data []byte, m proto.Message) error {
	ct := lookup(h, HeaderContentType)
	kind := ContentTypeProtobuf
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return fmt.Errorf("%w: content type %q", ErrUndecodable, truncate(ct, 64))
		}
		switch mt {
		case ContentTypeJSON:
			kind = ContentTypeJSON
		case ContentTypeProtobuf, "application/x-protobuf", "application/vnd.google.protobuf":
		default:
			return fmt.Errorf("%w: unsupported content type %q", ErrUndecodable, truncate(mt, 64))
		}
	}
	name := m.ProtoReflect().Descriptor().FullName()
	var err error
	if kind == ContentTypeJSON {
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, m)
	} else {
		err = proto.Unmarshal(data, m)
	}
	if err != nil {
		return fmt.Errorf("%w: %s as %s: %v", ErrUndecodable, name, kind, err)
	}
	return nil
}

// Decode reads a consumed message into m and returns its location: the
// subject must belong to a Family and name a valid location, the payload
// must decode (see Unmarshal), and a location_id field in m must equal the
// subject's location. Every such failure matches ErrBadInput, so a handler
// that returns it has the message dead-lettered. A message of a schema
// newer than this release reads (HeaderSchema) fails with ErrNewerSchema,
// deferred: a replica of the newer release takes it.
func Decode(msg jetstream.Msg, m proto.Message) (string, error) {
	_, loc, err := ParseSubject(msg.Subject())
	if err != nil {
		return "", err
	}
	if _, err := MessageSchema(msg.Headers()); err != nil {
		return "", err
	}
	if err := Unmarshal(msg.Headers(), msg.Data(), m); err != nil {
		return "", err
	}
	if err := checkLocation(m, loc); err != nil {
		return "", err
	}
	return loc, nil
}

// LocationOf returns m's location_id, and false when m has no such field.
func LocationOf(m proto.Message) (string, bool) {
	return stringField(m, locationField)
}

// checkLocation fails with ErrLocationMismatch when m has a location_id
// that is not loc.
func checkLocation(m proto.Message, loc string) error {
	got, ok := LocationOf(m)
	if ok && got != loc {
		return fmt.Errorf("%w: subject %q, payload %q", ErrLocationMismatch, loc, truncate(got, maxLocationIDLen))
	}
	return nil
}

// stringField returns the singular string field name of m.
func stringField(m proto.Message, name protoreflect.Name) (string, bool) {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName(name)
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated {
		return "", false
	}
	return r.Get(fd).String(), true
}
