package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Request is what the gateway asks on topology.SubjectConsoleDoctor.
type Request struct {
	Location string `json:"location"`
}

// Reply is the worker's answer: a report, or why there is none.
type Reply struct {
	Report *Report `json:"report,omitempty"`
	// Error says why there is no report, in words safe to show;
	// NotFound marks a location that is not registered; Retry a moment
	// when the worker is busy.
	Error    string `json:"error,omitempty"`
	NotFound bool   `json:"notFound,omitempty"`
	Retry    bool   `json:"retry,omitempty"`
}

// Server answers the console's requests with the Doctor's reports.
type Server struct {
	Doctor *Doctor
	Log    *slog.Logger
	// MaxConcurrent bounds the checks one process runs at once
	// (default 4); a request beyond it is answered at once, "retry".
	MaxConcurrent int
}

// Handle runs the checks req asks for.
func (s *Server) Handle(ctx context.Context, req Request) Reply {
	r, err := s.Doctor.Run(ctx, req.Location)
	switch {
	case errors.Is(err, creds.ErrUnknownLocation):
		return Reply{Error: "location " + req.Location + " is not registered", NotFound: true}
	case err != nil:
		s.log().Warn("console: doctor", "location", req.Location, "err", err)
		return Reply{Error: err.Error(), Retry: ctx.Err() != nil}
	}
	return Reply{Report: &r}
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s.Log
}

// Serve answers topology.SubjectConsoleDoctor on nc, in the queue group
// topology.QueueConsole, until ctx ends; then it finishes the checks
// under way.
func (s *Server) Serve(ctx context.Context, nc *nats.Conn) error {
	limit := s.MaxConcurrent
	if limit <= 0 {
		limit = 4
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		closed bool
		slots  = make(chan struct{}, limit)
	)
	sub, err := nc.QueueSubscribe(topology.SubjectConsoleDoctor, topology.QueueConsole, func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			b, _ := json.Marshal(Reply{Error: "too many checks under way; try again in a moment", Retry: true})
			_ = m.Respond(b)
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			var req Request
			out := Reply{Error: "malformed request: want a JSON doctor.Request"}
			if err := json.Unmarshal(m.Data, &req); err == nil {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 4*s.timeout())
				out = s.Handle(rctx, req)
				cancel()
			}
			b, _ := json.Marshal(out)
			if err := m.Respond(b); err != nil {
				s.log().Warn("console: answer a doctor request", "err", err)
			}
		}()
	})
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", topology.SubjectConsoleDoctor, err)
	}
	<-ctx.Done()
	_ = sub.Unsubscribe()
	mu.Lock()
	closed = true
	mu.Unlock()
	wg.Wait()
	return nil
}

func (s *Server) timeout() time.Duration {
	if s.Doctor.Timeout > 0 {
		return s.Doctor.Timeout
	}
	return 30 * time.Second
}

// Ask sends req to a Server over nc and waits for its reply until ctx
// ends (the gateway's side). It fails with nats.ErrNoResponders when no
// worker serves the subject.
func Ask(ctx context.Context, nc *nats.Conn, req Request) (Reply, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return Reply{}, err
	}
	m, err := nc.RequestWithContext(ctx, topology.SubjectConsoleDoctor, b)
	if err != nil {
		return Reply{}, err
	}
	var out Reply
	if err := json.Unmarshal(m.Data, &out); err != nil {
		return Reply{}, fmt.Errorf("decode the doctor's reply: %w", err)
	}
	return out, nil
}
