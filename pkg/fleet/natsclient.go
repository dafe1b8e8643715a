package fleet

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/nats-io/nats.go"
)

// NATSClient is how a process's NATS connection protects itself: the
// subjects its replies come back on, and TLS. Config holds it under
// SOCIALSYNC_NATS_ (SOCIALSYNC_NATS_CA_FILE); the operator CLI reads it
// alone with envconfig.Process(NATSPrefix, &c).
type NATSClient struct {
	// InboxPrefix is the prefix of the connection's reply subjects (KV
	// reads, pulls, ordered consumers and every other request): each NATS
	// user of deploy/nats/accounts.conf may subscribe only to its own,
	// _INBOX_<user>, so that no user reads another's replies.
	InboxPrefix string `envconfig:"INBOX_PREFIX" desc:"prefix of the NATS connection's reply subjects (default _INBOX_<user of SOCIALSYNC_NATS_URL>, or _INBOX without a user); the NATS user may subscribe to it only"`
	// CAFile verifies the server's certificate: set, the connection
	// requires TLS.
	CAFile string `envconfig:"CA_FILE" desc:"PEM file of the CA that signed the NATS server's certificate; set, the connection requires TLS"`
	// CertFile and KeyFile are the client's certificate, for a server
	// that verifies its clients'.
	CertFile string `envconfig:"CERT_FILE" desc:"PEM client certificate for NATS TLS (with SOCIALSYNC_NATS_KEY_FILE), when the server verifies clients"`
	KeyFile  string `envconfig:"KEY_FILE" desc:"PEM private key of SOCIALSYNC_NATS_CERT_FILE"`
}

// NATSPrefix is the envconfig prefix of NATSClient read alone.
const NATSPrefix = "socialsync_nats"

// inboxPrefix is the shape of a reply subject prefix: subject tokens, no
// wildcards.
var inboxPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// DefaultInboxPrefix is the reply prefix of a connection to urls: _INBOX_
// followed by the user of the first URL that names one (nats://fetcher:…@
// gives _INBOX_fetcher), else nats.go's _INBOX.
func DefaultInboxPrefix(urls string) string {
	for _, p := range strings.Split(urls, ",") {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil || u.User.Username() == "" {
			continue
		}
		if _, hasPassword := u.User.Password(); !hasPassword {
			continue // a token, not a user
		}
		return nats.InboxPrefix[:len(nats.InboxPrefix)-1] + "_" + u.User.Username()
	}
	return strings.TrimSuffix(nats.InboxPrefix, ".")
}

// Prefix is InboxPrefix, or DefaultInboxPrefix of urls when unset.
func (c NATSClient) Prefix(urls string) string {
	if c.InboxPrefix != "" {
		return c.InboxPrefix
	}
	return DefaultInboxPrefix(urls)
}

// Validate checks the settings for a connection to urls, naming the
// variable that is wrong. It does not read the TLS files (Options does, at
// start), so that a configuration can be checked where they are not
// mounted.
func (c NATSClient) Validate(urls string) error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_%s: %s", ErrConfig, name, fmt.Sprintf(format, args...)))
	}
	if p := c.Prefix(urls); !inboxPrefix.MatchString(p) {
		bad("NATS_INBOX_PREFIX", "want subject tokens of letters, digits, _ and - separated by dots (e.g. _INBOX_fetcher), got %q", p)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		bad("NATS_CERT_FILE", "and SOCIALSYNC_NATS_KEY_FILE go together: set both or neither")
	}
	if c.CAFile == "" && c.CertFile != "" {
		bad("NATS_CA_FILE", "is required with SOCIALSYNC_NATS_CERT_FILE: the server's certificate must be verified")
	}
	return errors.Join(errs...)
}

// Options are the nats.go options of a connection to urls: its reply
// prefix, and TLS when CAFile is set, whose files it reads (an error names
// the variable of the file that is missing or wrong).
func (c NATSClient) Options(urls string) ([]nats.Option, error) {
	if err := c.Validate(urls); err != nil {
		return nil, err
	}
	opts := []nats.Option{nats.CustomInboxPrefix(c.Prefix(urls))}
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}

// tlsConfig is the TLS configuration the files describe, nil without
// CAFile. Validate has checked which are set.
func (c NATSClient) tlsConfig() (*tls.Config, error) {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%w: SOCIALSYNC_%s: %s", ErrConfig, name, fmt.Sprintf(format, args...))
	}
	if c.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, bad("NATS_CA_FILE", "%v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, bad("NATS_CA_FILE", "%s holds no PEM certificate", c.CAFile)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, bad("NATS_CERT_FILE", "with SOCIALSYNC_NATS_KEY_FILE: %v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
