package bus_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socialsync/socialsync/pkg/bus"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

func TestUnmarshal(t *testing.T) {
	t.Parallel()
	want := &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1", TagIds: []string{"t1", "t2"}, Change: socialsyncv1.Change_CHANGE_UPDATED}
	pb, err := bus.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	js := []byte(`{"locationId":"loc1","postId":"p1","tagIds":["t1","t2"],"change":"CHANGE_UPDATED","unknownField":1}`)
	tests := []struct {
		name    string
		header  nats.Header
		data    []byte
		wantErr error
	}{
		{"protobuf, no header", nil, pb, nil},
		{"protobuf, header", nats.Header{"Content-Type": {"application/protobuf"}}, pb, nil},
		{"protobuf, x-protobuf", nats.Header{"Content-Type": {"application/x-protobuf"}}, pb, nil},
		{"protojson", nats.Header{"Content-Type": {"application/json"}}, js, nil},
		{"protojson, lower-case header, charset", nats.Header{"content-type": {"application/json; charset=utf-8"}}, js, nil},
		{"protojson, snake case names", nats.Header{"Content-Type": {"application/json"}}, []byte(`{"location_id":"loc1","post_id":"p1","tag_ids":["t1","t2"],"change":2}`), nil},
		{"json without header", nil, js, bus.ErrUndecodable},
		{"garbage protobuf", nil, []byte{0xff, 0xff, 0xff, 0xff}, bus.ErrUndecodable},
		{"garbage json", nats.Header{"Content-Type": {"application/json"}}, []byte(`{"locationId":`), bus.ErrUndecodable},
		{"wrong json type", nats.Header{"Content-Type": {"application/json"}}, []byte(`{"tagIds":"t1"}`), bus.ErrUndecodable},
		{"unsupported type", nats.Header{"Content-Type": {"text/plain"}}, pb, bus.ErrUndecodable},
		{"malformed type", nats.Header{"Content-Type": {";;"}}, pb, bus.ErrUndecodable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got socialsyncv1.PostEvent
			err := bus.Unmarshal(tt.header, tt.data, &got)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unmarshal error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, bus.ErrBadInput) {
					t.Errorf("error %v is not bad input", err)
				}
				return
			}
			if diff := cmp.Diff(want, &got, protocmp.Transform(), protocmp.IgnoreUnknown()); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	t.Parallel()
	m := &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1", TagIds: []string{"a", "b"}}
	a, _ := bus.Marshal(m)
	b, _ := bus.Marshal(proto.Clone(m))
	if string(a) != string(b) {
		t.Error("equal messages encode differently")
	}
	if loc, ok := bus.LocationOf(m); !ok || loc != "loc1" {
		t.Errorf("LocationOf = %q, %v", loc, ok)
	}
	if _, ok := bus.LocationOf(&socialsyncv1.TagDetail{}); ok {
		t.Error("LocationOf found a location in a message without one")
	}
}
