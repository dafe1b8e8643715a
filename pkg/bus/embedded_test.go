package bus_test

import (
	"net"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/socialsync/socialsync/pkg/bus"
)

func TestStartEmbedded(t *testing.T) {
	t.Parallel()
	if _, err := bus.StartEmbedded(bus.EmbeddedOptions{Port: -1}); err == nil {
		t.Error("StartEmbedded without a store directory succeeded")
	}

	log, logs := newLogger()
	dir := t.TempDir()
	s, err := bus.StartEmbedded(bus.EmbeddedOptions{StoreDir: dir, Port: -1, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") || s.ClientURL() == "nats://127.0.0.1:4222" {
		t.Errorf("client URL %s, want a random port on 127.0.0.1", s.ClientURL())
	}
	if got := s.JetStreamConfig().StoreDir; !strings.HasPrefix(got, dir) {
		t.Errorf("store dir %s, want under %s", got, dir)
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if !strings.Contains(logs.String(), `"msg":"nats-server"`) {
		t.Errorf("server log not routed to slog:\n%s", logs.String())
	}
}

func TestStartEmbeddedSaysThePortIsBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = bus.StartEmbedded(bus.EmbeddedOptions{StoreDir: t.TempDir(), Port: port})
	if err == nil || !strings.Contains(err.Error(), "not free") {
		t.Fatalf("StartEmbedded on a busy port: %v, want an error saying it is not free", err)
	}
}
