package telemetry

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"tagged module", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"stamped pseudo-version", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261127171626-817fec9a1b2c+dirty"}},
			"v0.0.0-20261127171626-817fec9a1b2c+dirty"},
		{"revision only", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "817FEC9A1B2C3D4E5F"}, {Key: "vcs.modified", Value: "true"}}}, "devel-817fec9a1b2c+dirty"},
		{"nothing stamped", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(&tt.bi); got != tt.want {
				t.Errorf("versionOf = %q, want %q", got, tt.want)
			}
		})
	}
}
