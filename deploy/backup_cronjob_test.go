package deploy

import (
	"bytes"
	"cmp"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/socialsync/socialsync/services/socialsync/cli"
)

// backupCronJob is the CronJob that backs the stored state up.
const backupCronJob = "socialsync-backup"

// TestBackupCronJob checks the CronJob of each overlay that runs
// `socialsync backup`: daily, one run at a time, each run bounded and
// retried, locked down like the Deployments, the backup NATS user with its
// own password from the Secret, archives on the PersistentVolumeClaim it
// ships, the overlay's retention and volume size, a command line the CLI
// itself parses, and egress to NATS and DNS only (which NATS' own
// policies admit).
func TestBackupCronJob(t *testing.T) {
	natsMay := natsPolicy(t)
	for _, ov := range overlays {
		t.Run(ov.name, func(t *testing.T) {
			r := render(t, ov.name)
			cj := r.cronJobs[backupCronJob]
			if cj == nil {
				t.Fatalf("no CronJob %s", backupCronJob)
			}
			if f := strings.Fields(cj.Spec.Schedule); len(f) != 5 || f[2] != "*" || f[3] != "*" || f[4] != "*" {
				t.Errorf("schedule %q, want a daily one (five fields, every day)", cj.Spec.Schedule)
			}
			if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("concurrencyPolicy %q, want Forbid: two backups at once would race on the volume", cj.Spec.ConcurrencyPolicy)
			}
			if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
				t.Error("the CronJob is suspended")
			}
			job := cj.Spec.JobTemplate.Spec
			pod := job.Template.Spec
			checkPodLockedDown(t, pod)
			if pod.RestartPolicy != corev1.RestartPolicyOnFailure || job.BackoffLimit == nil || *job.BackoffLimit < 1 {
				t.Errorf("restartPolicy %q, backoffLimit %v: want OnFailure and retries (NATS may be restarting)", pod.RestartPolicy, job.BackoffLimit)
			}
			if job.ActiveDeadlineSeconds == nil || *job.ActiveDeadlineSeconds <= 0 {
				t.Fatal("no activeDeadlineSeconds: a hung run would hold the schedule (Forbid) forever")
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Containers))
			}
			c := pod.Containers[0]
			if !strings.Contains(c.Image, "socialsync/socialsync") || strings.HasSuffix(c.Image, ":latest") || (ov.pinnedImages && !strings.Contains(c.Image, ":")) {
				t.Errorf("image %q: want the socialsync CLI's, pinned", c.Image)
			}

			env := podEnv(t, r, cj.Name, c)
			wantURL := "nats://backup:secret:socialsync-nats/backup-password@"
			if !strings.HasPrefix(env["SOCIALSYNC_NATS_URL"], wantURL) || !strings.HasSuffix(env["SOCIALSYNC_NATS_URL"], "@"+env["NATS_HOST"]) {
				t.Errorf("SOCIALSYNC_NATS_URL=%q, want the backup user with its own password at NATS_HOST", env["SOCIALSYNC_NATS_URL"])
			}
			for _, e := range c.Env {
				if e.Value != "" && strings.Contains(e.Value, "://backup:") && !strings.Contains(e.Value, "$(NATS_PASSWORD)") {
					t.Errorf("%s holds a password inline", e.Name)
				}
				if e.ValueFrom != nil && (e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "socialsync-nats" || e.ValueFrom.SecretKeyRef.Key != "backup-password") {
					t.Errorf("%s comes from %+v: the backup needs no secret but its NATS password", e.Name, e.ValueFrom)
				}
			}
			for _, k := range []string{"SOCIALSYNC_TOKEN_KEY", "SOCIALSYNC_GHL_CLIENT_SECRET"} {
				if _, ok := env[k]; ok {
					t.Errorf("the backup gets %s: tokens stay sealed in the archive, it needs no key", k)
				}
			}
			if !mounts(t, pod, c, env["SOCIALSYNC_NATS_CA_FILE"], "socialsync-nats-ca") {
				t.Errorf("SOCIALSYNC_NATS_CA_FILE=%q is not in a mount of the Secret socialsync-nats-ca", env["SOCIALSYNC_NATS_CA_FILE"])
			}

			// The command line, as the kubelet expands it, parsed by the
			// CLI itself: -h at its end stops it after parsing every flag
			// before it, with exit 0 only if each is one backup accepts
			// with a value it accepts.
			args := expandArgs(t, c.Args, env)
			if len(args) == 0 || args[0] != "backup" {
				t.Fatalf("args %v, want socialsync backup", args)
			}
			var out, errOut bytes.Buffer
			if code := cli.Main(context.Background(), append(slices.Clone(args), "-h"), &out, &errOut); code != 0 {
				t.Fatalf("socialsync %s: the CLI refuses the command line (exit %d): %s", strings.Join(args, " "), code, errOut.String())
			}
			flags := argFlags(t, args[1:])
			if flags["keep"] != ov.backupKeep {
				t.Errorf("--keep %q, want the overlay's retention %q", flags["keep"], ov.backupKeep)
			}
			if timeout, err := time.ParseDuration(flags["timeout"]); err != nil || timeout >= time.Duration(*job.ActiveDeadlineSeconds)*time.Second {
				t.Errorf("--timeout %q (%v): want one shorter than activeDeadlineSeconds %d, so the command stops first and says why",
					flags["timeout"], err, *job.ActiveDeadlineSeconds)
			}

			// The archives go to the PersistentVolumeClaim shipped with it,
			// writable; the temporary files to a writable emptyDir.
			dirVol := mountedVolume(pod, c, flags["dir"])
			if dirVol == nil || dirVol.PersistentVolumeClaim == nil {
				t.Fatalf("--dir %s is not the mount of a PersistentVolumeClaim, writable", flags["dir"])
			}
			pvc := r.pvcs[dirVol.PersistentVolumeClaim.ClaimName]
			if pvc == nil {
				t.Fatalf("the claim %s is not in the overlay", dirVol.PersistentVolumeClaim.ClaimName)
			}
			if size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; size.String() != ov.backupStorage {
				t.Errorf("the backups' volume requests %s, want the overlay's %s", size.String(), ov.backupStorage)
			}
			if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOnce) {
				t.Errorf("access modes %v, want ReadWriteOnce", pvc.Spec.AccessModes)
			}
			if pod.SecurityContext.FSGroup == nil {
				t.Error("no fsGroup: the non-root user may not write on the volume")
			}
			tmp := cmp.Or(env["TMPDIR"], "/tmp")
			if v := mountedVolume(pod, c, tmp); v == nil || v.EmptyDir == nil {
				t.Errorf("%s (temporary files) is not a writable emptyDir: the root file system is read only", tmp)
			}

			// The network: DNS and NATS out, and NATS admits it.
			podLabels := labels.Set(job.Template.Labels)
			if podLabels["app.kubernetes.io/part-of"] != "socialsync" {
				t.Errorf("pod labels %v: want app.kubernetes.io/part-of=socialsync, which the policies select", podLabels)
			}
			egress := allowedPorts(t, r, podLabels, networkingv1.PolicyTypeEgress)
			want := map[string]bool{"53/UDP": true, "53/TCP": true, "4222/TCP": true}
			if !maps.Equal(egress, want) {
				t.Errorf("egress on %v, want DNS and NATS only (%v)", egress, want)
			}
			checkEgressNamed(t, r, podLabels)
			if len(c.Ports) > 0 {
				t.Errorf("the container declares ports %v: nothing should reach the backup", c.Ports)
			}
			if !natsMay(peer{ov.namespace, podLabels}, 4222) {
				t.Errorf("NATS' policies (%s) do not admit the backup pod of namespace %s", natsPolicyFile, ov.namespace)
			}
		})
	}
}

