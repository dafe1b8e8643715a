package fleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
)

// The wait between attempts to reach NATS at start: it doubles from
// dialWaitMin up to dialWaitMax.
const (
	dialWaitMin = time.Second
	dialWaitMax = 10 * time.Second
	// topologyWaitMax bounds the wait between two looks at the topology:
	// a process becomes ready within it once the topology is applied.
	topologyWaitMax = 5 * time.Second
)

// dial connects to NATS at rawURL. While the server cannot be reached
// (not started yet, restarting, its name not resolvable yet) it keeps
// trying, logging each failed attempt as "waiting for nats", until ctx
// ends; a refusal of the process's credentials ends it at once. Once
// connected, the connection itself reconnects (MaxReconnects(-1)).
func (d *Deps) dial(ctx context.Context, rawURL string, opts []nats.Option) (*nats.Conn, error) {
	shown := redactURL(rawURL)
	attempt := 0
	var last error
	connect := func() (*nats.Conn, error) {
		attempt++
		nc, err := nats.Connect(rawURL, opts...)
		if last = err; err != nil && refused(err) {
			return nil, backoff.Permanent(err)
		}
		return nc, err
	}
	wait := func(err error, wait time.Duration) {
		d.Log.Warn("waiting for nats", "url", shown, "attempt", attempt, "retry_in", wait.String(), "err", err)
	}
	nc, err := backoff.RetryNotifyWithData(connect, startBackOff(ctx, dialWaitMax), wait)
	switch {
	case err == nil:
		if attempt > 1 {
			d.Log.Info("nats connected", "url", shown, "attempt", attempt)
		}
		return nc, nil
	case tlsRefused(last):
		return nil, fmt.Errorf("%w: connect to NATS at SOCIALSYNC_NATS_URL=%s over TLS (SOCIALSYNC_NATS_CA_FILE, SOCIALSYNC_NATS_CERT_FILE, SOCIALSYNC_NATS_KEY_FILE): %w",
			ErrConfig, shown, last)
	case refused(last):
		return nil, fmt.Errorf("connect to NATS at SOCIALSYNC_NATS_URL=%s: %w", shown, last)
	}
	return nil, fmt.Errorf("wait for NATS at SOCIALSYNC_NATS_URL=%s: %w (last attempt: %v)", shown, err, last)
}

// ensure declares the topology, waiting while JetStream does not answer
// (a server still starting, a cluster without a leader yet) as dial waits
// for the server, logging "waiting for jetstream". Any other refusal (a
// stream at odds with the configuration, say) ends it at once.
func (d *Deps) ensure(ctx context.Context, js jetstream.JetStream) error {
	declare := func(ctx context.Context) error { return d.Topology.Ensure(ctx, js) }
	last, refusal, err := d.retry(ctx, dialWaitMax, "jetstream", declare, unavailable)
	switch {
	case err == nil:
		return nil
	case refusal:
		return fmt.Errorf("declare streams, consumers and buckets: %w", err)
	}
	return fmt.Errorf("wait for JetStream: %w (last attempt: %v)", err, last)
}

// awaitTopology waits until the server holds every stream, consumer,
// bucket and object store of need, reading their info only (Verify): the
// topology is applied by the operator step (socialsync topology apply),
// not by the workers. Meanwhile the "topology" readiness check fails
// naming what is missing, and the log says "waiting for topology" with
// the same names; a JetStream that does not answer is waited for as well.
// Any other failure ends it at once.
func (d *Deps) awaitTopology(ctx context.Context, need bus.Topology) error {
	verify := func(ctx context.Context) error {
		err := need.Verify(ctx, d.JS)
		var missing *bus.MissingError
		if errors.As(err, &missing) {
			d.missing.Store(&err)
		} else if err == nil {
			d.missing.Store(nil)
		}
		return err
	}
	waitable := func(err error) bool {
		var missing *bus.MissingError
		return errors.As(err, &missing) || unavailable(err)
	}
	last, refusal, err := d.retry(ctx, topologyWaitMax, "topology", verify, waitable)
	switch {
	case err == nil:
		return nil
	case refusal:
		return fmt.Errorf("read the topology's streams, consumers and buckets: %w", err)
	}
	return fmt.Errorf("wait for the topology: %w (last attempt: %v)", err, last)
}

// retry runs try, each attempt bounded by 30 s, until it succeeds, with
// the waits of startBackOff(ctx, longest) between attempts, while
// waitable says its error is one a wait can cure; it logs "waiting for
// <what>" before each wait and "<what> available" when an attempt after
// the first succeeds. It returns the last attempt's error, whether
// retrying stopped on an error no wait can cure (refusal), and the error
// that ended it (nil on success, the refusal, or ctx's).
func (d *Deps) retry(ctx context.Context, longest time.Duration, what string, try func(context.Context) error,
	waitable func(error) bool) (last error, refusal bool, err error) {
	attempt := 0
	once := func() error {
		attempt++
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		last = try(actx)
		if last != nil && (ctx.Err() != nil || !waitable(last)) {
			refusal = true
			return backoff.Permanent(last)
		}
		return last
	}
	wait := func(err error, wait time.Duration) {
		d.Log.Warn("waiting for "+what, "attempt", attempt, "retry_in", wait.String(), "err", err)
	}
	err = backoff.RetryNotify(once, startBackOff(ctx, longest), wait)
	if err == nil && attempt > 1 {
		d.Log.Info(what+" available", "attempt", attempt)
	}
	return last, refusal, err
}

// startBackOff is the wait between the attempts of dial, ensure and
// awaitTopology: dialWaitMin, doubling up to longest, until ctx ends.
func startBackOff(ctx context.Context, longest time.Duration) backoff.BackOff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(dialWaitMin),
		backoff.WithMaxInterval(longest),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0),
		backoff.WithMaxElapsedTime(0),
	)
	return backoff.WithContext(b, ctx)
}

// unavailable reports whether err says that JetStream did not answer or
// answered that it is not available (503): something a wait can cure. An
// account without JetStream is a configuration to fix, not to wait for.
func unavailable(err error) bool {
	var api *jetstream.APIError
	if errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return false
	}
	return errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &api) && api.Code == 503
}

// refused reports whether the server answered and refused the
// connection's credentials or its TLS: trying again would not help.
func refused(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || tlsRefused(err)
}

// tlsRefused reports whether TLS failed for want of configuration: the
// server requires TLS and no CA is set, or does not offer it and one is;
// its certificate is not one the CA signed for its name; or it refused the
// client's certificate (a TLS alert).
func tlsRefused(err error) bool {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var alert tls.AlertError
	return errors.Is(err, nats.ErrSecureConnRequired) || errors.Is(err, nats.ErrSecureConnWanted) ||
		errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) || errors.As(err, &alert) ||
		err != nil && strings.Contains(err.Error(), "remote error: tls:")
}

// redactURL returns the NATS URL list s with the user information of every
// URL (user and password, or a token) replaced by "redacted".
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		switch {
		case err != nil && strings.Contains(p, "@"):
			parts[i] = "redacted"
		case err != nil || u.User == nil:
			parts[i] = p
		default:
			u.User = url.User("redacted")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
