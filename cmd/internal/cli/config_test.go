package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

// configCmd is a grammar with a flag of each kind a configuration file
// sets; its Run prints the values as JSON.
type configCmd struct {
	Source   string        `arg:"" optional:""`
	Speed    string        `env:"TEST_SPEED" default:"1"`
	Mode     string        `env:"TEST_MODE" default:"a" enum:"a,b"`
	Wait     time.Duration `env:"TEST_WAIT" default:"1s"`
	Count    int           `env:"TEST_COUNT"`
	Verbose  bool          `short:"v" env:"TEST_VERBOSE"`
	Tag      []string      `env:"TEST_TAG"`
	Password string        `env:"TEST_PASSWORD" secret:""`
	Embedded configEmbed   `embed:""`
}

type configEmbed struct {
	LogFile string `env:"TEST_LOG_FILE"`
}

func (c *configCmd) Run(kctx *kong.Context) error {
	return json.NewEncoder(kctx.Stdout).Encode(c)
}

// runConfig runs configCmd's program with args and env (set with
// t.Setenv) and returns its exit status, stdout and stderr.
func runConfig(t *testing.T, grammar any, args []string, env map[string]string) (int, string, string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), Program{Name: "test", Grammar: grammar}, args, &stdout, &stderr)
	return ExitCode(err), stdout.String(), stderr.String()
}

