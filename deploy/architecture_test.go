package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// repo is the import path prefix of every module of ours.
const repo = "github.com/socialsync/socialsync/"

// composition names the modules that compose the services (the CLI and
// all-in-one binary with its end-to-end tests, and these deployment
// tests): they may import every service; no other module may.
var composition = map[string]bool{
	repo + "services/socialsync": true,
	repo + "deploy":              true,
}

// TestArchitecture asserts the layering docs/contributing.md states, over
// every module of the workspace as `go list` sees it (tests included):
// the module graph is a star (a service's go.mod names pkg and proto,
// never another service), no service package imports another service's,
// a service's domain packages (services/<worker>/<domain>) do not import
// NATS, pkg imports no service, and no code builds an oauth2 token source
// that refreshes on its own (tokenSourceUses).
func TestArchitecture(t *testing.T) {
	ws := loadWorkspace(t)
	tests := []struct {
		name  string
		check func(m module) []string
	}{
		{"service go.mod names no other service", func(m module) []string {
			if !m.isService() && !strings.HasPrefix(m.Path, repo+"pkg") && !strings.HasPrefix(m.Path, repo+"proto") {
				return nil
			}
			var bad []string
			for _, r := range m.Requires {
				if strings.HasPrefix(r, repo+"services/") {
					bad = append(bad, fmt.Sprintf("%s/go.mod requires %s", m.Dir, r))
				}
			}
			return bad
		}},
		{"no service package imports another service", func(m module) []string {
			if !m.isService() && !strings.HasPrefix(m.Path, repo+"pkg") {
				return nil
			}
			var bad []string
			for _, p := range m.Packages {
				for _, d := range p.Deps {
					if strings.HasPrefix(d, repo+"services/") && !within(d, m.Path) {
						bad = append(bad, fmt.Sprintf("%s imports %s", p.Path, d))
					}
				}
			}
			return bad
		}},
		{"domain packages do not import NATS", func(m module) []string {
			if !m.isService() {
				return nil
			}
			var bad []string
			for _, p := range m.Packages {
				rel := strings.TrimPrefix(strings.TrimPrefix(p.Path, m.Path), "/")
				if rel == "" || rel == "cmd" || strings.HasPrefix(rel, "cmd/") || p.Test {
					continue // the worker's adapter and its main
				}
				for _, d := range p.Deps {
					if strings.HasPrefix(d, "github.com/nats-io/") {
						bad = append(bad, fmt.Sprintf("%s imports %s", p.Path, d))
						break
					}
				}
			}
			return bad
		}},
		{"no oauth2 token source refreshes on its own", func(m module) []string {
			return tokenSourceUses(t, filepath.Join("..", m.Dir))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bad []string
			for _, m := range ws {
				bad = append(bad, tt.check(m)...)
			}
			slices.Sort(bad)
			for _, b := range slices.Compact(bad) {
				t.Error(b)
			}
		})
	}
}

// module is one module of the workspace with its packages.
type module struct {
	Dir, Path string
	Requires  []string
	Packages  []pkg
}

// pkg is a package (or the test build of one) and everything it
// imports, directly or not.
type pkg struct {
	Path string
	Test bool
	Deps []string
}

// isService reports a worker's module (services/<worker>) that is not a
// composition module.
func (m module) isService() bool {
	return strings.HasPrefix(m.Path, repo+"services/") && !composition[m.Path]
}

// within reports whether import path p is module path mod or below it.
func within(p, mod string) bool { return p == mod || strings.HasPrefix(p, mod+"/") }

// loadWorkspace lists the modules of ../go.work with `go mod edit -json`
// and their packages with `go list -test` (each with its .Deps, what
// `go list -deps` prints).
func loadWorkspace(t *testing.T) []module {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(root, "go.work")
	var w struct{ Use []struct{ DiskPath string } }
	decode(t, goCmd(t, root, work, "work", "edit", "-json", work), &w)
	var out []module
	for _, u := range w.Use {
		dir := filepath.Join(root, u.DiskPath)
		var mf struct {
			Module  struct{ Path string }
			Require []struct{ Path string }
			Replace []struct{ Old struct{ Path string } }
		}
		decode(t, goCmd(t, dir, work, "mod", "edit", "-json"), &mf)
		m := module{Dir: filepath.Clean(u.DiskPath), Path: mf.Module.Path}
		for _, r := range mf.Require {
			m.Requires = append(m.Requires, r.Path)
		}
		for _, r := range mf.Replace {
			m.Requires = append(m.Requires, r.Old.Path)
		}
		list := goCmd(t, dir, work, "list", "-e", "-test", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...")
		for line := range strings.Lines(string(list)) {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			p := pkg{Path: f[0]}
			// A test build is listed as "p [p.test]" (fields[1] is "[p.test]"),
			// its test main as "p.test".
			if len(f) > 1 && strings.HasPrefix(f[1], "[") {
				p.Test, f = true, slices.Delete(f, 1, 2)
			}
			if strings.HasSuffix(p.Path, ".test") {
				continue
			}
			p.Path = strings.TrimSuffix(p.Path, "_test")
			p.Deps = f[1:]
			m.Packages = append(m.Packages, p)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		t.Fatal("go.work uses no module")
	}
	return out
}

// goCmd runs the go command in dir against the workspace file work.
func goCmd(t *testing.T, dir, work string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK="+work, "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return out
}

func decode(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}
