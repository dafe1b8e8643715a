package topology_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// nats-server waits up to 30s for the answer to a stream-source
		// consumer request in a goroutine that its Shutdown does not stop.
		// It is the server's, and the tests' servers are short-lived.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"),
	)
}