// writeFile writes content to a new file and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigPrecedence checks each level against the one below it: the
// command line beats the environment, which beats the file, which beats
// the default. It cannot be parallel: it sets the environment.
func TestConfigPrecedence(t *testing.T) {
	file := `{"speed": "file", "count": 3, "tag": ["f1", "f2"], "log_file": "file.log", "source": "from-file", "verbose": true}`
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want configCmd
	}{
		{"Default", nil, nil, configCmd{Speed: "1", Mode: "a", Wait: time.Second}},
		{"File", []string{"--config", "FILE"}, nil, configCmd{Source: "from-file", Speed: "file", Mode: "a", Wait: time.Second, Count: 3, Verbose: true, Tag: []string{"f1", "f2"}, Embedded: configEmbed{"file.log"}}},
		{"EnvBeatsFile", []string{"--config", "FILE"}, map[string]string{"TEST_SPEED": "env", "TEST_COUNT": "4", "TEST_TAG": "e1", "TEST_LOG_FILE": "env.log", "TEST_VERBOSE": "false"},
			configCmd{Source: "from-file", Speed: "env", Mode: "a", Wait: time.Second, Count: 4, Tag: []string{"e1"}, Embedded: configEmbed{"env.log"}}},
		{"FlagBeatsEnv", []string{"--config", "FILE", "--speed", "flag", "--count", "5", "--tag", "a1", "--log-file", "flag.log", "-v", "from-args"}, map[string]string{"TEST_SPEED": "env", "TEST_COUNT": "4", "TEST_TAG": "e1", "TEST_LOG_FILE": "env.log", "TEST_VERBOSE": "false"},
			configCmd{Source: "from-args", Speed: "flag", Mode: "a", Wait: time.Second, Count: 5, Verbose: true, Tag: []string{"a1"}, Embedded: configEmbed{"flag.log"}}},
		{"FileFromEnv", nil, map[string]string{"TEST_CONFIG": "FILE"}, configCmd{Source: "from-file", Speed: "file", Mode: "a", Wait: time.Second, Count: 3, Verbose: true, Tag: []string{"f1", "f2"}, Embedded: configEmbed{"file.log"}}},
		{"EmptyEnvIsSet", []string{"--config", "FILE"}, map[string]string{"TEST_SPEED": ""}, configCmd{Source: "from-file", Speed: "", Mode: "a", Wait: time.Second, Count: 3, Verbose: true, Tag: []string{"f1", "f2"}, Embedded: configEmbed{"file.log"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "config.json", file)
			args := slices.Clone(tt.args)
			for i, a := range args {
				if a == "FILE" {
					args[i] = path
				}
			}
			env := map[string]string{}
			for k, v := range tt.env {
				if v == "FILE" {
					v = path
				}
				env[k] = v
			}
			code, stdout, stderr := runConfig(t, &configCmd{}, args, env)
			if code != ExitOK {
				t.Fatalf("got exit code %d, stderr %q, want 0", code, stderr)
			}
			var got configCmd
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatal(err)
			}
			if want, _ := json.Marshal(tt.want); string(want) != strings.TrimSpace(stdout) {
				t.Errorf("got %s\nwant %s", strings.TrimSpace(stdout), want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, file string
		env        map[string]string
		want       string // after "config file PATH: "
	}{
		{"ErrNotJSON", "speed = 2\n", nil, `not JSON: line 1, column 1: invalid character 's' looking for beginning of value`},
		{"ErrSyntaxLine", "{\n  \"speed\": 2,\n}\n", nil, `not JSON: line 3, column 1: invalid character '}'`},
		{"ErrTrailingData", `{} {}`, nil, `not JSON: data after the object at line 1, column 3`},
		{"ErrNotObject", `["speed"]`, nil, `want a JSON object, got an array`},
		{"ErrUnknownKey", `{"speed": "2", "bogus": 1}`, nil, `unknown key "bogus"`},
		{"ErrDashedKey", `{"log-file": "x"}`, nil, `unknown key "log-file" (keys use _ for -: "log_file")`},
		{"ErrCamelCaseKey", `{"logFile": "x"}`, nil, `unknown key "logFile"`},
		{"ErrOwnFlag", `{"config": "other.json"}`, nil, `unknown key "config"`},
		{"ErrHelpFlag", `{"help": true}`, nil, `unknown key "help"`},
		{"ErrStringForInt", `{"count": "many"}`, nil, `key "count": expected a valid`},
		{"ErrBoolForString", `{"speed": true}`, nil, `key "speed": want a string, got true`},
		{"ErrNumberForBool", `{"verbose": 1}`, nil, `key "verbose": want true or false, got 1`},
		{"ErrObjectForSlice", `{"tag": {"a": 1}}`, nil, `key "tag": want an array of strings, got {"a":1}`},
		{"ErrEnum", `{"mode": "c"}`, nil, `key "mode": want one of a, b, got "c"`},
		{"ErrDuration", `{"wait": 5}`, nil, `key "wait": expected duration but got "5"`},
		{"ErrTypeEvenIfEnvWins", `{"count": "many"}`, map[string]string{"TEST_COUNT": "2"}, `key "count": expected a valid`},
		{"ErrSecretPlaceholder", `{"password": "<secret>"}`, nil, `key "password": "<secret>" is what --print-config prints in place of a secret: write the secret there, or give --password or $TEST_PASSWORD`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "config.json", tt.file)
			code, stdout, stderr := runConfig(t, &configCmd{}, []string{"--config", path}, tt.env)
			if code != ExitUsage {
				t.Errorf("got exit code %d, want %d", code, ExitUsage)
			}
			assertContainsInOrder(t, "stdout", stdout, nil)
			assertContainsInOrder(t, "stderr", stderr, []string{"test: error: config file " + path + ": " + tt.want, `Run "test --help"`})
		})
	}
	t.Run("ErrMissingFile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing.json")
		code, _, stderr := runConfig(t, &configCmd{}, []string{"--config", path}, nil)
		if code != ExitUsage {
			t.Errorf("got exit code %d, want %d", code, ExitUsage)
		}
		assertContainsInOrder(t, "stderr", stderr, []string{"test: error: config file " + path + ": no such file or directory\n"})
	})
	t.Run("ErrMissingFileFromEnv", func(t *testing.T) {
		code, _, stderr := runConfig(t, &configCmd{}, nil, map[string]string{"TEST_CONFIG": "missing.json"})
		if code != ExitUsage {
			t.Errorf("got exit code %d, want %d", code, ExitUsage)
		}
		assertContainsInOrder(t, "stderr", stderr, []string{"test: error: config file missing.json: no such file or directory\n"})
	})
	t.Run("SecretPlaceholderOverridden", func(t *testing.T) {
		path := writeFile(t, "config.json", `{"password": "<secret>"}`)
		for _, args := range [][]string{{"--password", "flag"}, nil} {
			code, stdout, stderr := runConfig(t, &configCmd{}, append([]string{"--config", path}, args...), map[string]string{"TEST_PASSWORD": "env"})
			if code != ExitOK || !strings.Contains(stdout, `"Password":"`) || strings.Contains(stdout, "<secret>") {
				t.Errorf("args %q: got exit code %d, stdout %q, stderr %q; want the password from the command line or environment", args, code, stdout, stderr)
			}
		}
	})
}

