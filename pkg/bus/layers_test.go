package bus_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestBusImportsOnlyTheLeaf checks that the bus knows neither HighLevel
// nor socialsync's schema: of this repository's packages it depends on the
// leaf layer alone (docs/architecture.md#layers).
func TestBusImportsOnlyTheLeaf(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the dependencies with")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const ours = "github.com/socialsync/socialsync/"
	allowed := []string{ours + "pkg/bus", ours + "pkg/ids", ours + "proto/socialsync/v1"}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, ours) && !slices.Contains(allowed, dep) {
			t.Errorf("pkg/bus depends on %s; it may depend on pkg/ids and proto only", dep)
		}
	}
}
