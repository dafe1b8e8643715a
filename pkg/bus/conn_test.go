package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
)

func TestDrainClosesConnection(t *testing.T) {
	t.Parallel()
	s := bustest.StartServer(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	got := make(chan string, 1)
	if _, err := nc.Subscribe("x", func(m *nats.Msg) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("x", []byte("before drain")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bus.Drain(ctx, nc); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if !nc.IsClosed() {
		t.Error("connection open after Drain")
	}
	select {
	case m := <-got:
		if m != "before drain" {
			t.Errorf("got %q", m)
		}
	default:
		t.Error("message published before Drain was not delivered")
	}
	if err := bus.Drain(ctx, nc); err != nil {
		t.Errorf("second Drain: %v", err)
	}
}
