package deploy

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/topology"
	automationworker "github.com/socialsync/socialsync/services/automation"
	"github.com/socialsync/socialsync/services/contactsync"
	"github.com/socialsync/socialsync/services/enricher"
	"github.com/socialsync/socialsync/services/fetcher"
	"github.com/socialsync/socialsync/services/stats"
)

// overlays are the kustomize overlays and what differs between them.
var overlays = []struct {
	name, namespace string
	streamReplicas  int
	pinnedImages    bool
	// The backups' retention (socialsync backup --keep) and volume.
	backupKeep, backupStorage string
}{
	{name: "dev", namespace: "socialsync-dev", streamReplicas: 1, backupKeep: "7d", backupStorage: "2Gi"},
	{name: "prod", namespace: "socialsync", streamReplicas: 3, pinnedImages: true, backupKeep: "30d", backupStorage: "10Gi"},
}

// workers are the Deployments KEDA scales; the gateway is the other one.
var workers = []string{"fetcher", "enricher", "stats", "contactsync", "automation"}

// ScaledObject is the part of KEDA's keda.sh/v1alpha1 ScaledObject that
// these manifests use. KEDA publishes no Go type this module can import
// offline, so the manifests are decoded strictly into this struct: a field
// it does not know (a misspelling, or a field of another KEDA version) is an
// error, like the Kubernetes types' strict decoding.
type ScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval"`
		CooldownPeriod  *int32 `json:"cooldownPeriod"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		Advanced        *struct {
			HorizontalPodAutoscalerConfig *struct {
				Behavior *struct {
					ScaleDown *struct {
						StabilizationWindowSeconds *int32 `json:"stabilizationWindowSeconds"`
						Policies                   []struct {
							Type          string `json:"type"`
							Value         int32  `json:"value"`
							PeriodSeconds int32  `json:"periodSeconds"`
						} `json:"policies"`
					} `json:"scaleDown"`
				} `json:"behavior"`
			} `json:"horizontalPodAutoscalerConfig"`
		} `json:"advanced"`
		Triggers []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// jetstreamScalerKeys are the metadata parameters of KEDA's nats-jetstream
// scaler (keda.sh/docs/scalers/nats-jetstream).
var jetstreamScalerKeys = []string{"natsServerMonitoringEndpoint", "account", "stream", "consumer",
	"lagThreshold", "activationLagThreshold", "useHttps"}

// rendered is one overlay's objects, decoded.
type rendered struct {
	deployments   map[string]*appsv1.Deployment
	jobs          map[string]*batchv1.Job
	cronJobs      map[string]*batchv1.CronJob
	pvcs          map[string]*corev1.PersistentVolumeClaim
	services      map[string]*corev1.Service
	configMaps    map[string]*corev1.ConfigMap
	pdbs          map[string]*policyv1.PodDisruptionBudget
	netpols       map[string]*networkingv1.NetworkPolicy
	scaledObjects map[string]*ScaledObject
	rules         map[string]*monitoringv1.PrometheusRule
	namespaces    map[string]*corev1.Namespace
	namespaceOf   map[string]string // "Kind/name" → metadata.namespace
}

// render builds the overlay with the kustomize API and decodes every object
// strictly: an unknown or duplicated field is an error.
func render(t *testing.T, overlay string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("k8s", "overlays", overlay))
	if err != nil {
		t.Fatalf("kustomize build k8s/overlays/%s: %v", overlay, err)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{appsv1.AddToScheme, batchv1.AddToScheme, corev1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true, Strict: true})
	r := &rendered{
		deployments: map[string]*appsv1.Deployment{}, jobs: map[string]*batchv1.Job{}, services: map[string]*corev1.Service{},
		cronJobs: map[string]*batchv1.CronJob{}, pvcs: map[string]*corev1.PersistentVolumeClaim{},
		configMaps: map[string]*corev1.ConfigMap{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		netpols: map[string]*networkingv1.NetworkPolicy{}, scaledObjects: map[string]*ScaledObject{}, rules: map[string]*monitoringv1.PrometheusRule{},
		namespaces: map[string]*corev1.Namespace{}, namespaceOf: map[string]string{},
	}
	for _, res := range resMap.Resources() {
		data, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		kind, name := res.GetKind(), res.GetName()
		r.namespaceOf[kind+"/"+name] = res.GetNamespace()
		if kind == "PrometheusRule" {
			// Strictly into the Prometheus Operator's own type.
			pr := &monitoringv1.PrometheusRule{}
			j, err := yaml.YAMLToJSONStrict(data)
			if err != nil {
				t.Fatalf("%s/%s: %v", kind, name, err)
			}
			strictErrs, err := sigsjson.UnmarshalStrict(j, pr, sigsjson.DisallowUnknownFields)
			if err != nil || len(strictErrs) > 0 {
				t.Fatalf("%s/%s does not decode strictly: %v %v", kind, name, err, strictErrs)
			}
			if pr.APIVersion != "monitoring.coreos.com/v1" {
				t.Errorf("%s/%s: apiVersion %q, want monitoring.coreos.com/v1", kind, name, pr.APIVersion)
			}
			r.rules[name] = pr
			continue
		}
		if kind == "ScaledObject" {
			so := &ScaledObject{}
			j, err := yaml.YAMLToJSONStrict(data)
			if err != nil {
				t.Fatalf("%s/%s: %v", kind, name, err)
			}
			strictErrs, err := sigsjson.UnmarshalStrict(j, so, sigsjson.DisallowUnknownFields)
			if err != nil || len(strictErrs) > 0 {
				t.Fatalf("%s/%s does not decode strictly: %v %v", kind, name, err, strictErrs)
			}
			if so.APIVersion != "keda.sh/v1alpha1" {
				t.Errorf("%s/%s: apiVersion %q, want keda.sh/v1alpha1", kind, name, so.APIVersion)
			}
			r.scaledObjects[name] = so
			continue
		}
		obj, gvk, err := strict.Decode(data, nil, nil)
		if err != nil {
			t.Fatalf("%s/%s does not decode strictly into its Kubernetes type: %v", kind, name, err)
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			r.deployments[name] = o
		case *batchv1.Job:
			r.jobs[name] = o
		case *batchv1.CronJob:
			r.cronJobs[name] = o
		case *corev1.PersistentVolumeClaim:
			r.pvcs[name] = o
		case *corev1.Service:
			r.services[name] = o
		case *corev1.ConfigMap:
			r.configMaps[name] = o
		case *policyv1.PodDisruptionBudget:
			r.pdbs[name] = o
		case *networkingv1.NetworkPolicy:
			r.netpols[name] = o
		case *corev1.Namespace:
			r.namespaces[name] = o
		default:
			t.Fatalf("%s/%s: unexpected kind %v", kind, name, gvk)
		}
	}
	return r
}

func TestOverlaysRenderAndDecodeStrictly(t *testing.T) {
	for _, ov := range overlays {
		t.Run(ov.name, func(t *testing.T) {
			r := render(t, ov.name)
			want := append(slices.Clone(workers), "gateway")
			for _, name := range want {
				if r.deployments[name] == nil {
					t.Errorf("no Deployment %s", name)
				}
			}
			if len(r.deployments) != len(want) {
				t.Errorf("%d Deployments, want %d", len(r.deployments), len(want))
			}
			if r.jobs[topologyJob] == nil || len(r.jobs) != 1 {
				t.Errorf("Jobs %v, want the one that applies the topology, %s", slices.Collect(maps.Keys(r.jobs)), topologyJob)
			}
			if r.cronJobs[backupCronJob] == nil || len(r.cronJobs) != 1 {
				t.Errorf("CronJobs %v, want the one that backs up, %s", slices.Collect(maps.Keys(r.cronJobs)), backupCronJob)
			}
			if r.namespaces[ov.namespace] == nil {
				t.Errorf("no Namespace %s", ov.namespace)
			} else if got := r.namespaces[ov.namespace].Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
				t.Errorf("namespace %s enforces pod security %q, want restricted", ov.namespace, got)
			}
			for key, ns := range r.namespaceOf {
				if !strings.HasPrefix(key, "Namespace/") && ns != ov.namespace {
					t.Errorf("%s is in namespace %q, want %q", key, ns, ov.namespace)
				}
			}
		})
	}
}

// TestDeploymentsAreLockedDown checks every container of every Deployment:
// non-root, read-only root file system, no privilege escalation, every
// capability dropped, seccomp RuntimeDefault, requests and limits, probes
// on the health endpoints, and a grace period longer than the drain.
func TestDeploymentsAreLockedDown(t *testing.T) {
	for _, ov := range overlays {
		r := render(t, ov.name)
		for name, d := range r.deployments {
			t.Run(ov.name+"/"+name, func(t *testing.T) {
				pod := d.Spec.Template.Spec
				checkPodLockedDown(t, pod)
				if len(pod.Containers) != 1 {
					t.Fatalf("%d containers, want 1", len(pod.Containers))
				}
				c := pod.Containers[0]
				checkProbe(t, "readiness", c.ReadinessProbe, "/readyz", c)
				checkProbe(t, "liveness", c.LivenessProbe, "/healthz", c)
				if c.StartupProbe != nil {
					checkProbe(t, "startup", c.StartupProbe, "/healthz", c)
				}
				if strings.HasSuffix(c.Image, ":latest") || (ov.pinnedImages && !strings.Contains(c.Image, ":")) {
					t.Errorf("image %q is not pinned", c.Image)
				}

				// The pod must outlive the drain: SOCIALSYNC_SHUTDOWN_TIMEOUT
				// for in-flight messages, then fleet.Serve's 5s margin and
				// Deps.Close's 10s to drain NATS and flush telemetry, after
				// the preStop hook.
				env := podEnv(t, r, d.Name, d.Spec.Template.Spec.Containers[0])
				shutdown := 20 * time.Second // fleet.Config's default
				if v, ok := env["SOCIALSYNC_SHUTDOWN_TIMEOUT"]; ok {
					var err error
					if shutdown, err = time.ParseDuration(v); err != nil {
						t.Fatalf("SOCIALSYNC_SHUTDOWN_TIMEOUT=%q: %v", v, err)
					}
				}
				var preStop time.Duration
				if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
					preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
				}
				if pod.TerminationGracePeriodSeconds == nil {
					t.Fatal("no terminationGracePeriodSeconds")
				}
				grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
				if need := preStop + shutdown + 15*time.Second; grace <= need {
					t.Errorf("terminationGracePeriodSeconds %v, want more than preStop %v + SOCIALSYNC_SHUTDOWN_TIMEOUT %v + 15s", grace, preStop, shutdown)
				}
			})
		}
	}
}

// checkPodLockedDown checks a pod and its containers: non-root, seccomp
// RuntimeDefault, no service account token, no init containers; each
// container with a read-only root file system, no privilege escalation,
// every capability dropped, and requests and limits.
func checkPodLockedDown(t *testing.T, pod corev1.PodSpec) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("pod does not run as a non-root user")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccomp profile is not RuntimeDefault")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the service account token is mounted; the fleet never calls the Kubernetes API")
	}
	if len(pod.InitContainers) > 0 {
		t.Error("init containers are not checked here; add them to the test")
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Error("container has no securityContext")
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Error("privilege escalation is allowed")
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Error("root file system is writable")
		case sc.Privileged != nil && *sc.Privileged:
			t.Error("container is privileged")
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Errorf("capabilities %+v, want drop [ALL] and nothing added", sc.Capabilities)
		case sc.RunAsUser != nil && *sc.RunAsUser == 0:
			t.Error("container runs as root")
		case sc.SeccompProfile != nil && sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Error("container overrides seccomp")
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := c.Resources.Requests[res], c.Resources.Limits[res]
			if req.IsZero() || lim.IsZero() {
				t.Errorf("%s request %v limit %v: want both", res, req.String(), lim.String())
			} else if req.Cmp(lim) > 0 {
				t.Errorf("%s request %v above its limit %v", res, req.String(), lim.String())
			}
		}
	}
}

func checkProbe(t *testing.T, what string, p *corev1.Probe, path string, c corev1.Container) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("no %s probe over HTTP", what)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s probe on %s, want %s", what, p.HTTPGet.Path, path)
	}
	if !hasPort(c, p.HTTPGet.Port) {
		t.Errorf("%s probe on port %s, which the container does not declare", what, p.HTTPGet.Port.String())
	}
}

func hasPort(c corev1.Container, port intstr.IntOrString) bool {
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

// podEnv resolves the container's environment as the kubelet would: the
// envFrom ConfigMaps, then env, with $(VAR) references expanded. A value
// from a Secret stands as a placeholder: the test fills in real secrets.
func podEnv(t *testing.T, r *rendered, name string, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Fatalf("%s: envFrom other than a ConfigMap", name)
		}
		cm := r.configMaps[from.ConfigMapRef.Name]
		if cm == nil {
			t.Fatalf("%s: envFrom ConfigMap %s does not exist", name, from.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = ref.ReplaceAllStringFunc(e.Value, func(m string) string {
				if v, ok := env[m[2:len(m)-1]]; ok {
					return v
				}
				t.Errorf("%s: %s refers to %s, defined nowhere before it", name, e.Name, m)
				return m
			})
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	return env
}

// TestDeploymentsConfigureTheirBinaries reads each worker's Config from the
// environment its Deployment gets (ConfigMaps and env, Secrets filled in)
// exactly as the binary does, and validates it: a misspelt variable, a bad
// value or a missing setting fails here rather than in a crash-looping pod.
// Every SOCIALSYNC_* variable in the manifests must be one some binary reads.
func TestDeploymentsConfigureTheirBinaries(t *testing.T) {
	configs := map[string]func() (any, func() error){
		"fetcher":  func() (any, func() error) { var c fetcher.Config; return &c, func() error { return c.Validate() } },
		"enricher": func() (any, func() error) { var c enricher.Config; return &c, func() error { return c.Validate() } },
		"stats":    func() (any, func() error) { var c stats.Config; return &c, func() error { return c.Config.Validate() } },
		"contactsync": func() (any, func() error) {
			var c contactsync.Config
			return &c, func() error { return c.Config.Validate() }
		},
		"automation": func() (any, func() error) {
			var c automationworker.Config
			return &c, func() error { return c.Config.Validate() }
		},
		// stats, contactsync and automation validate their own settings in New; the
		// gateway's Config lives on its own branch: the shared settings
		// are checked for both. The gateway holds no token key and no
		// client secret, and refuses to start with either.
		"gateway": func() (any, func() error) {
			var c fleet.Config
			return &c, func() error { return c.ValidateWithoutTokens() }
		},
	}
	for _, ov := range overlays {
		r := render(t, ov.name)
		for name, d := range r.deployments {
			t.Run(ov.name+"/"+name, func(t *testing.T) {
				newConfig, ok := configs[name]
				if !ok {
					t.Fatalf("no Config type known for %s", name)
				}
				env := podEnv(t, r, d.Name, d.Spec.Template.Spec.Containers[0])
				known := map[string]bool{}
				spec, _ := newConfig()
				var usage strings.Builder
				if err := fleet.Usage(&usage, spec); err != nil {
					t.Fatal(err)
				}
				for _, line := range strings.Split(usage.String(), "\n") {
					if f := strings.Fields(line); len(f) > 0 {
						known[f[0]] = true
					}
				}
				if name == "gateway" {
					for _, v := range gatewayVars {
						known[v] = true
					}
				}
				for k := range env {
					if strings.HasPrefix(k, "SOCIALSYNC_") && !known[k] && !sharedByOthers(k) {
						t.Errorf("%s is set but %s does not read it", k, name)
					}
				}
				if got := env["SOCIALSYNC_STREAM_REPLICAS"]; got != strconv.Itoa(ov.streamReplicas) {
					t.Errorf("SOCIALSYNC_STREAM_REPLICAS=%q, want %d", got, ov.streamReplicas)
				}
				wantURL := "nats://" + name + ":secret:socialsync-nats/" + name + "-password@"
				if !strings.HasPrefix(env["SOCIALSYNC_NATS_URL"], wantURL) {
					t.Errorf("SOCIALSYNC_NATS_URL=%q, want the %s user with its own password", env["SOCIALSYNC_NATS_URL"], name)
				}
				// The fleet-wide rate settings the manifests set are the
				// binaries' own defaults (every process must use the same).
				rates := reflect.TypeFor[fleet.RateSettings]()
				for i := range rates.NumField() {
					f := rates.Field(i)
					key, def := f.Tag.Get("envconfig"), f.Tag.Get("default")
					if got, set := env["SOCIALSYNC_"+key]; set && strings.HasPrefix(key, "RATE_") && def != "" && got != def {
						t.Errorf("SOCIALSYNC_%s=%q in the manifests, but the binaries' default is %q", key, got, def)
					}
				}
				// Fill in the Secrets and read the config as the binary would.
				env["SOCIALSYNC_NATS_URL"] = strings.Replace(env["SOCIALSYNC_NATS_URL"], "secret:socialsync-nats/"+name+"-password", "pw", 1)
				if name == "gateway" {
					for _, secret := range []string{"SOCIALSYNC_TOKEN_KEY", "SOCIALSYNC_GHL_CLIENT_SECRET"} {
						if _, ok := env[secret]; ok {
							t.Errorf("the gateway is given %s: it holds no token key and no client secret (docs/security.md)", secret)
						}
					}
				} else {
					env["SOCIALSYNC_TOKEN_KEY"] = creds.NewKey()
				}
				delete(env, "SOCIALSYNC_GHL_CLIENT_ID") // optional: a PIT-only fleet
				delete(env, "SOCIALSYNC_GHL_CLIENT_SECRET")
				for k, v := range env {
					t.Setenv(k, v)
				}
				cfg, validate := newConfig()
				if err := envconfig.Process("socialsync", cfg); err != nil {
					t.Fatalf("read %s's configuration: %v", name, err)
				}
				if err := validate(); err != nil {
					t.Errorf("%s's configuration from its Deployment is invalid: %v", name, err)
				}
			})
		}
	}
}

// gatewayVars are the gateway's own settings (services/gateway's Config,
// built on its own branch).
var gatewayVars = []string{"SOCIALSYNC_WEBHOOK_SECRET", "SOCIALSYNC_WEBHOOK_SECRETS", "SOCIALSYNC_API_KEY_HASHES",
	"SOCIALSYNC_WEBHOOK_MAX_BYTES", "SOCIALSYNC_WEBHOOK_TOLERANCE", "SOCIALSYNC_GATEWAY_PUBLISH_TIMEOUT",
	"SOCIALSYNC_HIGHLEVEL_WEBHOOK_KEY", "SOCIALSYNC_HIGHLEVEL_WEBHOOK_LEGACY_KEY"}

// sharedByOthers lists the shared ConfigMap's variables that only some
// binaries read (the contact tag prefix: enricher, contactsync and automation).
func sharedByOthers(name string) bool { return name == "SOCIALSYNC_CONTACT_TAG_PREFIX" }

// TestEveryDeploymentIsCovered checks the objects that go with each
// Deployment: a PodDisruptionBudget, the default-deny NetworkPolicy and the
// flows it needs, a ScaledObject per worker on the durables the code
// declares, the gateway's Service.
func TestEveryDeploymentIsCovered(t *testing.T) {
	topo := topology.New(topology.Options{})
	for _, ov := range overlays {
		r := render(t, ov.name)
		var denyAll bool
		for _, np := range r.netpols {
			if len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.PodSelector.MatchExpressions) == 0 &&
				len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 &&
				slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) && slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
				denyAll = true
			}
		}
		if !denyAll {
			t.Errorf("%s: no default-deny NetworkPolicy (empty pod selector, Ingress and Egress, no rules)", ov.name)
		}
		for name, d := range r.deployments {
			t.Run(ov.name+"/"+name, func(t *testing.T) {
				podLabels := labels.Set(d.Spec.Template.Labels)
				sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
				if err != nil || !sel.Matches(podLabels) {
					t.Fatalf("the Deployment's selector does not match its pods: %v", err)
				}
				var pdbs []string
				for pn, pdb := range r.pdbs {
					if s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil && s.Matches(podLabels) {
						pdbs = append(pdbs, pn)
						if (pdb.Spec.MinAvailable == nil) == (pdb.Spec.MaxUnavailable == nil) {
							t.Errorf("PodDisruptionBudget %s: want exactly one of minAvailable and maxUnavailable", pn)
						}
					}
				}
				if len(pdbs) != 1 {
					t.Errorf("selected by PodDisruptionBudgets %v, want exactly one", pdbs)
				}

				// The flows: egress to DNS (53) and NATS (4222) for all,
				// to HighLevel (443) for the workers only; ingress on the
				// HTTP port (Prometheus for all, clients for the gateway).
				egress := allowedPorts(t, r, podLabels, networkingv1.PolicyTypeEgress)
				ingress := allowedPorts(t, r, podLabels, networkingv1.PolicyTypeIngress)
				for _, p := range []string{"53/UDP", "53/TCP", "4222/TCP"} {
					if !egress[p] {
						t.Errorf("no egress on %s", p)
					}
				}
				isWorker := slices.Contains(workers, name)
				if egress["443/TCP"] != isWorker {
					t.Errorf("egress on 443 (HighLevel): %v, want %v", egress["443/TCP"], isWorker)
				}
				if !ingress["http/TCP"] {
					t.Error("no ingress on the HTTP port (Prometheus scrape)")
				}
				if len(egress) > 0 && !slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool {
					return hasPort(c, intstr.FromString("http"))
				}) {
					t.Error("the container has no port named http for the policies")
				}

				so := r.scaledObjects[name]
				if !isWorker {
					if so != nil {
						t.Errorf("the %s is scaled by KEDA", name)
					}
					return
				}
				if so == nil {
					t.Fatal("no ScaledObject")
				}
				if so.Spec.ScaleTargetRef.Name != name || (so.Spec.ScaleTargetRef.Kind != "" && so.Spec.ScaleTargetRef.Kind != "Deployment") {
					t.Errorf("ScaledObject targets %+v", so.Spec.ScaleTargetRef)
				}
				if d.Spec.Replicas != nil {
					t.Error("the Deployment sets replicas, which every apply would reset under KEDA")
				}
				if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 1 || so.Spec.MaxReplicaCount == nil || *so.Spec.MaxReplicaCount < *so.Spec.MinReplicaCount {
					t.Errorf("replica bounds %v..%v, want at least 1 (schedules and the poller run in the workers)", so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount)
				}
				if len(so.Spec.Triggers) == 0 {
					t.Fatal("no triggers")
				}
				for _, tr := range so.Spec.Triggers {
					m := tr.Metadata
					if tr.Type != "nats-jetstream" {
						t.Errorf("trigger type %q, want nats-jetstream", tr.Type)
						continue
					}
					for k := range m {
						if !slices.Contains(jetstreamScalerKeys, k) {
							t.Errorf("trigger metadata %q: not a parameter of KEDA's nats-jetstream scaler", k)
						}
					}
					spec, ok := topo.Consumer(m["stream"], m["consumer"])
					if !ok {
						t.Errorf("trigger on %s/%s: no such durable in topology.New", m["stream"], m["consumer"])
					} else if owner := cmp.Or(durableOwner[spec.Config.Durable], spec.Config.Durable); owner != name {
						t.Errorf("trigger on %s/%s: the durable of %s, not %s", m["stream"], m["consumer"], owner, name)
					}
					if m["account"] != "SOCIALSYNC" {
						t.Errorf("trigger account %q, want the SOCIALSYNC account of nats/accounts.conf", m["account"])
					}
					if _, err := strconv.Atoi(m["lagThreshold"]); err != nil || m["natsServerMonitoringEndpoint"] == "" {
						t.Errorf("trigger metadata %v: want a monitoring endpoint and a numeric lagThreshold", m)
					}
				}
			})
		}
		svc := r.services["gateway"]
		if svc == nil {
			t.Fatalf("%s: no gateway Service", ov.name)
		}
		gw := r.deployments["gateway"]
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(gw.Spec.Template.Labels)) {
			t.Errorf("%s: the gateway Service does not select the gateway pods", ov.name)
		}
		for _, p := range svc.Spec.Ports {
			if !hasPort(gw.Spec.Template.Spec.Containers[0], p.TargetPort) {
				t.Errorf("%s: Service port %s targets %s, which the gateway does not declare", ov.name, p.Name, p.TargetPort.String())
			}
		}
	}
}

// allowedPorts lists "port/PROTOCOL" that the NetworkPolicies selecting
// pods allow in direction dir.
func allowedPorts(t *testing.T, r *rendered, pod labels.Set, dir networkingv1.PolicyType) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for name, np := range r.netpols {
		s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Fatalf("NetworkPolicy %s: %v", name, err)
		}
		if !s.Matches(pod) || !slices.Contains(np.Spec.PolicyTypes, dir) {
			continue
		}
		var ports [][]networkingv1.NetworkPolicyPort
		if dir == networkingv1.PolicyTypeEgress {
			for _, e := range np.Spec.Egress {
				ports = append(ports, e.Ports)
			}
		} else {
			for _, i := range np.Spec.Ingress {
				ports = append(ports, i.Ports)
			}
		}
		for _, ps := range ports {
			for _, p := range ps {
				proto := "TCP"
				if p.Protocol != nil {
					proto = string(*p.Protocol)
				}
				out[fmt.Sprintf("%s/%s", p.Port.String(), proto)] = true
			}
		}
	}
	return out
}
