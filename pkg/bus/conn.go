package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Drain drains nc (its subscriptions, then its pending publishes) and waits
// until it is closed. When ctx ends first, it closes nc at once and returns
// the context's error. Call it last on shutdown, after every Consumer.Run
// has returned.
func Drain(ctx context.Context, nc *nats.Conn) error {
	closed := nc.StatusChanged(nats.CLOSED)
	defer nc.RemoveStatusListener(closed)
	if nc.IsClosed() {
		return nil
	}
	if err := nc.Drain(); err != nil {
		nc.Close()
		return fmt.Errorf("drain: %w", err)
	}
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		nc.Close()
		return fmt.Errorf("drain: %w", ctx.Err())
	}
}
