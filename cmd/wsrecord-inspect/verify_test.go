package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

// TestVerifyExitCodes checks verify's documented exit statuses.
func TestVerifyExitCodes(t *testing.T) {
	t.Parallel()
	rec := func(name string) string { return filepath.Join(recordings, name) }
	trusted, other := filepath.Join(fix, "signer.pub"), filepath.Join(fix, "other.pub")
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"Valid", []string{rec("sealed-small.wsrec")}, 0},
		{"ValidSigned", []string{rec("sealed-signed.wsrec")}, 0},
		{"ValidTrusted", []string{"--pubkey", trusted, rec("sealed-signed.wsrec")}, 0},
		{"Tampered", []string{rec("tampered-chunk1.wsrec")}, 1},
		{"TamperedTrusted", []string{"--pubkey", trusted, rec("tampered-chunk1.wsrec")}, 1},
		{"Unsealed", []string{rec("unsealed-killed.wsrec")}, 2},
		{"UnsealedCutOff", []string{rec("truncated-mid-chunk.wsrec")}, 2},
		{"Websockify", []string{rec("websockify-vnc-session.txt")}, 2},
		{"UnsignedWithPubkey", []string{"--pubkey", trusted, rec("sealed-small.wsrec")}, 3},
		{"WronglySigned", []string{"--pubkey", other, rec("sealed-signed.wsrec")}, 3},
		{"NotARecording", []string{rec("websockify-vnc-session.client.json")}, 4},
		{"Missing", []string{rec("missing.wsrec")}, 4},
		{"WorstTampered", []string{rec("sealed-small.wsrec"), rec("unsealed-killed.wsrec"), rec("missing.wsrec"), rec("tampered-chunk1.wsrec")}, 1},
		{"WorstSignature", []string{"--pubkey", trusted, rec("missing.wsrec"), rec("sealed-small.wsrec"), rec("unsealed-killed.wsrec")}, 3},
		{"WorstUnreadable", []string{rec("unsealed-killed.wsrec"), rec("missing.wsrec"), rec("sealed-small.wsrec")}, 4},
		{"WorstUnsealed", []string{rec("sealed-signed.wsrec"), rec("unsealed-killed.wsrec")}, 2},
		{"UsageNoFile", nil, exitVerifyUsage},
		{"UsageUnknownFlag", []string{"--bogus", rec("sealed-small.wsrec")}, exitVerifyUsage},
		{"UsageBadKey", []string{"--pubkey", rec("sealed-small.wsrec"), rec("sealed-small.wsrec")}, exitVerifyUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), append([]string{"verify"}, tt.args...), &stdout, &stderr)
			if got := cli.ExitCode(err); got != tt.want {
				t.Errorf("got exit code %d, want %d; stdout:\n%s\nstderr:\n%s", got, tt.want, &stdout, &stderr)
			}
		})
	}
}
