package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
)

// runCLIIn runs the command line as runCLI does, with stdin as standard
// input.
func runCLIIn(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Log: slog.New(slog.NewTextHandler(&errOut, nil)), Now: time.Now}
	code := mainEnv(context.Background(), env, args)
	return out.String(), errOut.String(), code
}

// storedToken opens the tokens bucket of env with keys and returns loc's
// access token.
func storedToken(t *testing.T, env *bustest.Env, keys, loc string) (string, error) {
	t.Helper()
	kr, err := creds.ParseKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	s, err := creds.Open(context.Background(), env.JS, kr)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Token(context.Background(), loc)
	return tok.AccessToken, err
}

// A token given as a file or on standard input is stored without its
// trailing newline and without a warning; one given as a flag value
// works, with a warning. No output or error shows a token.
func TestLocationsAddReadsTokensFromFileAndStdin(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	key := creds.NewKey()
	t.Setenv("SOCIALSYNC_TOKEN_KEY", key)
	const fromFile, fromStdin, fromFlag = "pit-from-file-1b2c", "pit-from-stdin-3d4e", "pit-from-flag-5f6a"
	file := filepath.Join(t.TempDir(), "pit")
	if err := os.WriteFile(file, []byte(fromFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	run := func(stdin string, wantCode int, args ...string) string {
		t.Helper()
		out, errOut, code := runCLIIn(t, stdin, append([]string{"locations", "add", "--nats", env.URL()}, args...)...)
		all.WriteString(out + errOut)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d: %s%s", args, code, wantCode, out, errOut)
		}
		return errOut
	}
	if errOut := run("", 0, "--location", "Loc1", "--pit-file", file); strings.Contains(errOut, "warning") {
		t.Errorf("--pit-file warned: %s", errOut)
	}
	if errOut := run(fromStdin+"\r\n", 0, "--location", "Loc2", "--pit-file", "-"); strings.Contains(errOut, "warning") {
		t.Errorf("--pit-file - warned: %s", errOut)
	}
	if errOut := run("", 0, "--location", "Loc3", "--pit", fromFlag); !strings.Contains(errOut, "warning: --pit shows the secret in the process list") {
		t.Errorf("--pit gave no warning: %q", errOut)
	}
	for loc, want := range map[string]string{"Loc1": fromFile, "Loc2": fromStdin, "Loc3": fromFlag} {
		if got, err := storedToken(t, env, key, loc); err != nil || got != want {
			t.Errorf("%s: stored %q, %v; want %q", loc, got, err, want)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("", 2, "--location", "Loc4", "--pit", fromFlag, "--pit-file", file)
	run("", 2, "--location", "Loc4", "--pit-file", empty)
	run("", 2, "--location", "Loc4", "--pit-file", "-")
	run("", 2, "--location", "Loc4", "--pit-file", file, "--refresh-token-file", "-")
	run("", 1, "--location", "Loc4", "--pit-file", filepath.Join(t.TempDir(), "missing"))
	for _, secret := range []string{fromFile, fromStdin, fromFlag} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("the output shows token %q:\n%s", secret, all.String())
		}
	}
}

// Records sealed under key A, then the keyring B,A: list and doctor name
// the records under the old key, reseal moves them all (a dry run none),
// and afterwards key B alone opens every record and nothing is old.
func TestLocationsResealFinishesARotation(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	sim, _, _ := oauthSandbox(t)
	a, b := creds.NewKey(), creds.NewKey()
	t.Setenv("SOCIALSYNC_TOKEN_KEY", a)
	locs := sim.Locations()[:2]
	var all strings.Builder
	// run runs command (its words in one string) with --nats and args.
	run := func(wantCode int, command string, args ...string) string {
		t.Helper()
		args = append(append(strings.Fields(command), "--nats", env.URL()), args...)
		out, errOut, code := runCLIIn(t, "", args...)
		all.WriteString(out + errOut)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d: %s%s", args, code, wantCode, out, errOut)
		}
		return out
	}
	for _, l := range locs {
		file := filepath.Join(t.TempDir(), "pit")
		if err := os.WriteFile(file, []byte(l.Token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		run(0, "locations add", "--location", l.ID, "--pit-file", file)
	}
	t.Setenv("SOCIALSYNC_TOKEN_KEY", b+","+a)
	oldKey := regexp.MustCompile(`(?m)^` + locs[0].ID + ` .* old [0-9a-f]{16} `)
	const warning = "2 of 2 token records are sealed under an old key: run `socialsync locations reseal`"
	if list := run(0, "locations list"); !oldKey.MatchString(list) || !strings.Contains(list, "KEY") || !strings.Contains(list, warning) {
		t.Errorf("list before reseal does not name the old key:\n%s", list)
	}
	if doc := run(0, "doctor", "--location", locs[0].ID); !strings.Contains(doc, "token key: old ") || !strings.Contains(doc, warning) {
		t.Errorf("doctor before reseal does not warn:\n%s", doc)
	}
	if out := run(0, "locations reseal", "--dry-run"); !strings.Contains(out, "would reseal 2, already current 0, failed 0") {
		t.Errorf("dry run: %s", out)
	}
	if list := run(0, "locations list"); !strings.Contains(list, warning) {
		t.Errorf("the dry run resealed:\n%s", list)
	}
	if out := run(0, "locations reseal"); !strings.Contains(out, "resealed 2, already current 0, failed 0") {
		t.Errorf("reseal: %s", out)
	}
	if out := run(0, "locations reseal"); !strings.Contains(out, "resealed 0, already current 2, failed 0") {
		t.Errorf("reseal again: %s", out)
	}
	t.Setenv("SOCIALSYNC_TOKEN_KEY", b)
	for _, l := range locs {
		if got, err := storedToken(t, env, b, l.ID); err != nil || got != l.Token {
			t.Errorf("%s with key B alone: %v", l.ID, err)
		}
	}
	if list := run(0, "locations list"); oldKey.MatchString(list) || strings.Contains(list, "old key") || !regexp.MustCompile(`(?m)^`+locs[0].ID+` .* current `).MatchString(list) {
		t.Errorf("list after reseal:\n%s", list)
	}
	if doc := run(0, "doctor", "--location", locs[0].ID); !strings.Contains(doc, "token key: current") || strings.Contains(doc, "old key") {
		t.Errorf("doctor after reseal:\n%s", doc)
	}

	// A record under a key the keyring lacks fails, by name, exit 1.
	t.Setenv("SOCIALSYNC_TOKEN_KEY", creds.NewKey())
	run(0, "locations add", "--location", "Lost1", "--pit", "pit-lost-9a8b")
	t.Setenv("SOCIALSYNC_TOKEN_KEY", b)
	if out := run(1, "locations reseal"); !strings.Contains(out, "Lost1") || !strings.Contains(out, "resealed 0, already current 2, failed 1") {
		t.Errorf("reseal with a lost key: %s", out)
	}
	for _, secret := range []string{locs[0].Token, locs[1].Token, "pit-lost-9a8b", a, b} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("the output shows secret %q", secret)
		}
	}
}
