package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/sources"
	"github.com/socialsync/socialsync/pkg/topology"
)

// `socialsync sources` adds, binds, unbinds, lists and removes the
// bindings the gateway reads, and refuses what it cannot store.
func TestSourcesCommands(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	url := env.URL()
	ok := func(args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, append([]string{"sources"}, args...)...)
		if code != 0 {
			t.Fatalf("sources %v: exit %d: %s%s", args, code, out, errOut)
		}
		return out
	}
	binding := func(source string) sources.Binding {
		t.Helper()
		s, err := sources.Open(context.Background(), env.JS)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Get(context.Background(), source)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	if out := ok("list", "--nats", url); !strings.Contains(out, "no webhook source is bound") {
		t.Errorf("list before any binding:\n%s", out)
	}
	if out := ok("add", "crm", "--nats", url, "--locations", "Loc2,Loc1"); !strings.Contains(out, "source crm speaks for locations Loc1, Loc2") {
		t.Errorf("add: %s", out)
	}
	ok("bind", "crm", "--nats", url, "--companies", "Co1")
	ok("bind", "shop", "--nats", url, "--locations", "Loc3")
	if b := binding("crm"); strings.Join(b.Locations, ",") != "Loc1,Loc2" || strings.Join(b.Companies, ",") != "Co1" {
		t.Errorf("crm's binding: %+v", b)
	}
	ok("unbind", "crm", "--nats", url, "--locations", "Loc2")
	out := ok("list", "--nats", url)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "crm ") || !strings.Contains(lines[1], "Loc1") || strings.Contains(lines[1], "Loc2") ||
		!strings.Contains(lines[1], "Co1") || !strings.HasPrefix(lines[2], "shop ") {
		t.Errorf("list:\n%s", out)
	}
	if out := ok("remove", "shop", "--nats", url); !strings.Contains(out, "removed") {
		t.Errorf("remove: %s", out)
	}

	for _, bad := range []struct {
		args []string
		says string
		code int
	}{
		{[]string{"add", "crm", "--nats", url, "--locations", "Loc9"}, "bound already", 2},
		{[]string{"bind", "--locations", "Loc1"}, "source's name first", 2},
		{[]string{"bind", "a.b", "--nats", url, "--locations", "Loc1"}, "source", 2},
		{[]string{"bind", "crm", "--nats", url}, "--locations, --companies", 2},
		{[]string{"bind", "crm", "--nats", url, "--locations", "Loc-1"}, "locations[0]", 2},
		{[]string{"unbind", "crm", "--nats", url, "--locations", "Loc1", "--companies", "Co1"}, "sources remove crm", 2},
		{[]string{"unbind", "nobody", "--nats", url, "--locations", "Loc1"}, "no binding", 1},
		{[]string{"remove", "shop", "--nats", url}, "no binding", 1},
		{[]string{"rename"}, "unknown subcommand", 2},
	} {
		out, errOut, code := runCLI(t, append([]string{"sources"}, bad.args...)...)
		if code != bad.code || !strings.Contains(errOut, bad.says) {
			t.Errorf("sources %v: exit %d, %s%s; want %d saying %q", bad.args, code, out, errOut, bad.code, bad.says)
		}
	}
	// A location added with a PIT carries the company it is given, for
	// bindings to the company.
	t.Setenv("SOCIALSYNC_TOKEN_KEY", creds.NewKey())
	if out, errOut, code := runCLI(t, "locations", "add", "--nats", url, "--location", "Loc7", "--pit", "pit-0123456789", "--company", "Co1"); code != 0 {
		t.Fatalf("locations add --company: exit %d: %s%s", code, out, errOut)
	}
	c, store, err := openStore(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if l, err := store.Location(context.Background(), "Loc7"); err != nil || l.CompanyID != "Co1" {
		t.Errorf("Loc7 after locations add --company Co1: %+v, %v", l, err)
	}
	if _, errOut, code := runCLI(t, "locations", "add", "--nats", url, "--location", "Loc8", "--pit", "pit-0123456789", "--company", "a.b"); code != 2 || !strings.Contains(errOut, "--company") {
		t.Errorf("locations add --company a.b: exit %d, %s", code, errOut)
	}
	// The refusals changed nothing.
	if b := binding("crm"); strings.Join(b.Locations, ",") != "Loc1" || strings.Join(b.Companies, ",") != "Co1" {
		t.Errorf("crm's binding after the refusals: %+v", b)
	}
}
