package deploy

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// natsPolicyFile holds the NetworkPolicies of the nats namespace.
const natsPolicyFile = "nats/networkpolicy.yaml"

// peer is who may connect: its namespace's name, and its pod's labels.
type peer struct {
	namespace string
	pod       labels.Set
}

// TestNATSNetworkPolicy decodes the nats namespace's NetworkPolicies
// strictly and asks them, as the API server would, who may reach a NATS
// server on which port: the socialsync pods of both overlays the client
// port, KEDA and Prometheus the monitoring port, the servers one another
// the cluster port, and nobody else anything.
func TestNATSNetworkPolicy(t *testing.T) {
	natsPod := labels.Set{"app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "nats"}
	may := natsPolicy(t)
	socialsync := labels.Set{"app.kubernetes.io/part-of": "socialsync", "app.kubernetes.io/name": "fetcher"}
	keda := labels.Set{"app.kubernetes.io/name": "keda-operator"}
	prometheus := labels.Set{"app.kubernetes.io/name": "prometheus"}
	for _, c := range []struct {
		what string
		from peer
		port int32
		want bool
	}{
		{"a socialsync worker (prod) on the client port", peer{"socialsync", socialsync}, 4222, true},
		{"a socialsync worker (dev) on the client port", peer{"socialsync-dev", socialsync}, 4222, true},
		{"a socialsync worker on the monitoring port", peer{"socialsync", socialsync}, 8222, false},
		{"KEDA on the monitoring port", peer{"keda", keda}, 8222, true},
		{"KEDA on the client port", peer{"keda", keda}, 4222, false},
		{"Prometheus on the monitoring port", peer{"monitoring", prometheus}, 8222, true},
		{"another pod of the monitoring namespace", peer{"monitoring", labels.Set{"app": "grafana"}}, 8222, false},
		{"a pod of another namespace on the monitoring port", peer{"default", labels.Set{"app": "web"}}, 8222, false},
		{"a pod of another namespace on the client port", peer{"default", labels.Set{"app": "web"}}, 4222, false},
		{"a pod labelled socialsync in another namespace", peer{"default", socialsync}, 4222, false},
		{"another NATS server on the cluster port", peer{"nats", natsPod}, 6222, true},
		{"a socialsync worker on the cluster port", peer{"socialsync", socialsync}, 6222, false},
	} {
		if got := may(c.from, c.port); got != c.want {
			t.Errorf("%s: admitted %v, want %v", c.what, got, c.want)
		}
	}
	for _, ov := range overlays {
		if !may(peer{ov.namespace, socialsync}, 4222) {
			t.Errorf("the %s overlay's namespace %s may not reach NATS", ov.name, ov.namespace)
		}
	}
}

// natsPolicy decodes the nats namespace's NetworkPolicies strictly and
// returns may, which reports whether from may reach a NATS server's port,
// as the policies selecting its pods admit it, as the API server would; a
// pod no policy selects would be open to all.
func natsPolicy(t *testing.T) (may func(from peer, port int32) bool) {
	t.Helper()
	data, err := os.ReadFile(natsPolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := networkingv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true, Strict: true})
	var policies []*networkingv1.NetworkPolicy
	reader := utilyaml.NewYAMLReader(bufioReader(data))
	for {
		doc, err := reader.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := strict.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("%s does not decode strictly: %v", natsPolicyFile, err)
		}
		np, ok := obj.(*networkingv1.NetworkPolicy)
		if !ok {
			t.Fatalf("%s holds a %T", natsPolicyFile, obj)
		}
		if np.Namespace != "nats" {
			t.Errorf("NetworkPolicy %s is in namespace %q, want nats", np.Name, np.Namespace)
		}
		policies = append(policies, np)
	}
	natsPod := labels.Set{"app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "nats"}
	return func(from peer, port int32) bool {
		selected, admitted := false, false
		for _, np := range policies {
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err != nil {
				t.Fatal(err)
			}
			if !sel.Matches(natsPod) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
				continue
			}
			selected = true
			for _, rule := range np.Spec.Ingress {
				if admits(t, rule, from, port) {
					admitted = true
				}
			}
		}
		return !selected || admitted
	}
}

// admits reports whether rule, of a policy in the nats namespace, admits
// from on port.
func admits(t *testing.T, rule networkingv1.NetworkPolicyIngressRule, from peer, port int32) bool {
	t.Helper()
	portOK := len(rule.Ports) == 0
	for _, p := range rule.Ports {
		if p.Port == nil || p.Port.IntVal == port {
			portOK = true
		}
	}
	if !portOK {
		return false
	}
	if len(rule.From) == 0 {
		return true
	}
	nsLabels := labels.Set{"kubernetes.io/metadata.name": from.namespace}
	for _, p := range rule.From {
		if p.IPBlock != nil {
			continue
		}
		nsOK := p.NamespaceSelector == nil && from.namespace == "nats"
		if p.NamespaceSelector != nil {
			s, err := metav1.LabelSelectorAsSelector(p.NamespaceSelector)
			if err != nil {
				t.Fatal(err)
			}
			nsOK = s.Matches(nsLabels)
		}
		podOK := true
		if p.PodSelector != nil {
			s, err := metav1.LabelSelectorAsSelector(p.PodSelector)
			if err != nil {
				t.Fatal(err)
			}
			podOK = s.Matches(from.pod)
		}
		if nsOK && podOK {
			return true
		}
	}
	return false
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
