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
	tests := []clitest.Case{
		{Name: "Help", Args: []string{"--help"}, WantStdout: []string{
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
		{Name: "HelpShort", Args: []string{"-h"}, WantStdout: []string{"Usage: wsproxy", "Examples:"}},
		{Name: "HelpWithArguments", Args: []string{"6080", "--help"}, WantStdout: []string{"Usage: wsproxy", "Examples:"}},
		{Name: "ErrUnknownFlag", Args: []string{"--bogus", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{
			"wsproxy: error: unknown flag --bogus\n",
			"Usage: wsproxy [<source> [<target>]] [flags]\n",
			`Run "wsproxy --help" for more information.`,
		}},
		{Name: "ErrMissingSource", WantCode: cli.ExitUsage, WantStderr: []string{"wsproxy: error: missing source: give [source_addr:]source_port", `Run "wsproxy --help"`}},
		{Name: "ErrMissingTarget", Args: []string{"6080"}, WantCode: cli.ExitUsage, WantStderr: []string{"wsproxy: error: missing target", `Run "wsproxy --help"`}},
		{Name: "ErrExtraArgument", Args: []string{"6080", "localhost:5900", "extra"}, WantCode: cli.ExitUsage, WantStderr: []string{"wsproxy: error: unexpected argument extra"}},
		{Name: "ErrTargetAndWrap", Args: []string{"6080", "localhost:5900", "--", "vncserver"}, WantCode: cli.ExitUsage, WantStderr: []string{"wsproxy: error: give a target or -- WRAP_COMMAND_LINE, not both"}},
		{Name: "ErrEmptyWrap", Args: []string{"6080", "--"}, WantCode: cli.ExitUsage, WantStderr: []string{"wsproxy: error: missing WRAP_COMMAND_LINE after --"}},
		{Name: "ErrWrapWithoutSource", Args: []string{"--", "vncserver"}, WantCode: cli.ExitUsage, WantStderr: []string{"wsproxy: error: missing source"}},
		{Name: "ErrTargetAndUnixTarget", Args: []string{"--unix-target", "/run/vnc.sock", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"wsproxy: error: unexpected argument localhost:5900: give a target or --unix-target, not both"}},
		{Name: "ErrWrapAndUnixTarget", Args: []string{"--unix-target", "/run/vnc.sock", "6080", "--", "vncserver"}, WantCode: cli.ExitUsage, WantStderr: []string{"give --unix-target or -- WRAP_COMMAND_LINE, not both"}},
		{Name: "ErrSourceWithUnixListen", Args: []string{"--unix-listen", "/tmp/x.sock", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"unexpected argument 6080: with --inetd or --unix-listen there is no source"}},
		{Name: "ErrInetdAndUnixListen", Args: []string{"--inetd", "--unix-listen", "/tmp/x.sock", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"give --inetd or --unix-listen, not both"}},
		{Name: "ErrBadSourcePort", Args: []string{"localhost:http", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{`source "localhost:http": want [source_addr:]source_port`}},
		{Name: "ErrSourcePortRange", Args: []string{"70000", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{`source "70000"`}},
		{Name: "ErrTargetWithoutPort", Args: []string{"6080", "localhost"}, WantCode: cli.ExitUsage, WantStderr: []string{`target "localhost": want target_addr:target_port`}},
		{Name: "ErrTargetPortZero", Args: []string{"6080", "localhost:0"}, WantCode: cli.ExitUsage, WantStderr: []string{`target "localhost:0"`}},
		{Name: "ErrSSLOnlyWithoutCert", Args: []string{"--ssl-only", "127.0.0.1:0", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"wsproxy: error: --ssl-only needs a certificate: give --cert FILE (self.pem not found)"}},
		{Name: "ErrVerifyClientWithoutCert", Args: []string{"--verify-client", "127.0.0.1:0", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--verify-client needs a certificate"}},
		{Name: "ErrCertMissing", Args: []string{"--cert", "/nonexistent/cert.pem", "127.0.0.1:0", "localhost:5900"}, WantCode: cli.ExitFailure, WantStderr: []string{"wsproxy: error: cert: open /nonexistent/cert.pem: no such file or directory"}},
		{Name: "ErrPIDFileWithoutDaemon", Args: []string{"--pid-file", "/tmp/x.pid", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--pid-file needs --daemon"}},
		{Name: "ErrDaemonAndInetd", Args: []string{"-D", "--inetd", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"give --daemon or --inetd, not both"}},
		{Name: "ErrLegacySyslogWithoutSyslog", Args: []string{"--legacy-syslog", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--legacy-syslog needs --syslog"}},
		{Name: "ErrSyslogPort", Args: []string{"--syslog", "localhost:syslog", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{`--syslog "localhost:syslog": want a UDP host:port or a socket path`}},
		{Name: "ErrHeartbeatTimeoutAlone", Args: []string{"--heartbeat-timeout", "10", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--heartbeat-timeout needs --heartbeat"}},
		{Name: "ErrSSLTargetUnix", Args: []string{"--ssl-target", "--unix-target", "/run/vnc.sock", "6080"}, WantCode: cli.ExitUsage, WantStderr: []string{"--ssl-target needs a TCP target"}},
		{Name: "ErrRecordBoth", Args: []string{"--record", "/tmp/r", "--record-dir", "/tmp/d", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"give --record or --record-dir, not both"}},
		{Name: "ErrRecordNameWithoutDir", Args: []string{"--record-name", "x.wsrec", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--record-name needs --record or --record-dir"}},
		{Name: "ErrRecordMaxSize", Args: []string{"--record-dir", "/tmp/d", "--record-max-size", "lots", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{`--record-max-size: "lots" is not a size such as 512M`}},
		{Name: "ErrRecordWebsockifySigned", Args: []string{"--record-dir", "/tmp/d", "--record-format", "websockify", "--record-sign-key", "/tmp/k", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"need --record-format wsrec"}},
		{Name: "ErrRecordRecipientWithoutRecord", Args: []string{"--record-recipient", "age1spw2xvllhl8pmy0vjd7s950k77a8kw00mr8t487rv7773cua7fvsustmsp", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--record-recipient needs --record or --record-dir"}},
		{Name: "ErrRecordRecipientWebsockify", Args: []string{"--record-dir", "/tmp/d", "--record-format", "websockify", "--record-recipient", "age1spw2xvllhl8pmy0vjd7s950k77a8kw00mr8t487rv7773cua7fvsustmsp", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--record-recipient needs --record-format wsrec"}},
		{Name: "ErrRecordRecipientBad", Args: []string{"--record-dir", "/tmp/d", "--record-recipient", "age1nope", "127.0.0.1:0", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--record-recipient: recipient age1nope: "}},
		{Name: "ErrRecordRecipientMissingFile", Args: []string{"--record-dir", "/tmp/d", "--record-recipient", "/nonexistent/keys.txt", "127.0.0.1:0", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--record-recipient: recipient /nonexistent/keys.txt: open /nonexistent/keys.txt: no such file or directory"}},
		{Name: "ErrRecordPublicMetaAlone", Args: []string{"--record-dir", "/tmp/d", "--record-public-meta", "client", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--record-public-meta needs --record-recipient"}},
		{Name: "ErrRecordTemplate", Args: []string{"--record-dir", "/tmp/d", "--record-name", "{nope}", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"unknown placeholder {nope}"}},
		{Name: "ErrUnixListenMode", Args: []string{"--unix-listen", "/tmp/x.sock", "--unix-listen-mode", "rw", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{`--unix-listen-mode: "rw" is not an octal file mode`}},
		{Name: "ErrSSLVersion", Args: []string{"--ssl-version", "sslv3", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--ssl-version must be one of"}},
		{Name: "ErrWrapMode", Args: []string{"--wrap-mode", "restart", "6080", "--", "vncserver"}, WantCode: cli.ExitUsage, WantStderr: []string{"--wrap-mode must be one of"}},
		{Name: "ErrCipherKeyword", Args: []string{"--ssl-ciphers", "HIGH:!aNULL", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{`--ssl-ciphers: "HIGH" is an OpenSSL keyword or operator`}},
		{Name: "ErrCipherUnknown", Args: []string{"--ssl-ciphers", "ECDHE-RSA-CAMELLIA256-SHA", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{`--ssl-ciphers: unknown cipher "ECDHE-RSA-CAMELLIA256-SHA" (Go implements: ECDHE-`}},
		{Name: "ErrTimeoutValue", Args: []string{"--timeout", "soon", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{`--timeout: "soon": want a number of seconds`}},
		{Name: "ErrMaxMessageSize", Args: []string{"--max-message-size", "0", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"--max-message-size 0: want a number of bytes > 0"}},
		{Name: "ErrWebMissing", Args: []string{"--web", "/nonexistent", "6080", "localhost:5900"}, WantCode: cli.ExitUsage, WantStderr: []string{"/nonexistent"}},
	}
	clitest.RunCases(t, run, tests)
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
