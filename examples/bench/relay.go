//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"
)

// relaySpec is one of the relays compared.
type relaySpec struct {
	name    string
	ws      bool // clients speak WebSocket to it; else raw TCP
	forking bool // a process per connection
	record  bool // wsproxy recording every session to a fresh directory
	// recipient, if not empty, encrypts the recordings to this age
	// recipient.
	recipient string
	bin       string
	// args returns the command line after bin.
	args func(listen, target string) []string
}

func relayNames() []string {
	return []string{"wsproxy", "recording", "encrypted", "websockify", "socat"}
}

// defaultRelays are the relays run when -only is not given: encrypted,
// which measures what encrypting recordings adds, only on request.
func defaultRelays() []string { return []string{"wsproxy", "recording", "websockify", "socat"} }

// relaySpecs returns the relays, with the binaries of o. The encrypted
// relay encrypts to a key made for the run, whose identity is dropped:
// the bench never reads the recordings.
func relaySpecs(o options) map[string]*relaySpec {
	hostPort := func(listen, target string) []string { return []string{listen, target} }
	var recipient string
	if id, err := age.GenerateX25519Identity(); err == nil {
		recipient = id.Recipient().String()
	}
	return map[string]*relaySpec{
		"wsproxy":    {name: "wsproxy", ws: true, bin: o.wsproxy, args: hostPort},
		"recording":  {name: "recording", ws: true, record: true, bin: o.wsproxy, args: hostPort},
		"encrypted":  {name: "encrypted", ws: true, record: true, recipient: recipient, bin: o.wsproxy, args: hostPort},
		"websockify": {name: "websockify", ws: true, forking: true, bin: o.websockify, args: hostPort},
		"socat": {name: "socat", forking: true, bin: o.socat, args: func(listen, target string) []string {
			host, port, _ := net.SplitHostPort(listen)
			// backlog: socat's default of 5 drops connections in connrate,
			// which the other relays (4096, 100) do not.
			return []string{"-b", "262144", "TCP-LISTEN:" + port + ",bind=" + host + ",fork,reuseaddr,backlog=1024", "TCP:" + target}
		}},
	}
}

// commandLine returns how the relay is run, with placeholders for the
// addresses.
func (s *relaySpec) commandLine() string {
	return strings.Join(append([]string{s.bin}, s.argv("127.0.0.1:PORT", "127.0.0.1:TARGET_PORT", "DIR")...), " ")
}

// argv is the command line after bin: args, after --record-dir recDir for
// a recording relay.
func (s *relaySpec) argv(listen, target, recDir string) []string {
	args := s.args(listen, target)
	if s.recipient != "" {
		args = append([]string{"--record-recipient", s.recipient}, args...)
	}
	if s.record {
		args = append([]string{"--record-dir", recDir}, args...)
	}
	return args
}

// relay is a running relay process. Its process group holds the processes
// it forks, so that stop ends them all.
type relay struct {
	spec   *relaySpec
	addr   string
	recDir string // the recordings, removed with the bench's directory; "" when not recording
	cmd    *exec.Cmd
	logf   *os.File
	exited chan struct{}
}

