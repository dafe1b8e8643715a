package telemetry

import (
	"runtime/debug"
	"strings"
)

// version is set at link time by release builds:
//
//	go build -ldflags "-X github.com/socialsync/socialsync/pkg/telemetry.version=v1.2.3"
//
// It is the one variable the linker writes; nothing assigns it at run time.
var version string

// Version returns the version of the running binary, for the resource's
// service.version: the one set with -ldflags (see above), else the main
// module's version that the go command stamped from the VCS tag or commit
// (v1.2.3, or v0.0.0-20261127171626-817fec9a1b2c+dirty), else the VCS
// revision alone, else "devel" (go test and go run stamp neither).
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionOf(bi)
}

// versionOf picks the version from build information.
func versionOf(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "devel-" + strings.ToLower(rev) + dirty
}
