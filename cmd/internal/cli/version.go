package cli

import (
	"runtime"
	"runtime/debug"
)

// Version returns the line that --version prints for program:
//
//	wsproxy v1.2.0 go1.26.8
//	wsproxy (devel) d9eed70c1f2a-dirty go1.26.8
//
// The second form is for a build outside a released module version (go run,
// go build in a checkout): the revision and "-dirty" come from the VCS
// stamp that go build records, when it recorded one.
func Version(program string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return program + " (devel) " + runtime.Version()
	}
	return versionOf(program, info)
}

// versionOf is version for the given build information.
func versionOf(program string, info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "(devel)"
		if rev := buildSetting(info, "vcs.revision"); rev != "" {
			v += " " + rev[:min(len(rev), 12)]
			if buildSetting(info, "vcs.modified") == "true" {
				v += "-dirty"
			}
		}
	}
	return program + " " + v + " " + info.GoVersion
}

func buildSetting(info *debug.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}