// expandArgs expands $(VAR) in a container's args from its environment,
// as the kubelet does.
func expandArgs(t *testing.T, args []string, env map[string]string) []string {
	t.Helper()
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = os.Expand(strings.NewReplacer("$(", "${", ")", "}").Replace(a), func(k string) string {
			v, ok := env[k]
			if !ok {
				t.Errorf("arg %q refers to %s, which the container's environment does not define", a, k)
			}
			return v
		})
	}
	return out
}

// argFlags reads "--flag value" pairs (every flag the manifests give takes
// a value) into flag → value.
func argFlags(t *testing.T, args []string) map[string]string {
	t.Helper()
	flags := map[string]string{}
	for i := 0; i < len(args); i += 2 {
		name, ok := strings.CutPrefix(strings.TrimPrefix(args[i], "-"), "-")
		if !ok || i+1 >= len(args) {
			t.Fatalf("args %v: want --flag value pairs", args)
		}
		flags[name] = args[i+1]
	}
	return flags
}

// mountedVolume returns the volume container c of pod mounts, writable, at
// dir (or above it).
func mountedVolume(pod corev1.PodSpec, c corev1.Container, dir string) *corev1.Volume {
	for _, m := range c.VolumeMounts {
		mp := strings.TrimSuffix(m.MountPath, "/")
		if m.ReadOnly || (dir != mp && !strings.HasPrefix(dir, mp+"/")) {
			continue
		}
		for i := range pod.Volumes {
			if pod.Volumes[i].Name == m.Name {
				return &pod.Volumes[i]
			}
		}
	}
	return nil
}

