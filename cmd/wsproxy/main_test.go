package main

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
	"github.com/wsproxy/wsproxy/cmd/internal/clitest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if binDir != "" {
			os.RemoveAll(binDir)
		}
	}))
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string // substrings; nil means empty
		wantStderr []string // substrings; nil means empty
	}{
		{name: "Help", args: []string{"--help"}, wantStdout: []string{
			"Usage: wsproxy [<source> [<target>]] [flags]",
			"wsproxy [options] [source_addr:]source_port [target_addr:target_port]",
			"wsproxy [options] --unix-target=FILE [source_addr:]source_port",
			"wsproxy [options] [source_addr:]source_port -- WRAP_COMMAND_LINE",
			"Examples:",
			"    wsproxy --version\n",
			"    wsproxy 6080 localhost:5900\n",
			"--version    Print the program's version and exit.",
			"--ssl-only", "($WSPROXY_SSL_ONLY)", "--idle-timeout=SECONDS", "--unix-listen-mode=MODE",
		}},
		{name: "HelpShort", args: []string{"-h"}, wantStdout: []string{"Usage: wsproxy", "Examples:"}},
		{name: "HelpWithArguments", args: []string{"6080", "--help"}, wantStdout: []string{"Usage: wsproxy", "Examples:"}},
		{name: "ErrUnknownFlag", args: []string{"--bogus", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{
			"wsproxy: error: unknown flag --bogus\n",
			"Usage: wsproxy [<source> [<target>]] [flags]\n",
			`Run "wsproxy --help" for more information.`,
		}},
		{name: "ErrMissingSource", wantCode: cli.ExitUsage, wantStderr: []string{"wsproxy: error: missing source: give [source_addr:]source_port", `Run "wsproxy --help"`}},
		{name: "ErrMissingTarget", args: []string{"6080"}, wantCode: cli.ExitUsage, wantStderr: []string{"wsproxy: error: missing target", `Run "wsproxy --help"`}},
		{name: "ErrExtraArgument", args: []string{"6080", "localhost:5900", "extra"}, wantCode: cli.ExitUsage, wantStderr: []string{"wsproxy: error: unexpected argument extra"}},
		{name: "ErrTargetAndWrap", args: []string{"6080", "localhost:5900", "--", "vncserver"}, wantCode: cli.ExitUsage, wantStderr: []string{"wsproxy: error: give a target or -- WRAP_COMMAND_LINE, not both"}},
		{name: "ErrEmptyWrap", args: []string{"6080", "--"}, wantCode: cli.ExitUsage, wantStderr: []string{"wsproxy: error: missing WRAP_COMMAND_LINE after --"}},
		{name: "ErrWrapWithoutSource", args: []string{"--", "vncserver"}, wantCode: cli.ExitUsage, wantStderr: []string{"wsproxy: error: missing source"}},
		{name: "ErrTargetAndUnixTarget", args: []string{"--unix-target", "/run/vnc.sock", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"wsproxy: error: unexpected argument localhost:5900: give a target or --unix-target, not both"}},
		{name: "ErrWrapAndUnixTarget", args: []string{"--unix-target", "/run/vnc.sock", "6080", "--", "vncserver"}, wantCode: cli.ExitUsage, wantStderr: []string{"give --unix-target or -- WRAP_COMMAND_LINE, not both"}},
		{name: "ErrSourceWithUnixListen", args: []string{"--unix-listen", "/tmp/x.sock", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"unexpected argument 6080: with --inetd or --unix-listen there is no source"}},
		{name: "ErrInetdAndUnixListen", args: []string{"--inetd", "--unix-listen", "/tmp/x.sock", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"give --inetd or --unix-listen, not both"}},
		{name: "ErrBadSourcePort", args: []string{"localhost:http", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{`source "localhost:http": want [source_addr:]source_port`}},
		{name: "ErrSourcePortRange", args: []string{"70000", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{`source "70000"`}},
		{name: "ErrTargetWithoutPort", args: []string{"6080", "localhost"}, wantCode: cli.ExitUsage, wantStderr: []string{`target "localhost": want target_addr:target_port`}},
		{name: "ErrTargetPortZero", args: []string{"6080", "localhost:0"}, wantCode: cli.ExitUsage, wantStderr: []string{`target "localhost:0"`}},
		{name: "ErrSSLOnlyWithoutCert", args: []string{"--ssl-only", "127.0.0.1:0", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"wsproxy: error: --ssl-only needs a certificate: give --cert FILE (self.pem not found)"}},
		{name: "ErrVerifyClientWithoutCert", args: []string{"--verify-client", "127.0.0.1:0", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--verify-client needs a certificate"}},
		{name: "ErrCertMissing", args: []string{"--cert", "/nonexistent/cert.pem", "127.0.0.1:0", "localhost:5900"}, wantCode: cli.ExitFailure, wantStderr: []string{"wsproxy: error: cert: open /nonexistent/cert.pem: no such file or directory"}},
		{name: "ErrPIDFileWithoutDaemon", args: []string{"--pid-file", "/tmp/x.pid", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--pid-file needs --daemon"}},
		{name: "ErrDaemonAndInetd", args: []string{"-D", "--inetd", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"give --daemon or --inetd, not both"}},
		{name: "ErrLegacySyslogWithoutSyslog", args: []string{"--legacy-syslog", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--legacy-syslog needs --syslog"}},
		{name: "ErrSyslogPort", args: []string{"--syslog", "localhost:syslog", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{`--syslog "localhost:syslog": want a UDP host:port or a socket path`}},
		{name: "ErrHeartbeatTimeoutAlone", args: []string{"--heartbeat-timeout", "10", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--heartbeat-timeout needs --heartbeat"}},
		{name: "ErrSSLTargetUnix", args: []string{"--ssl-target", "--unix-target", "/run/vnc.sock", "6080"}, wantCode: cli.ExitUsage, wantStderr: []string{"--ssl-target needs a TCP target"}},
		{name: "ErrRecordBoth", args: []string{"--record", "/tmp/r", "--record-dir", "/tmp/d", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"give --record or --record-dir, not both"}},
		{name: "ErrRecordNameWithoutDir", args: []string{"--record-name", "x.wsrec", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--record-name needs --record or --record-dir"}},
		{name: "ErrRecordMaxSize", args: []string{"--record-dir", "/tmp/d", "--record-max-size", "lots", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{`--record-max-size: "lots" is not a size such as 512M`}},
		{name: "ErrRecordWebsockifySigned", args: []string{"--record-dir", "/tmp/d", "--record-format", "websockify", "--record-sign-key", "/tmp/k", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"need --record-format wsrec"}},
		{name: "ErrRecordRecipientWithoutRecord", args: []string{"--record-recipient", "age1spw2xvllhl8pmy0vjd7s950k77a8kw00mr8t487rv7773cua7fvsustmsp", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--record-recipient needs --record or --record-dir"}},
		{name: "ErrRecordRecipientWebsockify", args: []string{"--record-dir", "/tmp/d", "--record-format", "websockify", "--record-recipient", "age1spw2xvllhl8pmy0vjd7s950k77a8kw00mr8t487rv7773cua7fvsustmsp", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--record-recipient needs --record-format wsrec"}},
		{name: "ErrRecordRecipientBad", args: []string{"--record-dir", "/tmp/d", "--record-recipient", "age1nope", "127.0.0.1:0", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--record-recipient: recipient age1nope: "}},
		{name: "ErrRecordRecipientMissingFile", args: []string{"--record-dir", "/tmp/d", "--record-recipient", "/nonexistent/keys.txt", "127.0.0.1:0", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--record-recipient: recipient /nonexistent/keys.txt: open /nonexistent/keys.txt: no such file or directory"}},
		{name: "ErrRecordPublicMetaAlone", args: []string{"--record-dir", "/tmp/d", "--record-public-meta", "client", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--record-public-meta needs --record-recipient"}},
		{name: "ErrRecordTemplate", args: []string{"--record-dir", "/tmp/d", "--record-name", "{nope}", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"unknown placeholder {nope}"}},
		{name: "ErrUnixListenMode", args: []string{"--unix-listen", "/tmp/x.sock", "--unix-listen-mode", "rw", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{`--unix-listen-mode: "rw" is not an octal file mode`}},
		{name: "ErrSSLVersion", args: []string{"--ssl-version", "sslv3", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--ssl-version must be one of"}},
		{name: "ErrWrapMode", args: []string{"--wrap-mode", "restart", "6080", "--", "vncserver"}, wantCode: cli.ExitUsage, wantStderr: []string{"--wrap-mode must be one of"}},
		{name: "ErrCipherKeyword", args: []string{"--ssl-ciphers", "HIGH:!aNULL", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{`--ssl-ciphers: "HIGH" is an OpenSSL keyword or operator`}},
		{name: "ErrCipherUnknown", args: []string{"--ssl-ciphers", "ECDHE-RSA-CAMELLIA256-SHA", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{`--ssl-ciphers: unknown cipher "ECDHE-RSA-CAMELLIA256-SHA" (Go implements: ECDHE-`}},
		{name: "ErrTimeoutValue", args: []string{"--timeout", "soon", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{`--timeout: "soon": want a number of seconds`}},
		{name: "ErrMaxMessageSize", args: []string{"--max-message-size", "0", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"--max-message-size 0: want a number of bytes > 0"}},
		{name: "ErrWebMissing", args: []string{"--web", "/nonexistent", "6080", "localhost:5900"}, wantCode: cli.ExitUsage, wantStderr: []string{"/nonexistent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			if got := cli.ExitCode(err); got != tt.wantCode {
				t.Errorf("got exit code %d (err %v), want %d", got, err, tt.wantCode)
			}
			clitest.AssertContains(t, "stdout", stdout.String(), tt.wantStdout)
			clitest.AssertContains(t, "stderr", stderr.String(), tt.wantStderr)
		})
	}
}

func TestRunVersion(t *testing.T) {
	t.Parallel()
	clitest.AssertVersion(t, "wsproxy", run)
}

// TestExamples runs each example command line of --help until it listens,
// then stops it as SIGTERM would: each must start and exit with status 0.
// Port 6080 is replaced with a free port, so that tests never depend on a
// fixed port.
func TestExamples(t *testing.T) {
	t.Parallel()
	examples := clitest.Examples(description, "wsproxy")
	if len(examples) < 3 {
		t.Fatalf("got examples %q, want at least 3", examples)
	}
	for _, args := range examples {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			if slices.Contains(args, "--web") {
				if _, err := os.Stat("/usr/share/novnc"); err != nil {
					t.Skip("needs Debian's novnc package")
				}
			}
			args = slices.Clone(args)
			for i, a := range args {
				if a == "6080" {
					args[i] = "127.0.0.1:0"
				}
			}
			if slices.Contains(args, "--version") {
				var stdout, stderr bytes.Buffer
				if err := run(t.Context(), args, &stdout, &stderr); err != nil {
					t.Errorf("got error %v, want nil", err)
				}
				return
			}
			startRun(t, args...) // and its cleanup checks the exit
		})
	}
}
