package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Responder is one request-reply service in a queue group: JSON requests
// of type Req on Subject, answered with a JSON Rep, at most Limit at once.
type Responder[Req, Rep any] struct {
	Subject, Queue string
	// Limit bounds the requests handled at once; a request past it is
	// answered Busy at once.
	Limit int
	// Timeout bounds each Handle.
	Timeout time.Duration
	// Busy answers a request past Limit; Malformed one that is no JSON Req.
	Busy, Malformed Rep
	Handle          func(context.Context, Req) Rep
	Log             *slog.Logger
}

// Serve answers requests on nc until ctx ends; then it unsubscribes and
// finishes the requests under way (one not started is left to the
// asker's timeout).
func (r Responder[Req, Rep]) Serve(ctx context.Context, nc *nats.Conn) error {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		closed bool
		slots  = make(chan struct{}, max(r.Limit, 1))
	)
	respond := func(m *nats.Msg, out Rep) {
		b, _ := json.Marshal(out)
		if err := m.Respond(b); err != nil && r.Log != nil {
			r.Log.Warn("answer a request", "subject", r.Subject, "err", err)
		}
	}
	sub, err := nc.QueueSubscribe(r.Subject, r.Queue, func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			respond(m, r.Busy)
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			var req Req
			out := r.Malformed
			if err := json.Unmarshal(m.Data, &req); err == nil {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.Timeout)
				out = r.Handle(rctx, req)
				cancel()
			}
			respond(m, out)
		}()
	})
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", r.Subject, err)
	}
	<-ctx.Done()
	_ = sub.Unsubscribe()
	mu.Lock()
	closed = true
	mu.Unlock()
	wg.Wait()
	return nil
}

// Ask sends req on subject over nc and decodes the reply, waiting until
// ctx ends. It fails with nats.ErrNoResponders when nobody serves it.
func Ask[Req, Rep any](ctx context.Context, nc *nats.Conn, subject string, req Req) (Rep, error) {
	var out Rep
	b, err := json.Marshal(req)
	if err != nil {
		return out, err
	}
	m, err := nc.RequestWithContext(ctx, subject, b)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(m.Data, &out); err != nil {
		return out, fmt.Errorf("decode the reply on %s: %w", subject, err)
	}
	return out, nil
}
