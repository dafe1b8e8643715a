package doctor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/socialsync/socialsync/pkg/bus"
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
	return bus.Responder[Request, Reply]{Subject: topology.SubjectConsoleDoctor, Queue: topology.QueueConsole,
		Limit: limit, Timeout: 4 * s.timeout(), Handle: s.Handle, Log: s.log(),
		Busy:      Reply{Error: "too many checks under way; try again in a moment", Retry: true},
		Malformed: Reply{Error: "malformed request: want a JSON doctor.Request"}}.Serve(ctx, nc)
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
	return bus.Ask[Request, Reply](ctx, nc, topology.SubjectConsoleDoctor, req)
}
