//go:build linux

// Command bench runs the same workloads through three relays in one run and
// prints how wsproxy compares with the other two:
//
//   - wsproxy, the binary given by -wsproxy (built from this module when
//     the flag is empty);
//   - websockify, the Python proxy that wsproxy replaces;
//   - socat -b 262144, a plain TCP relay: the ceiling, which the client
//     talks raw TCP to.
//
// The target is a TCP server inside this process; the clients are too, and
// speak WebSocket (github.com/gobwas/ws) to wsproxy and websockify.
// Everything runs on loopback. See README.md for what each workload
// measures and how to read the table.
//
//	go run ./examples/bench -size 64MiB -idle-conns 500
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

// options are the command line's flags.
type options struct {
	wsproxy     string
	websockify  string
	socat       string
	only        []string
	workloads   []string
	size        byteSize
	frame       byteSize
	payload     string
	parallel    int
	echoCount   int
	idleConns   int
	idleForking int
	duration    time.Duration
	concurrency int
	maxTime     time.Duration
	count       int
	json        bool
}

// run is the whole program but for the process: args[0] is the program
// name, progress goes to stderr and the report to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := options{size: 1 << 30, frame: 64 << 10}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.wsproxy, "wsproxy", "", "wsproxy `binary`; empty means go build ./cmd/wsproxy into a temporary directory")
	fs.StringVar(&o.websockify, "websockify", "websockify", "websockify `command`")
	fs.StringVar(&o.socat, "socat", "socat", "socat `command`")
	only := fs.String("only", strings.Join(defaultRelays(), ","), "comma-separated `relays` to run ("+strings.Join(relayNames(), ", ")+")")
	wls := fs.String("workloads", strings.Join(workloadKeys(), ","), "comma-separated `workloads` to run")
	fs.Var(&o.size, "size", "bytes through one connection in t2c and c2t, and through all of them in par (`size`: 1GiB, 64MiB, 100MB, 4096)")
	fs.Var(&o.frame, "frame", "WebSocket message `size` the client sends in c2t")
	fs.StringVar(&o.payload, "payload", "text", "what t2c, c2t and par send: text (\"wsproxy \" repeated: compresses to almost nothing when recorded) or random (incompressible, 32 MiB of distinct bytes cycled)")
	fs.IntVar(&o.parallel, "parallel", 8, "`connections` in par")
	fs.IntVar(&o.echoCount, "echo-count", 10000, "round trips in echo")
	fs.IntVar(&o.idleConns, "idle-conns", 10000, "idle `sessions` in idle")
	fs.IntVar(&o.idleForking, "idle-conns-forking", 300, "idle `sessions` in idle for relays that fork a process per connection (websockify, socat)")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long connrate runs")
	fs.IntVar(&o.concurrency, "concurrency", 16, "connections open at once in connrate")
	fs.DurationVar(&o.maxTime, "max-time", 90*time.Second, "time limit of one measurement; a transfer cut short reports the rate of what it moved")
	fs.IntVar(&o.count, "count", 1, "runs of each measurement; the median run is reported")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.only, err = pick("-only", *only, relayNames()); err != nil {
		return err
	}
	if o.workloads, err = pick("-workloads", *wls, workloadKeys()); err != nil {
		return err
	}
	switch {
	case o.size <= 0 || o.frame <= 0:
		return errors.New("-size and -frame must be positive")
	case o.payload != "text" && o.payload != "random":
		return fmt.Errorf("-payload %q: want text or random", o.payload)
	case o.parallel < 1 || o.echoCount < 1 || o.idleConns < 1 || o.idleForking < 1 || o.concurrency < 1 || o.count < 1:
		return errors.New("-parallel, -echo-count, -idle-conns, -idle-conns-forking, -concurrency and -count must be at least 1")
	case o.duration <= 0 || o.maxTime <= 0:
		return errors.New("-duration and -max-time must be positive")
	}

	b, err := newBench(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer b.close()
	rep := report{Command: commandLine(args), Env: b.environment(ctx)}
	for _, key := range o.workloads {
		w := workloadByKey(key)
		for _, name := range o.only {
			m := b.measure(ctx, w, b.relays[name])
			rep.Measurements = append(rep.Measurements, m)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	rep.Env.LoadAfter = loadAverage()
	rep.check(o)
	if o.json {
		return rep.writeJSON(stdout)
	}
	return rep.writeTable(stdout)
}

// pick splits a comma-separated list and checks each item against known,
// keeping known's order.
func pick(flagName, list string, known []string) ([]string, error) {
	var got []string
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !slices.Contains(known, item) {
			return nil, fmt.Errorf("%s: unknown %q (known: %s)", flagName, item, strings.Join(known, ","))
		}
		got = append(got, item)
	}
	if len(got) == 0 {
		return nil, fmt.Errorf("%s: empty", flagName)
	}
	var ordered []string
	for _, k := range known {
		if slices.Contains(got, k) {
			ordered = append(ordered, k)
		}
	}
	return ordered, nil
}

// commandLine quotes args for a shell; a binary left by go run is shown as
// the go run command.
func commandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	if strings.Contains(args[0], "/go-build") {
		q[0] = "go run ./examples/bench"
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// byteSize is a flag value in bytes, written with an optional unit.
type byteSize int64

var units = []struct {
	name string
	size int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}

func (s *byteSize) Set(v string) error {
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.name); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil {
				return err
			}
			*s = byteSize(n * u.size)
			return nil
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	*s = byteSize(n)
	return err
}

// String writes s with the largest binary unit that divides it.
func (s byteSize) String() string {
	for _, u := range units[:3] {
		if s >= byteSize(u.size) && int64(s)%u.size == 0 {
			return fmt.Sprintf("%d%s", int64(s)/u.size, u.name)
		}
	}
	return strconv.FormatInt(int64(s), 10)
}
