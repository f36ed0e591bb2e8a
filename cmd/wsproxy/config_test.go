package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
)

// TestConfigPrecedence checks, for a plain flag, a repeatable one, one of
// the embedded recording flags and the positional arguments, that the
// command line beats the environment, which beats --config, which beats
// the default. It sets the environment, so it cannot be parallel.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "wsproxy.json")
	err := os.WriteFile(file, []byte(`{
  "source": "127.0.0.1:6080",
  "target": "file.example:5900",
  "heartbeat": 10,
  "trusted_proxy": ["10.0.0.0/8"],
  "record_dir": "/srv/rec-file"
}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WSPROXY_HEARTBEAT": "20", "WSPROXY_TRUSTED_PROXY": "192.168.0.0/16", "WSPROXY_RECORD_DIR": "/srv/rec-env"}
	flags := []string{"--heartbeat", "30", "--trusted-proxy", "172.16.0.0/12", "--record-dir", "/srv/rec-flag", "127.0.0.1:7000", "flag.example:5900"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want map[string]any
	}{
		{"Default", []string{"127.0.0.1:7000", "flag.example:5900"}, nil,
			map[string]any{"source": "127.0.0.1:7000", "target": "flag.example:5900", "heartbeat": "0s", "trusted_proxy": nil, "record_dir": nil}},
		{"File", []string{"--config", file}, nil,
			map[string]any{"source": "127.0.0.1:6080", "target": "file.example:5900", "heartbeat": "10s", "trusted_proxy": []any{"10.0.0.0/8"}, "record_dir": "/srv/rec-file"}},
		{"EnvBeatsFile", []string{"--config", file}, env,
			map[string]any{"source": "127.0.0.1:6080", "target": "file.example:5900", "heartbeat": "20s", "trusted_proxy": []any{"192.168.0.0/16"}, "record_dir": "/srv/rec-env"}},
		{"FlagBeatsEnv", append([]string{"--config", file}, flags...), env,
			map[string]any{"source": "127.0.0.1:7000", "target": "flag.example:5900", "heartbeat": "30s", "trusted_proxy": []any{"172.16.0.0/12"}, "record_dir": "/srv/rec-flag"}},
		{"FileFromEnv", nil, map[string]string{"WSPROXY_CONFIG": file},
			map[string]any{"source": "127.0.0.1:6080", "heartbeat": "10s", "record_dir": "/srv/rec-file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, got := clitest.PrintConfig(t, run, tt.args...)
			for key, want := range tt.want {
				if !reflect.DeepEqual(got[key], want) {
					t.Errorf("got %q: %#v, want %#v", key, got[key], want)
				}
			}
		})
	}
}

// TestPrintConfigRoundTrip gives --config what --print-config printed for
// a command line with flags of every type, and checks that it prints the
// same. It sets the environment, so it cannot be parallel.
func TestPrintConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WSPROXY_KEY_PASSWORD", "hunter2")
	t.Setenv("WSPROXY_MAX_MESSAGE_SIZE", "1024")
	tests := []struct {
		name string
		args []string
		want []string // in the output
	}{
		{"Flags", []string{
			"-v", "--traffic", "--heartbeat", "30", "--heartbeat-timeout", "0.5", "--idle-timeout", "2m", "--client-timeout", "20",
			"--ssl-version", "tlsv1_3", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1",
			"--record-dir", filepath.Join(dir, "rec"), "--record-max-size", "512M", "--record-flush", "250ms",
			"--record-format", "wsrec", "--web", dir, "--log-file", filepath.Join(dir, "log"),
			"--syslog", "localhost:514", "--legacy-syslog", "--wrap-mode", "ignore",
			"127.0.0.1:6080", "localhost:5900",
		}, []string{
			`"verbose": true`, `"heartbeat": "30s"`, `"heartbeat_timeout": "500ms"`, `"idle_timeout": "2m0s"`, `"client_timeout": "20s"`,
			`"max_message_size": 1024`, `"key_password": "<secret>"`, `"record_flush": "250ms"`,
			"\"trusted_proxy\": [\n    \"10.0.0.0/8\",\n    \"::1\"\n  ]",
		}},
		// Validate makes the only argument the target.
		{"UnixListen", []string{"--unix-listen", filepath.Join(dir, "s.sock"), "localhost:5900"}, []string{`"target": "localhost:5900"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := clitest.AssertConfigRoundTrip(t, run, tt.args)
			clitest.AssertContains(t, "--print-config", got, tt.want)
			if strings.Contains(got, "hunter2") {
				t.Errorf("got --print-config:\n%s\nwant the key password left out", got)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, content string
		want          string // after "wsproxy: error: config file PATH: "
	}{
		{"ErrNotJSON", "--heartbeat 30\n", "not JSON: line 1, column 2: invalid character"},
		{"ErrUnknownKey", `{"source": "6080", "target": "localhost:5900", "heart_beat": 30}`, `unknown key "heart_beat"`},
		{"ErrDashes", `{"record-dir": "/srv/rec"}`, `unknown key "record-dir" (keys use _ for -: "record_dir")`},
		{"ErrWrongType", `{"ssl_only": "maybe"}`, `key "ssl_only": bool value must be`},
		{"ErrWrongTypeList", `{"trusted_proxy": true}`, `key "trusted_proxy": want an array of strings, got true`},
		{"ErrWrongTypeSeconds", `{"heartbeat": "soon"}`, `key "heartbeat": "soon": want a number of seconds`},
		{"ErrSecretPlaceholder", `{"key_password": "<secret>"}`, `key "key_password": "<secret>" is what --print-config prints in place of a secret`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), []string{"--config", path, "6080", "localhost:5900"}, &stdout, &stderr)
			if got := cli.ExitCode(err); got != cli.ExitUsage {
				t.Errorf("got exit code %d (err %v), want %d", got, err, cli.ExitUsage)
			}
			clitest.AssertContains(t, "stderr", stderr.String(), []string{"wsproxy: error: config file " + path + ": " + tt.want, `Run "wsproxy --help"`})
		})
	}
	t.Run("ErrMissingFile", func(t *testing.T) {
		t.Parallel()
		var stdout, stderr bytes.Buffer
		path := filepath.Join(dir, "missing.json")
		err := run(t.Context(), []string{"--config", path, "6080", "localhost:5900"}, &stdout, &stderr)
		if got := cli.ExitCode(err); got != cli.ExitUsage {
			t.Errorf("got exit code %d (err %v), want %d", got, err, cli.ExitUsage)
		}
		clitest.AssertContains(t, "stderr", stderr.String(), []string{"wsproxy: error: config file " + path + ": no such file or directory\n"})
	})
}

// TestCompletion sets the environment, so it cannot be parallel.
func TestCompletion(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"wsproxy --ssl-v", []string{"--ssl-version"}},
		{"wsproxy --ssl-version ", []string{"default", "tlsv1_1", "tlsv1_2", "tlsv1_3"}},
		{"wsproxy --record-format ", []string{"websockify", "wsrec"}},
		{"wsproxy --wrap-mode re", []string{"respawn"}},
		{"wsproxy -v --print-c", []string{"--print-config"}},
		{"wsproxy --completion ", []string{"bash", "fish", "zsh"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			if got := clitest.Completions(t, run, tt.line); !slices.Equal(got, tt.want) {
				t.Errorf("completing %q: got %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}
