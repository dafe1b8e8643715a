package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultReadyTimeout bounds StartEmbedded's wait for the server.
const DefaultReadyTimeout = 10 * time.Second

// EmbeddedOptions configure StartEmbedded.
type EmbeddedOptions struct {
	// StoreDir holds JetStream's files. Required: an embedded server
	// without one would write to the system temp directory.
	StoreDir string
	// Host defaults to 127.0.0.1.
	Host string
	// Port is the client port: 0 means 4222, -1 a random free port (see
	// Server.ClientURL).
	Port int
	// ServerName defaults to "socialsync".
	ServerName string
	// MaxPayload is the largest message the server accepts; the server's
	// default (1 MiB) when zero.
	MaxPayload int32
	// ReadyTimeout defaults to DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Logger receives the server's log; nil discards it. Debug adds its
	// debug lines.
	Logger *slog.Logger
	Debug  bool
}

// StartEmbedded starts an in-process NATS server with JetStream and waits
// until it accepts connections. Stop it with Shutdown, then
// WaitForShutdown.
func StartEmbedded(opts EmbeddedOptions) (*server.Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("bus: embedded server needs a store directory")
	}
	o := &server.Options{
		ServerName: opts.ServerName,
		Host:       opts.Host,
		Port:       opts.Port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		MaxPayload: opts.MaxPayload,
		NoSigs:     true,
		NoLog:      opts.Logger == nil,
		Debug:      opts.Debug,
	}
	if o.ServerName == "" {
		o.ServerName = "socialsync"
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port > 0 {
		// nats-server only logs a busy port and is then never ready: say
		// what is wrong instead of timing out.
		addr := net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("bus: embedded server: %s is not free (is another server running?): %w", addr, err)
		}
		_ = ln.Close()
	}
	ns, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	if opts.Logger != nil {
		ns.SetLoggerV2(serverLogger{opts.Logger}, opts.Debug, false, false)
	}
	ns.Start()
	ready := opts.ReadyTimeout
	if ready <= 0 {
		ready = DefaultReadyTimeout
	}
	if !ns.ReadyForConnections(ready) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("bus: embedded server not ready after %s", ready)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, errors.New("bus: embedded server started without JetStream")
	}
	return ns, nil
}

// serverLogger sends nats-server's log to slog. Fatalf logs an error and
// leaves it to the server: the standard logger would exit the process.
type serverLogger struct{ log *slog.Logger }

func (l serverLogger) logf(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.LogAttrs(context.Background(), level, "nats-server", slog.String("line", redact(fmt.Sprintf(format, v...))))
}

func (l serverLogger) Noticef(format string, v ...any) { l.logf(slog.LevelInfo, format, v) }
func (l serverLogger) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l serverLogger) Fatalf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l serverLogger) Errorf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l serverLogger) Debugf(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }
func (l serverLogger) Tracef(format string, v ...any)  { l.logf(slog.LevelDebug-4, format, v) }
