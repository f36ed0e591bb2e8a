//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// environment is what the report says about the machine and the programs.
type environment struct {
	Date       string            `json:"date"`
	CPUs       int               `json:"cpus"`
	CPUModel   string            `json:"cpu_model"`
	Kernel     string            `json:"kernel"`
	Memory     string            `json:"memory"`
	Go         string            `json:"go"`
	Versions   map[string]string `json:"versions"`
	Relays     map[string]string `json:"relays"` // command lines
	FDLimit    uint64            `json:"fd_limit"`
	LoadBefore string            `json:"load_before"`
	LoadAfter  string            `json:"load_after"`
	Recordings string            `json:"recordings,omitempty"` // their file system, for the recording relays
}

func (b *bench) environment(ctx context.Context) environment {
	e := environment{
		Date:       time.Now().UTC().Format(time.RFC3339),
		CPUs:       runtime.NumCPU(),
		CPUModel:   procField("/proc/cpuinfo", "model name"),
		Kernel:     firstLine(os.ReadFile("/proc/sys/kernel/osrelease")) + " " + runtime.GOARCH,
		Memory:     memTotal(),
		Go:         runtime.Version(),
		Versions:   make(map[string]string),
		Relays:     make(map[string]string),
		FDLimit:    b.fdLimit,
		LoadBefore: loadAverage(),
	}
	for _, name := range b.o.only {
		if name == "recording" || name == "encrypted" {
			e.Recordings = b.dir + " on " + fileSystem(b.dir)
		}
	}
	for _, name := range b.o.only {
		spec := b.relays[name]
		e.Relays[name] = spec.commandLine()
		switch name {
		case "wsproxy", "recording", "encrypted":
			e.Versions[name] = firstLine(commandOutput(ctx, spec.bin, "--version"))
		case "websockify":
			e.Versions[name] = firstLine(commandOutput(ctx, "dpkg-query", "-W", "-f=${Version}", "websockify"))
			if py := interpreter(spec.bin); py != "" {
				e.Versions["python3"] = firstLine(commandOutput(ctx, py, "--version"))
			}
		case "socat":
			out, _ := commandOutput(ctx, spec.bin, "-V")
			for line := range strings.Lines(string(out)) {
				if strings.Contains(line, "socat version") {
					e.Versions[name] = strings.TrimSpace(line)
				}
			}
		}
	}
	return e
}

func commandOutput(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, name, args...).Output()
}

// firstLine returns the first line of out, or "unknown".
func firstLine(out []byte, err error) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil || line == "" {
		return "unknown"
	}
	return line
}

// interpreter returns the program named by a script's #! line.
func interpreter(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return ""
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return ""
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
		return fields[1]
	}
	return fields[0]
}

// procField returns the value of the first "key: value" line of a /proc
// file.
func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if err != nil || len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// memTotal returns the machine's memory in GiB.
func memTotal() string {
	var kb float64
	if _, err := fmt.Sscanf(procField("/proc/meminfo", "MemTotal"), "%f kB", &kb); err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", kb/(1<<20))
}

// fileSystem describes the file system holding dir, from
// /proc/self/mountinfo: "ext4 (/dev/vda)", with "without a journal" for
// an ext4 that has none (see noJournal).
func fileSystem(dir string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return "unknown"
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "unknown"
	}
	want := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	for line := range strings.Lines(string(b)) {
		// 26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,...
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 3 || len(g) < 2 || f[2] != want {
			continue
		}
		desc := fmt.Sprintf("%s (%s)", g[0], g[1])
		if g[0] == "ext4" && noJournal(g[1]) {
			desc += " without a journal"
		}
		return desc
	}
	return "unknown"
}

// noJournal reports whether the ext4 file system on device source has no
// journal: its /sys/fs/ext4/NAME/journal_task says "<none>".
func noJournal(source string) bool {
	b, err := os.ReadFile(filepath.Join("/sys/fs/ext4", filepath.Base(source), "journal_task"))
	return err == nil && strings.TrimSpace(string(b)) == "<none>"
}