// startRelay starts spec relaying to target and waits until it accepts
// connections. Its output goes to a file in dir.
func startRelay(ctx context.Context, spec *relaySpec, target, dir string) (*relay, error) {
	var last error
	for range 3 { // the port picked may be taken before the relay binds it
		r, err := tryStartRelay(ctx, spec, target, dir)
		if err == nil {
			return r, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func tryStartRelay(ctx context.Context, spec *relaySpec, target, dir string) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logf, err := os.CreateTemp(dir, spec.name+"-*.log")
	if err != nil {
		return nil, err
	}
	var recDir string
	if spec.record {
		if recDir, err = os.MkdirTemp(dir, "recordings-*"); err != nil {
			logf.Close()
			return nil, err
		}
	}
	cmd := exec.Command(spec.bin, spec.argv(addr, target, recDir)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(recDir)
		return nil, fmt.Errorf("%s: %w", spec.name, err)
	}
	r := &relay{spec: spec, addr: addr, recDir: recDir, cmd: cmd, logf: logf, exited: make(chan struct{})}
	go r.wait()
	if err := r.waitListening(ctx, 10*time.Second); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

func (r *relay) wait() {
	r.cmd.Wait()
	close(r.exited)
}

// waitListening waits until the relay's port is in the LISTEN state. It
// looks in /proc/net/tcp rather than connecting: a probe connection would
// make socat connect to the target, and websockify log an error.
func (r *relay) waitListening(ctx context.Context, timeout time.Duration) error {
	_, port, _ := net.SplitHostPort(r.addr)
	p, _ := strconv.Atoi(port)
	// local_address 0100007F:1F90 (127.0.0.1:8080, little-endian address), st 0A (LISTEN)
	want := fmt.Sprintf("0100007F:%04X", p)
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-r.exited:
			return fmt.Errorf("%s exited at start (%v): %s", r.spec.name, r.cmd.ProcessState, r.logTail())
		default:
		}
		if listening(want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not listen on %s after %v: %s", r.spec.name, r.addr, timeout, r.logTail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listening reports whether /proc/net/tcp has a listening socket whose
// local address is local.
func listening(local string) bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == local && f[3] == "0A" {
			return true
		}
	}
	return false
}

// logTail returns the end of the relay's output, for error messages.
func (r *relay) logTail() string {
	b, _ := os.ReadFile(r.logf.Name())
	b = bytes.TrimSpace(b)
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	if len(b) == 0 {
		return "no output"
	}
	return string(b)
}

// alive returns an error if the relay has exited.
func (r *relay) alive() error {
	select {
	case <-r.exited:
		return fmt.Errorf("%s exited (%v): %s", r.spec.name, r.cmd.ProcessState, r.logTail())
	default:
		return nil
	}
}

// stop ends the relay's process group: SIGTERM, then SIGKILL after 3s.
func (r *relay) stop() {
	pgid := r.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(3 * time.Second):
	}
	// Forked children may outlive the parent: end the group in any case.
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-r.exited
	r.logf.Close()
	os.Remove(r.logf.Name())
	// The recordings stay until the bench ends: on ext4 without a
	// journal, creating a file skips, one by one, every inode of its
	// group freed in the last half minute, so removing the thousands
	// of files of one connrate run made each file of the next cost
	// hundreds of microseconds more, a cost of the bench, not of the
	// relay.
}

// treeMemory is the memory of a process and its descendants.
type treeMemory struct {
	Procs int    // processes counted
	RSS   uint64 // resident set sizes added up, bytes
	PSS   uint64 // proportional set sizes added up, bytes (shared pages divided among their users)
}

// memory returns the memory of the relay's process tree, from /proc.
func (r *relay) memory() (treeMemory, error) {
	var m treeMemory
	pids, err := r.tree()
	if err != nil {
		return m, err
	}
	for i, pid := range pids {
		rss, pss, err := smapsRollup(pid)
		if err != nil {
			if i == 0 {
				return m, err
			}
			continue // a child that just exited
		}
		m.Procs++
		m.RSS += rss
		m.PSS += pss
	}
	return m, nil
}

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100
// on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// cpu returns the CPU time used by the relay's process tree so far: the
// run time of each live thread (/proc/PID/task/TID/schedstat, in
// nanoseconds) and, in clock ticks, that of the children each process has
// reaped (cutime and cstime in /proc/PID/stat).
func (r *relay) cpu() (time.Duration, error) {
	pids, err := r.tree()
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for i, pid := range pids {
		d, err := processCPU(pid)
		if err != nil {
			if i == 0 {
				return 0, err
			}
			continue // a child that just exited
		}
		total += d
	}
	return total, nil
}

func processCPU(pid int) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 15 {
		return 0, fmt.Errorf("stat %d: %d fields", pid, len(f))
	}
	var total time.Duration
	// Fields 16 and 17 of stat: cutime and cstime.
	for _, v := range f[13:15] {
		t, _ := strconv.ParseInt(v, 10, 64)
		total += time.Duration(t) * clockTick
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread exited
		}
		runNS, _, _ := strings.Cut(string(b), " ")
		ns, _ := strconv.ParseInt(runNS, 10, 64)
		total += time.Duration(ns)
	}
	return total, nil
}

// cpuMeter returns a function that returns the relay's CPU time since
// cpuMeter was called, or -1 if it cannot be read.
func (r *relay) cpuMeter() func() time.Duration {
	before, err := r.cpu()
	return func() time.Duration {
		after, err2 := r.cpu()
		if err != nil || err2 != nil {
			return -1
		}
		return after - before
	}
}

// tree returns the relay's process ID, then its descendants'.
func (r *relay) tree() ([]int, error) {
	children, err := childrenMap()
	if err != nil {
		return nil, err
	}
	pids := []int{r.cmd.Process.Pid}
	for i := 0; i < len(pids); i++ {
		pids = append(pids, children[pids[i]]...)
	}
	return pids, nil
}

// procStat returns the fields of /proc/PID/stat after the command name:
// f[0] is the state (field 3), f[1] the parent's ID (field 4).
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("malformed stat")
	}
	return strings.Fields(string(b[i+1:])), nil
}

// childrenMap maps each process ID to its children's.
func childrenMap() (map[int][]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := make(map[int][]int)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := procStat(pid)
		if err != nil || len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	return children, nil
}

// smapsRollup returns a process's RSS and PSS in bytes.
func smapsRollup(pid int) (rss, pss uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			rss = kb << 10
		case "Pss:":
			pss = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no Rss in smaps_rollup")
	}
	return rss, pss, nil
}
