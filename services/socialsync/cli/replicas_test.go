package cli

import (
	"context"
	"strings"
	"testing"
)

// TestTopologyReplicas: an operator command declares the topology with
// SOCIALSYNC_STREAM_REPLICAS replicas, as the workers do, so that running
// it against a cluster does not scale the streams down to one replica.
func TestTopologyReplicas(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want int
		err  string
	}{
		{env: "", want: 1},
		{env: "3", want: 3},
		{env: "0", err: "SOCIALSYNC_STREAM_REPLICAS"},
		{env: "three", err: "SOCIALSYNC_STREAM_REPLICAS"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv("SOCIALSYNC_STREAM_REPLICAS", tc.env)
			topo, err := operatorTopology()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range topo.Streams {
				if s.Replicas != tc.want {
					t.Errorf("stream %s: %d replicas, want %d", s.Name, s.Replicas, tc.want)
				}
			}
			for _, c := range topo.Consumers {
				if c.Config.Replicas != tc.want {
					t.Errorf("consumer %s on %s: %d replicas, want %d", c.Config.Durable, c.Stream, c.Config.Replicas, tc.want)
				}
			}
			for _, kv := range topo.KeyValues {
				if kv.Replicas != tc.want {
					t.Errorf("bucket %s: %d replicas, want %d", kv.Bucket, kv.Replicas, tc.want)
				}
			}
		})
	}
}

// TestTopologyLimits: an operator command declares the storage limits the
// workers are given, and refuses a bad one naming its variable.
func TestTopologyLimits(t *testing.T) {
	t.Setenv("SOCIALSYNC_LIMIT_EVENTS_BYTES", "3GiB")
	t.Setenv("SOCIALSYNC_LIMIT_TRIGGERS_PER_SUBJECT", "42")
	topo, err := operatorTopology()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range topo.Streams {
		if s.Name == "SOCIALSYNC_EVENTS" && s.MaxBytes != 3<<30 {
			t.Errorf("events limit %d, want 3GiB", s.MaxBytes)
		}
		if s.Name == "SOCIALSYNC_TRIGGERS" && s.MaxMsgsPerSubject != 42 {
			t.Errorf("triggers per subject %d, want 42", s.MaxMsgsPerSubject)
		}
	}
	t.Setenv("SOCIALSYNC_LIMIT_EVENTS_BYTES", "3 bananas")
	if _, err := operatorTopology(); err == nil || !strings.Contains(err.Error(), "SOCIALSYNC_LIMIT_EVENTS_BYTES") {
		t.Errorf("bad limit: %v, want an error naming SOCIALSYNC_LIMIT_EVENTS_BYTES", err)
	}
}

// TestDialErrorHidesThePassword: the operator's NATS URL carries its
// password (nats://operator:<password>@host); a failed connection names
// the server, never the password.
func TestDialErrorHidesThePassword(t *testing.T) {
	const secret = "pwTopSecret123"
	_, err := dial(context.Background(), "nats://operator:"+secret+"@127.0.0.1:1,nats://operator:"+secret+"@127.0.0.1:2")
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "operator:xxxxx@127.0.0.1:1") {
		t.Errorf("error %q does not name the server", err)
	}
}