// checkEgressNamed checks that every egress rule of the policies selecting
// pod names its destinations by namespace and pod labels: no rule opens a
// port to any address.
func checkEgressNamed(t *testing.T, r *rendered, pod labels.Set) {
	t.Helper()
	for name, np := range r.netpols {
		s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Matches(pod) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			continue
		}
		for _, rule := range np.Spec.Egress {
			if len(rule.To) == 0 {
				t.Errorf("NetworkPolicy %s allows egress to anywhere", name)
			}
			for _, to := range rule.To {
				if to.IPBlock != nil || to.NamespaceSelector == nil || to.PodSelector == nil {
					t.Errorf("NetworkPolicy %s allows egress to %+v: want a namespace's pods, by labels", name, to)
				}
			}
		}
	}
}

// buildCLI builds the socialsync binary of this tree into a directory of
// the test and returns its path.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "socialsync")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/socialsync/socialsync/services/socialsync/cmd/socialsync").CombinedOutput()
	if err != nil {
		t.Fatalf("go build socialsync: %v\n%s", err, out)
	}
	return bin
}

// runBackupCronJob runs the container of the prod overlay's backup
// CronJob as a process of the socialsync binary built from this tree,
// against n: its command line and its environment exactly as rendered
// (nothing of the test's own environment), with the Secret's password
// filled in, NATS_HOST pointing at n, the CA file at n's, and the mounts
// (the archives' volume, /tmp) at directories of the test. The volume
// holds an archive older than the retention, a recent one and a file of
// another name beforehand; afterwards the new archive, the recent one and
// the other file, and the output names the one deleted. It returns the
// new archive's path.
func runBackupCronJob(t *testing.T, n *natsEnv) string {
	t.Helper()
	r := render(t, "prod")
	cj := r.cronJobs[backupCronJob]
	if cj == nil {
		t.Fatalf("no CronJob %s", backupCronJob)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	c := pod.Containers[0]
	env := podEnv(t, r, cj.Name, c)
	args := expandArgs(t, c.Args, env)
	flags := argFlags(t, args[1:])
	keepDays, ok := strings.CutSuffix(flags["keep"], "d")
	days, err := strconv.Atoi(keepDays)
	if !ok || err != nil {
		t.Fatalf("--keep %q: want whole days", flags["keep"])
	}
	keep := time.Duration(days) * 24 * time.Hour

	// The pod's file system, at the test's directories.
	archives, tmp := t.TempDir(), t.TempDir()
	for i, a := range args {
		if a == flags["dir"] {
			args[i] = archives
		}
	}
	host := env["NATS_HOST"]
	for k, v := range env {
		v = strings.ReplaceAll(v, "secret:socialsync-nats/backup-password", n.passwords["backup"])
		env[k] = strings.ReplaceAll(v, host, n.srv.Addr().String())
	}
	env["SOCIALSYNC_NATS_CA_FILE"] = n.tls.CA
	env["TMPDIR"] = tmp

	// What the volume holds from earlier runs (named as backup --dir
	// names its archives: the UTC time of the backup).
	name := func(at time.Time) string { return "socialsync-" + at.UTC().Format("20060102T150405Z") + ".tar.gz" }
	now := time.Now()
	old, recent := name(now.Add(-keep-24*time.Hour)), name(now.Add(-24*time.Hour))
	for _, f := range []string{old, recent, "notes.txt"} {
		if err := os.WriteFile(filepath.Join(archives, f), []byte("an earlier run"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildCLI(t), args...)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the CronJob's container, socialsync %s: %v\n%s", strings.Join(c.Args, " "), err, out)
	}
	t.Logf("socialsync %s:\n%s", strings.Join(c.Args, " "), out)
	entries, err := os.ReadDir(archives)
	if err != nil {
		t.Fatal(err)
	}
	var written string
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
		if e.Name() != recent && e.Name() != old && strings.HasPrefix(e.Name(), "socialsync-") {
			written = filepath.Join(archives, e.Name())
		}
	}
	if written == "" || !strings.Contains(string(out), "written to "+written) {
		t.Fatalf("no new archive in the volume (%v), or the output does not name it:\n%s", left, out)
	}
	if want := []string{filepath.Base(written), "notes.txt", recent}; !slices.Equal(left, slices.Sorted(slices.Values(want))) {
		t.Errorf("the volume holds %v after the run, want %v: the archive older than --keep %s deleted, nothing else", left, want, flags["keep"])
	}
	if !strings.Contains(string(out), "deleted "+filepath.Join(archives, old)) {
		t.Errorf("the output does not name %s as deleted:\n%s", old, out)
	}
	return written
}
