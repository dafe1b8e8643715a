package ghlspec

import (
	"net/http"
	"sync"
	"testing"
)

var (
	loadOnce sync.Once
	loaded   *Spec
	loadErr  error
)

// ForTest loads the official files once per test binary. It skips the test,
// saying why, when the folder is absent (it is present in CI), and fails it
// when the files do not load.
func ForTest(tb testing.TB) *Spec {
	tb.Helper()
	dir, ok := Locate()
	if !ok {
		tb.Skipf("HighLevel's OpenAPI files not found at %s; set SOCIALSYNC_GHL_OPENAPI_DIR to run the contract checks", dir)
	}
	loadOnce.Do(func() { loaded, loadErr = Load(dir) })
	if loadErr != nil {
		tb.Fatalf("load HighLevel's OpenAPI files from %s: %v", dir, loadErr)
	}
	return loaded
}

// CheckingTransport returns a validating Transport over next and fails the
// test at cleanup if any exchange violated the official files. Without the
// files it logs why and passes traffic through unchecked, so the tests that
// use it still run.
func CheckingTransport(tb testing.TB, next http.RoundTripper) *Transport {
	tb.Helper()
	t := &Transport{Next: next}
	if dir, ok := Locate(); ok {
		t.Spec = ForTest(tb)
	} else {
		tb.Logf("contract checks off: HighLevel's OpenAPI files not found at %s (set SOCIALSYNC_GHL_OPENAPI_DIR)", dir)
	}
	tb.Cleanup(func() {
		for _, err := range t.Violations() {
			tb.Errorf("contract violation: %v", err)
		}
	})
	return t
}
