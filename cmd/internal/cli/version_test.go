package cli

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	t.Parallel()
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.modified", Value: modified},
		}
	}
	const rev = "d9eed70c1f2a4b5c6d7e8f9012345678abcdef01"
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"Release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}, "wsproxy v1.2.0 go1.26.8"},
		{"ReleaseIgnoresVCS", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: vcs(rev, "true")}, "wsproxy v1.2.0 go1.26.8"},
		{"DevelClean", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")}, "wsproxy (devel) d9eed70c1f2a go1.26.8"},
		{"DevelDirty", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")}, "wsproxy (devel) d9eed70c1f2a-dirty go1.26.8"},
		{"DevelShortRevision", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("abc", "false")}, "wsproxy (devel) abc go1.26.8"},
		{"DevelNoVCS", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "wsproxy (devel) go1.26.8"},
		{"NoVersion", debug.BuildInfo{GoVersion: "go1.26.8"}, "wsproxy (devel) go1.26.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := versionOf("wsproxy", &tt.info); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
