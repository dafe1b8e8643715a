package deploy

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/socialsync/socialsync/services/socialsync/cli"
)

// topologyJob is the Job that applies the JetStream topology.
const topologyJob = "socialsync-topology"

// TestTopologyJob checks the Job of each overlay that applies the topology:
// locked down like the Deployments, a pinned image where the overlay pins
// them, the topology NATS user with its own password, the fleet's replicas
// and storage limits, egress to NATS and DNS only; then runs its command
// line with its environment (Secrets filled in, NATS_HOST pointing at a
// nats-server loaded with accounts.conf) and shows the topology applied.
func TestTopologyJob(t *testing.T) {
	for _, ov := range overlays {
		t.Run(ov.name, func(t *testing.T) {
			r := render(t, ov.name)
			job := r.jobs[topologyJob]
			if job == nil {
				t.Fatalf("no Job %s", topologyJob)
			}
			pod := job.Spec.Template.Spec
			checkPodLockedDown(t, pod)
			if pod.RestartPolicy != "OnFailure" || job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit < 1 {
				t.Errorf("restartPolicy %q, backoffLimit %v: want OnFailure and retries (NATS may still be starting)", pod.RestartPolicy, job.Spec.BackoffLimit)
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Containers))
			}
			c := pod.Containers[0]
			if !strings.Contains(c.Image, "socialsync/socialsync") || strings.HasSuffix(c.Image, ":latest") || (ov.pinnedImages && !strings.Contains(c.Image, ":")) {
				t.Errorf("image %q: want the socialsync CLI's, pinned", c.Image)
			}
			if len(c.Args) < 2 || c.Args[0] != "topology" || c.Args[1] != "apply" {
				t.Fatalf("args %v, want topology apply", c.Args)
			}
			podLabels := labels.Set(job.Spec.Template.Labels)
			egress := allowedPorts(t, r, podLabels, "Egress")
			for _, p := range []string{"53/UDP", "53/TCP", "4222/TCP"} {
				if !egress[p] {
					t.Errorf("no egress on %s", p)
				}
			}
			if egress["443/TCP"] {
				t.Error("egress on 443: the Job talks to NATS only")
			}

			env := podEnv(t, r, job.Name, c)
			if got := env["SOCIALSYNC_STREAM_REPLICAS"]; got != strconv.Itoa(ov.streamReplicas) {
				t.Errorf("SOCIALSYNC_STREAM_REPLICAS=%q, want %d", got, ov.streamReplicas)
			}
			wantURL := "nats://topology:secret:socialsync-nats/topology-password@"
			if !strings.HasPrefix(env["SOCIALSYNC_NATS_URL"], wantURL) {
				t.Fatalf("SOCIALSYNC_NATS_URL=%q, want the topology user with its own password", env["SOCIALSYNC_NATS_URL"])
			}
			for _, k := range []string{"SOCIALSYNC_TOKEN_KEY", "SOCIALSYNC_GHL_CLIENT_SECRET"} {
				if _, ok := env[k]; ok {
					t.Errorf("the Job gets %s: it needs no credential but its NATS password", k)
				}
			}

			// Run it against nats-server with accounts.conf, as the Job would.
			n := startBareNATS(t)
			env["SOCIALSYNC_NATS_URL"] = "nats://topology:" + n.passwords["topology"] + "@" + n.srv.Addr().String()
			// The file the Secret socialsync-nats-ca puts there.
			if !mounts(t, pod, c, env["SOCIALSYNC_NATS_CA_FILE"], "socialsync-nats-ca") {
				t.Errorf("SOCIALSYNC_NATS_CA_FILE=%q is not in a mount of the Secret socialsync-nats-ca", env["SOCIALSYNC_NATS_CA_FILE"])
			}
			env["SOCIALSYNC_NATS_CA_FILE"] = n.tls.CA
			env["SOCIALSYNC_STREAM_REPLICAS"] = "1" // one test server
			for k, v := range env {
				if strings.HasPrefix(k, "SOCIALSYNC_") {
					t.Setenv(k, v)
				}
			}
			var out, errOut bytes.Buffer
			if code := cli.Main(context.Background(), c.Args, &out, &errOut); code != 0 {
				t.Fatalf("socialsync %s: exit %d: %s%s", strings.Join(c.Args, " "), code, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), "created") || !strings.Contains(out.String(), "topology applied") {
				t.Errorf("the Job's output does not say what it created:\n%s", out.String())
			}
			if check := n.run(t, "operator", "topology", "check"); !strings.Contains(check, "topology present") {
				t.Errorf("topology check as the operator after the Job: %s", check)
			}
			if v := n.violations.list(); len(v) > 0 {
				t.Errorf("permission violations while the Job ran:\n%s", strings.Join(v, "\n"))
			}
		})
	}
}

// mounts reports whether container c of pod mounts file from Secret
// secret, read only.
func mounts(t *testing.T, pod corev1.PodSpec, c corev1.Container, file, secret string) bool {
	t.Helper()
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok || !m.ReadOnly {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.Secret == nil || v.Secret.SecretName != secret {
				continue
			}
			if len(v.Secret.Items) == 0 {
				return true
			}
			for _, it := range v.Secret.Items {
				if it.Path == rel {
					return true
				}
			}
		}
	}
	return false
}
