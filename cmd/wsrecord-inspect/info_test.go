package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/wsproxy/wsproxy/cmd/internal/cli"
)

// TestInfoStatus checks info's status and exit code for the recordings
// whose status recfile.StatusOf decides otherwise than info once did: one
// cut inside its header is truncated (it was "damaged"), one of a newer
// format version unreadable (it was "damaged", exit status 5, and verify
// called it tampered).
func TestInfoStatus(t *testing.T) {
	t.Parallel()
	sealed, err := os.ReadFile(filepath.Join(recordings, "sealed-small.wsrec"))
	if err != nil {
		t.Fatal(err)
	}
	newer := bytes.Clone(sealed)
	newer[12]++ // the header's format version, then its checksum
	end := 8 + int(binary.LittleEndian.Uint32(newer[4:]))
	binary.LittleEndian.PutUint32(newer[end-4:], crc32.Checksum(newer[8:end-4], crc32.MakeTable(crc32.Castagnoli)))
	damaged := bytes.Clone(sealed)
	damaged[12]++ // without the checksum

	dir := t.TempDir()
	tests := []struct {
		name   string
		data   []byte
		status string
		code   int
		verify int // verify's exit code
	}{
		{"HeaderCut", sealed[:40], "truncated", exitDamaged, exitVerifyRead},
		{"NewerVersion", newer, "unreadable", exitUnreadable, exitVerifyRead},
		{"DamagedHeader", damaged, "damaged", exitDamaged, exitTampered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := filepath.Join(dir, tt.name+".wsrec")
			if err := os.WriteFile(name, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), []string{"info", "--json", name}, &stdout, &stderr)
			var row struct{ Status, Error string }
			if jerr := json.Unmarshal(stdout.Bytes(), &row); jerr != nil {
				t.Fatalf("%v in %q", jerr, stdout.String())
			}
			if row.Status != tt.status || row.Error == "" {
				t.Errorf("got status %q, error %q; want %q and an error", row.Status, row.Error, tt.status)
			}
			if got := cli.ExitCode(err); got != tt.code {
				t.Errorf("got exit code %d (%v), want %d", got, err, tt.code)
			}
			err = run(t.Context(), []string{"verify", name}, &stdout, &stderr)
			if got := cli.ExitCode(err); got != tt.verify {
				t.Errorf("verify: got exit code %d (%v), want %d", got, err, tt.verify)
			}
		})
	}
}
