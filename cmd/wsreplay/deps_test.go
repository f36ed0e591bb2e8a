package main

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// heavyDeps are the modules that only wsproxy's token and auth plugins
// and the object storage of internal/objstore need: programs and
// libraries that do not use them must not link them.
var heavyDeps = []string{
	"github.com/redis/go-redis/",
	"github.com/go-jose/go-jose/",
	"golang.org/x/crypto/bcrypt",
	"github.com/aws/aws-sdk-go-v2/",
}

// TestDeps fails if wsreplay, or a library package that does not need
// them, links Redis, JOSE or bcrypt again: they sit in proxy/tokens/redis,
// proxy/tokens/jwt and proxy/auth so that it does not. wsproxy, which
// wires every plugin, must link all of them: the check can fail. wsreplay
// has the auth plugins (BasicHTTPAuth's htpasswd files are bcrypt), not
// the token plugins.
func TestDeps(t *testing.T) {
	t.Parallel()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	const module = "github.com/wsproxy/wsproxy/"
	tests := []struct {
		pkg   string
		links []string // of heavyDeps
	}{
		{"cmd/wsreplay", []string{"github.com/aws/aws-sdk-go-v2/", "golang.org/x/crypto/bcrypt"}},
		{"replay", nil},
		{"record", nil},
		{"format", nil},
		{"proxy", nil},
		{"proxy/tokens", nil},
		{"proxy/auth", []string{"golang.org/x/crypto/bcrypt"}},
		{"proxy/tokens/jwt", []string{"github.com/go-jose/go-jose/"}},
		{"proxy/tokens/redis", []string{"github.com/redis/go-redis/"}},
		{"cmd/wsproxy", heavyDeps},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.pkg, "/", "_"), func(t *testing.T) {
			t.Parallel()
			out, err := exec.CommandContext(t.Context(), goCmd, "list", "-deps", "-f", "{{.ImportPath}}", module+tt.pkg).Output()
			if err != nil {
				if ee, ok := errors.AsType[*exec.ExitError](err); ok {
					t.Fatalf("go list: %v\n%s", err, ee.Stderr)
				}
				t.Fatalf("go list: %v", err)
			}
			deps := strings.Fields(string(out))
			for _, heavy := range heavyDeps {
				i := slices.IndexFunc(deps, func(d string) bool { return strings.HasPrefix(d, heavy) })
				switch want := slices.Contains(tt.links, heavy); {
				case i >= 0 && !want:
					t.Errorf("%s links %s", tt.pkg, deps[i])
				case i < 0 && want:
					t.Errorf("%s does not link %s", tt.pkg, heavy)
				}
			}
		})
	}
}
