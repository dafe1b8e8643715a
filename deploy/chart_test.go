package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
)

// chartValues is the part of the NATS chart's values these tests read.
type chartValues struct {
	Config struct {
		NATS struct {
			TLS struct {
				Enabled    bool   `json:"enabled"`
				SecretName string `json:"secretName"`
				Cert       string `json:"cert"`
				Key        string `json:"key"`
			} `json:"tls"`
		} `json:"nats"`
		Cluster struct {
			Enabled  bool `json:"enabled"`
			Replicas int  `json:"replicas"`
		} `json:"cluster"`
		JetStream struct {
			Enabled   bool `json:"enabled"`
			FileStore struct {
				Enabled bool   `json:"enabled"`
				Dir     string `json:"dir"`
				PVC     struct {
					Enabled bool   `json:"enabled"`
					Size    string `json:"size"`
				} `json:"pvc"`
			} `json:"fileStore"`
			Merge map[string]any `json:"merge"`
		} `json:"jetstream"`
		Monitor struct {
			Enabled bool `json:"enabled"`
			Port    int  `json:"port"`
		} `json:"monitor"`
		Merge map[string]any `json:"merge"`
	} `json:"config"`
	Container struct {
		Env map[string]struct {
			ValueFrom struct {
				SecretKeyRef struct {
					Name string `json:"name"`
					Key  string `json:"key"`
				} `json:"secretKeyRef"`
			} `json:"valueFrom"`
		} `json:"env"`
	} `json:"container"`
}

func readValues(t *testing.T) chartValues {
	t.Helper()
	data, err := os.ReadFile(valuesFile)
	if err != nil {
		t.Fatal(err)
	}
	var v chartValues
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", valuesFile, err)
	}
	return v
}

// chartConfig writes the nats-server configuration the chart renders from
// values.yaml, as far as these values go (the client TLS block, the
// jetstream block with its merged settings, the merged top-level settings,
// the include of the accounts file), with accounts.conf copied beside it
// byte for byte, and returns its path. The store directory is the test's;
// the certificates the Secret holds in the cluster are tlsFiles'.
func chartConfig(t *testing.T, tlsFiles fleettest.TLSFiles) string {
	t.Helper()
	v := readValues(t)
	dir := t.TempDir()
	accounts, err := os.ReadFile(accountsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts.conf"), accounts, 0o600); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if v.Config.NATS.TLS.Enabled {
		fmt.Fprintf(&b, "tls {\n  cert_file: %q\n  key_file: %q\n}\n", tlsFiles.ServerCert, tlsFiles.ServerKey)
	}
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n", filepath.Join(dir, "js"))
	for _, k := range slices.Sorted(maps.Keys(v.Config.JetStream.Merge)) {
		fmt.Fprintf(&b, "  %s: %q\n", k, fmt.Sprint(v.Config.JetStream.Merge[k]))
	}
	b.WriteString("}\n")
	for _, k := range slices.Sorted(maps.Keys(v.Config.Merge)) {
		val := fmt.Sprint(v.Config.Merge[k])
		if strings.HasSuffix(k, "$include") {
			fmt.Fprintf(&b, "include %q\n", val)
			continue
		}
		fmt.Fprintf(&b, "%s: %q\n", k, val)
	}
	path := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestChartValues checks the NATS values the issue asks for: three nodes,
// JetStream on file storage, writes synced, the accounts included, and a
// password variable from a Secret for every user accounts.conf names.
func TestChartValues(t *testing.T) {
	v := readValues(t)
	c := v.Config
	if !c.Cluster.Enabled || c.Cluster.Replicas != 3 {
		t.Errorf("cluster %+v, want enabled with 3 replicas", c.Cluster)
	}
	if !c.JetStream.Enabled || !c.JetStream.FileStore.Enabled || !c.JetStream.FileStore.PVC.Enabled || c.JetStream.FileStore.PVC.Size == "" {
		t.Errorf("jetstream %+v, want file storage on a persistent volume", c.JetStream)
	}
	if got := c.JetStream.Merge["sync_interval"]; got != "always" {
		t.Errorf("jetstream sync_interval %v, want always", got)
	}
	if !c.Monitor.Enabled || c.Monitor.Port != 8222 {
		t.Errorf("monitor %+v, want enabled on 8222 (KEDA reads /jsz there)", c.Monitor)
	}
	if tls := c.NATS.TLS; !tls.Enabled || tls.SecretName == "" || tls.Cert == "" || tls.Key == "" {
		t.Errorf("client TLS %+v, want enabled with the certificate and key from a Secret", tls)
	}
	if got := c.Merge["$include"]; got != "accounts.conf" {
		t.Errorf("config.merge.$include %v, want accounts.conf", got)
	}
	accounts, err := os.ReadFile(accountsFile)
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`password: \$(SOCIALSYNC_NATS_[A-Z]+_PASSWORD)`).FindAllStringSubmatch(string(accounts), -1)
	if len(vars) != len(users) {
		t.Errorf("accounts.conf has %d password variables, want one per user (%d)", len(vars), len(users))
	}
	for _, m := range vars {
		e, ok := v.Container.Env[m[1]]
		if !ok {
			t.Errorf("accounts.conf reads $%s, which the chart's container does not set", m[1])
			continue
		}
		if e.ValueFrom.SecretKeyRef.Name == "" || e.ValueFrom.SecretKeyRef.Key == "" {
			t.Errorf("%s does not come from a Secret", m[1])
		}
	}
}
