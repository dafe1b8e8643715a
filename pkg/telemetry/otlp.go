package telemetry

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Protocols accepted in Config.Protocol and its per-signal forms.
const (
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolHTTPJSON     = "http/json"
	ProtocolGRPC         = "grpc"
)

// otlpTarget is where and how one signal is exported.
type otlpTarget struct {
	url      string
	protocol string
}

// resolveOTLP picks the target of one signal ("traces" or "metrics") as the
// specification says: the signal's endpoint used as is, else the base
// endpoint with /v1/<signal> appended for HTTP (as is for gRPC); the
// signal's protocol, else the general one, else http/protobuf. ok is false
// when neither endpoint is set.
func resolveOTLP(signal, base, signalEndpoint, protocol, signalProtocol string) (t otlpTarget, ok bool, err error) {
	t.protocol = signalProtocol
	if t.protocol == "" {
		t.protocol = protocol
	}
	if t.protocol == "" {
		t.protocol = ProtocolHTTPProtobuf
	}
	endpoint, perSignal := signalEndpoint, true
	if endpoint == "" {
		endpoint, perSignal = base, false
	}
	if endpoint == "" {
		return t, false, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The exporters would log the problem and fall back to localhost.
		return t, false, fmt.Errorf("%w %q: want an http:// or https:// URL", ErrInvalidEndpoint, endpoint)
	}
	switch t.protocol {
	case ProtocolHTTPProtobuf, ProtocolHTTPJSON:
		if !perSignal {
			// A base URL gets the signal's path appended, as the
			// specification (and the exporter, for the same variable) does.
			u.Path = path.Join("/", u.Path, "v1", signal)
		}
	case ProtocolGRPC:
	default:
		return t, false, fmt.Errorf("%w %q: want %s, %s or %s", ErrUnsupportedProtocol, t.protocol,
			ProtocolHTTPProtobuf, ProtocolHTTPJSON, ProtocolGRPC)
	}
	t.url = u.String()
	return t, true, nil
}

// exporterList splits an OTEL_*_EXPORTER value into its lower-case names.
func exporterList(v string) []string {
	var names []string
	for n := range strings.SplitSeq(v, ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			names = append(names, n)
		}
	}
	return names
}
