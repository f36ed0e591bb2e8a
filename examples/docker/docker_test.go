package docker_test

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one instruction of a Dockerfile, its continuation lines
// joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, USER...
	args string
}

// parseDockerfile returns the instructions of the Dockerfile, without the
// comments.
func parseDockerfile(t *testing.T) []instruction {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || line == "" && cur == "" {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur += rest + " "
			continue
		}
		cur += line
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

// finalStage returns the instructions of the last stage, from its FROM.
func finalStage(t *testing.T, ins []instruction) []instruction {
	t.Helper()
	last := -1
	for i, in := range ins {
		if in.cmd == "FROM" {
			last = i
		}
	}
	if last < 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	return ins[last:]
}

// shellWords splits a RUN command line into words as sh does for the simple
// commands used here: blanks separate words, double quotes group them.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case !quoted && (r == ' ' || r == '\t'):
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// TestBuild runs the go build command of the Dockerfile, its environment
// assignments included, with this machine's GOOS and GOARCH for the
// image's target platform, and checks that the binary is static and
// stripped: it must run on an image without a C library.
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wsproxy without cgo")
	}
	var run string
	for _, in := range parseDockerfile(t) {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			if run != "" {
				t.Fatalf("Dockerfile has more than one go build:\n%s\n%s", run, in.args)
			}
			run = in.args
		}
	}
	if run == "" {
		t.Fatal("Dockerfile has no RUN ... go build")
	}
	words := shellWords(run)
	for len(words) > 0 && strings.HasPrefix(words[0], "--mount=") {
		words = words[1:]
	}
	env := os.Environ()
	vars := map[string]string{"TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH}
	for len(words) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(words[0]) {
		name, value, _ := strings.Cut(words[0], "=")
		value = os.Expand(value, func(v string) string { return vars[v] })
		env = append(env, name+"="+value)
		vars[name] = value
		words = words[1:]
	}
	if vars["CGO_ENABLED"] != "0" {
		t.Errorf("go build runs with CGO_ENABLED=%q, want 0", vars["CGO_ENABLED"])
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		t.Fatalf("got command %q, want go build ...", words)
	}
	for _, want := range []string{"-trimpath", "-ldflags=-s -w"} {
		if !slices.Contains(words, want) {
			t.Errorf("go build has no %s: %q", want, words)
		}
	}
	// The output, into a temporary directory.
	bin := filepath.Join(t.TempDir(), "wsproxy")
	i := slices.Index(words, "-o")
	if i < 0 || i+1 >= len(words) {
		t.Fatalf("go build has no -o FILE: %q", words)
	}
	words[i+1] = bin

	cmd := exec.Command(words[0], words[1:]...)
	cmd.Dir = filepath.Join("..", "..") // the build context: the repository
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", run, err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v program header, want a static binary", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("binary needs libraries %q (%v), want none", libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Error("binary has a symbol table, want it stripped (-ldflags=-s)")
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "wsproxy ") {
		t.Errorf("wsproxy --version: %v, output %q", err, out)
	}
}

// TestFinalImage checks the final stage: a distroless or empty base, a
// numeric non-root user, a volume owned by it, wsproxy as the entry point.
func TestFinalImage(t *testing.T) {
	final := finalStage(t, parseDockerfile(t))
	from := strings.Fields(final[0].args)
	if base := from[len(from)-1]; !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("final image is FROM %s, want gcr.io/distroless/static or scratch", base)
	}
	got := map[string][]string{}
	for _, in := range final[1:] {
		got[in.cmd] = append(got[in.cmd], in.args)
	}
	users := got["USER"]
	if len(users) != 1 {
		t.Fatalf("final stage has USER %q, want one", users)
	}
	uid, _, _ := strings.Cut(users[0], ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		// A name would be looked up in the image's /etc/passwd, and
		// Kubernetes' runAsNonRoot can only check a number.
		t.Errorf("got USER %s, want a numeric user other than 0", users[0])
	}
	volumes := got["VOLUME"]
	if len(volumes) != 1 {
		t.Fatalf("final stage has VOLUME %q, want one, for the recordings", volumes)
	}
	volume := strings.Trim(volumes[0], `[]" `)
	owned := false
	for _, c := range got["COPY"] {
		f := strings.Fields(c)
		owned = owned || slices.Contains(f, "--chown="+users[0]) && f[len(f)-1] == volume
	}
	if !owned {
		t.Errorf("no COPY --chown=%s ... %s: the volume's mount point must be the user's, or it cannot write recordings", users[0], volume)
	}
	if len(got["EXPOSE"]) == 0 {
		t.Error("final stage has no EXPOSE")
	}
	if e := got["ENTRYPOINT"]; len(e) != 1 || !strings.HasPrefix(e[0], `["`) || !strings.Contains(e[0], "/wsproxy\"") {
		t.Errorf("got ENTRYPOINT %q, want the exec form running wsproxy", e)
	}
}