// sectionsCmd is a grammar with subcommands whose flags share a name.
type sectionsCmd struct {
	Level string   `env:"TEST_LEVEL" default:"low"`
	Show  showCmd  `cmd:""`
	Other otherCmd `cmd:"" name:"other-cmd"`
}

type showCmd struct {
	To   time.Duration `default:"1s"`
	File string        `arg:""`
}

type otherCmd struct {
	To string `enum:"x,y" default:"x"`
}

func (c *showCmd) Run(kctx *kong.Context, root *sectionsCmd) error {
	_, err := fmt.Fprintf(kctx.Stdout, "level=%s to=%v file=%s\n", root.Level, c.To, c.File)
	return err
}

func (c *otherCmd) Run(kctx *kong.Context) error { return nil }

func TestConfigSections(t *testing.T) {
	tests := []struct {
		name, file string
		wantCode   int
		want       string
	}{
		{"OK", `{"level": "high", "show": {"to": "5s"}, "other_cmd": {"to": "y"}}`, ExitOK, "level=high to=5s file=f.wsrec\n"},
		{"ErrOtherSection", `{"other_cmd": {"to": "z"}}`, ExitUsage, `config file PATH: key "other_cmd.to": want one of x, y, got "z"`},
		{"ErrUnknownInSection", `{"show": {"level": "high"}}`, ExitUsage, `config file PATH: unknown key "show.level"`},
		{"ErrRequiredArgument", `{"show": {"file": "g.wsrec"}}`, ExitUsage, `config file PATH: unknown key "show.file"`},
		{"ErrSectionNotObject", `{"show": 1}`, ExitUsage, `config file PATH: key "show": want an object of the show command's options, got a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "config.json", tt.file)
			root := &sectionsCmd{}
			code, stdout, stderr := runConfig(t, root, []string{"--config", path, "show", "f.wsrec"}, nil)
			if code != tt.wantCode {
				t.Errorf("got exit code %d (stderr %q), want %d", code, stderr, tt.wantCode)
			}
			want := strings.ReplaceAll(tt.want, "PATH", path)
			if tt.wantCode == ExitOK {
				if stdout != want {
					t.Errorf("got stdout %q, want %q", stdout, want)
				}
			} else {
				assertContainsInOrder(t, "stderr", stderr, []string{want})
			}
		})
	}
	t.Run("PrintConfig", func(t *testing.T) {
		_, stdout, stderr := runConfig(t, &sectionsCmd{}, []string{"show", "--to", "2m", "f.wsrec", "--print-config"}, map[string]string{"TEST_LEVEL": "mid"})
		want := "{\n  \"level\": \"mid\",\n  \"show\": {\n    \"to\": \"2m0s\"\n  }\n}\n"
		if stdout != want {
			t.Errorf("got stdout %q (stderr %q), want %q", stdout, stderr, want)
		}
	})
}

// TestPrintConfigRoundTrip checks that --print-config prints what it
// reads: the output given to --config, with nothing else, gives the same
// configuration.
func TestPrintConfigRoundTrip(t *testing.T) {
	args := []string{"--speed", "fast", "--mode", "b", "--wait", "1m30s", "--count", "7", "-v", "--tag", "t1", "--tag", "t,2", "--log-file", "<&>.log", "src"}
	code, first, stderr := runConfig(t, &configCmd{}, append(args, "--print-config"), nil)
	if code != ExitOK {
		t.Fatalf("got exit code %d, stderr %q", code, stderr)
	}
	want := `{
  "source": "src",
  "speed": "fast",
  "mode": "b",
  "wait": "1m30s",
  "count": 7,
  "verbose": true,
  "tag": [
    "t1",
    "t",
    "2"
  ],
  "log_file": "<&>.log"
}
`
	if first != want {
		t.Errorf("got\n%s\nwant\n%s", first, want)
	}
	path := writeFile(t, "config.json", first)
	_, second, stderr := runConfig(t, &configCmd{}, []string{"--config", path, "--print-config"}, nil)
	if second != first {
		t.Errorf("printed from --config:\n%s\nwant what was printed from the command line:\n%s\n%s", second, first, stderr)
	}
	_, fromArgs, _ := runConfig(t, &configCmd{}, args, nil)
	_, fromFile, _ := runConfig(t, &configCmd{}, []string{"--config", path}, nil)
	if fromFile != fromArgs || fromArgs == "" {
		t.Errorf("run from --config: %s, want as from the command line: %s", fromFile, fromArgs)
	}
}

func TestPrintConfigSecret(t *testing.T) {
	_, stdout, stderr := runConfig(t, &configCmd{}, []string{"--print-config"}, map[string]string{"TEST_PASSWORD": "hunter2"})
	if strings.Contains(stdout, "hunter2") || !strings.Contains(stdout, `"password": "<secret>"`) {
		t.Errorf("got stdout %q (stderr %q), want the password as \"<secret>\"", stdout, stderr)
	}
}

// TestCompletion runs the program as bash does for complete -C: with the
// line being completed in COMP_LINE and the cursor in COMP_POINT.
func TestCompletion(t *testing.T) {
	tests := []struct {
		name, line string
		want       []string
	}{
		{"Flag", "test --mo", []string{"--mode"}},
		{"Flags", "test --c", []string{"--completion", "--config", "--count"}},
		{"Enum", "test --mode ", []string{"a", "b"}},
		{"Shell", "test --completion ", []string{"bash", "fish", "zsh"}},
		{"Command", "test sh", []string{"show"}},
		{"CommandFlag", "test show --t", []string{"--to"}},
		{"CommandEnum", "test other-cmd --to ", []string{"x", "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var grammar any = &configCmd{}
			if strings.HasPrefix(tt.name, "Command") {
				grammar = &sectionsCmd{}
			}
			env := map[string]string{"COMP_LINE": tt.line, "COMP_POINT": fmt.Sprint(len(tt.line))}
			code, stdout, stderr := runConfig(t, grammar, []string{"test", "x", "y"}, env)
			if code != ExitOK || stderr != "" {
				t.Errorf("got exit code %d, stderr %q, want 0 and none", code, stderr)
			}
			got := strings.Fields(stdout)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("completing %q: got %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

func TestCompletionScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		shell    string
		wantCode int
		want     []string
	}{
		{"bash", ExitOK, []string{"complete -o default -C test test\n"}},
		{"zsh", ExitOK, []string{"bashcompinit", "complete -C test test\n"}},
		{"fish", ExitOK, []string{"set -lx COMP_LINE (commandline -cp)", `complete -c test -a "(__complete_test)"`}},
		{"csh", ExitUsage, nil},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := Run(t.Context(), Program{Name: "test", Grammar: &configCmd{}}, []string{"--completion", tt.shell}, &stdout, &stderr)
			if got := ExitCode(err); got != tt.wantCode {
				t.Errorf("got exit code %d (%v), want %d", got, err, tt.wantCode)
			}
			assertContainsInOrder(t, "stdout", stdout.String(), tt.want)
		})
	}
}
