//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// report is what the command prints.
type report struct {
	Command      string        `json:"command"`
	Env          environment   `json:"environment"`
	Measurements []measurement `json:"measurements"`
	Rows         []row         `json:"rows"`
}

// row is one line of the table: a metric of a workload for each relay,
// wsproxy's ratios to the others, and the target for it.
type row struct {
	Workload     string             `json:"workload"`
	Metric       string             `json:"metric"`
	Label        string             `json:"label"`
	Unit         string             `json:"unit"`
	Values       map[string]float64 `json:"values"`                  // by relay; absent when not measured
	VsSocat      float64            `json:"vs_socat,omitempty"`      // wsproxy ÷ socat
	VsWebsockify float64            `json:"vs_websockify,omitempty"` // wsproxy ÷ websockify
	Recording    float64            `json:"recording,omitempty"`     // recording ÷ wsproxy
	Target       string             `json:"target,omitempty"`
	Pass         *bool              `json:"pass,omitempty"` // nil: no target, or not measured
}

// rowSpec says how to make a row from the measurements.
type rowSpec struct {
	workload, metric, label, unit, target string
	// pass checks the target; nil means the row has no target. It returns
	// false for ok when it lacks the values to decide.
	pass func(r row, o options) (pass, ok bool)
}

// throughputTarget is the target for the throughput rows.
func throughputTarget(r row, _ options) (bool, bool) {
	if _, ok := r.Values["wsproxy"]; !ok {
		return false, false
	}
	pass, ok := true, false
	if r.VsSocat > 0 {
		pass, ok = pass && r.VsSocat >= 0.8, true
	}
	if r.VsWebsockify > 0 {
		pass, ok = pass && r.VsWebsockify >= 3, true
	}
	if r.Recording > 0 {
		pass, ok = pass && r.Recording >= 0.8, true
	}
	return pass, ok
}

// throughputGoal is the target of the throughput rows.
const throughputGoal = "≥0.8× socat, ≥3× websockify; recording ≥0.8×"

func rowSpecs(o options) []rowSpec {
	return []rowSpec{
		{"t2c", mbps, "1 conn, target→client", "MB/s", throughputGoal, throughputTarget},
		{"t2c", cpuPerGB, "  relay CPU", "s/GB", "", nil},
		{"c2t", mbps, "1 conn, client→target", "MB/s", throughputGoal, throughputTarget},
		{"c2t", cpuPerGB, "  relay CPU", "s/GB", "", nil},
		{"par", mbps, fmt.Sprintf("%d conns, target→client, sum", o.parallel), "MB/s", throughputGoal, throughputTarget},
		{"par", cpuPerGB, "  relay CPU", "s/GB", "", nil},
		{"echo", p50, "64 B echo, p50", "µs", "≤ websockify", func(r row, _ options) (bool, bool) {
			return r.VsWebsockify <= 1, r.VsWebsockify > 0
		}},
		{"echo", p99, "64 B echo, p99", "µs", "", nil},
		{"echo", cpuPerTrip, "  relay CPU", "µs/trip", "", nil},
		{"idle", kibPer, "idle conn, RSS each", "KiB", "≤40 KiB at 10,000 conns", func(r row, o options) (bool, bool) {
			v, ok := r.Values["wsproxy"]
			return v <= 40, ok
		}},
		{"idle", pssPer, "  PSS each", "KiB", "", nil},
		{"connrate", connPerS, "new conns (open, echo, close)", "conn/s", "≥5,000/s", func(r row, _ options) (bool, bool) {
			v, ok := r.Values["wsproxy"]
			return v >= 5000, ok
		}},
		{"connrate", cpuPerConn, "  relay CPU", "µs/conn", "", nil},
	}
}

// check makes the rows from the measurements.
func (rep *report) check(o options) {
	for _, s := range rowSpecs(o) {
		if !slices.Contains(o.workloads, s.workload) {
			continue
		}
		r := row{Workload: s.workload, Metric: s.metric, Label: s.label, Unit: s.unit, Target: s.target, Values: make(map[string]float64)}
		for _, m := range rep.Measurements {
			if v, ok := m.Metrics[s.metric]; ok && m.Workload == s.workload {
				r.Values[m.Relay] = v
			}
		}
		ws, ok := r.Values["wsproxy"]
		if v := r.Values["socat"]; ok && v > 0 {
			r.VsSocat = ws / v
		}
		if v := r.Values["websockify"]; ok && v > 0 {
			r.VsWebsockify = ws / v
		}
		if v, rec := r.Values["recording"]; ok && rec && ws > 0 {
			r.Recording = v / ws
		}
		if s.pass != nil {
			if pass, ok := s.pass(r, o); ok {
				r.Pass = &pass
			}
		}
		rep.Rows = append(rep.Rows, r)
	}
}

func (rep *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func (rep *report) writeTable(w io.Writer) error {
	e := rep.Env
	var relays []string
	for _, name := range relayNames() {
		if _, ok := e.Relays[name]; ok {
			relays = append(relays, name)
		}
	}
	fmt.Fprintf(w, "command: %s\n", rep.Command)
	fmt.Fprintf(w, "date:    %s\n", e.Date)
	fmt.Fprintf(w, "machine: %d CPUs (%s), Linux %s, %s memory, open file limit %d\n", e.CPUs, e.CPUModel, e.Kernel, e.Memory, e.FDLimit)
	fmt.Fprintf(w, "load:    %s at start, %s at end (1, 5, 15 min)\n", e.LoadBefore, e.LoadAfter)
	var load float64
	if _, err := fmt.Sscan(e.LoadBefore, &load); err == nil && load >= float64(e.CPUs) {
		fmt.Fprintf(w, "warning: the load at start (%.1f) was not below the CPU count: other programs took CPU time\n", load)
		fmt.Fprintln(w, "         from the relays; rates are low and noisy, relay CPU rows hold better.")
	}
	if e.Recordings != "" {
		fmt.Fprintf(w, "records: %s\n", e.Recordings)
		if strings.HasSuffix(e.Recordings, "without a journal") {
			fmt.Fprintln(w, "warning: on ext4 without a journal, creating a file skips every inode of its group deleted in the")
			fmt.Fprintln(w, "         last minute (six, until written back): connrate's recording rows then depend on what")
			fmt.Fprintln(w, "         was deleted before, this bench's earlier runs included. TMPDIR=/dev/shm measures the")
			fmt.Fprintln(w, "         recorder without it.")
		}
	}
	fmt.Fprintf(w, "go:      %s\n", e.Go)
	for _, name := range append(relays, "python3") {
		if v, ok := e.Versions[name]; ok {
			fmt.Fprintf(w, "%-8s %s\n", name+":", v)
		}
	}
	for _, name := range relays {
		fmt.Fprintf(w, "run %-11s %s\n", name+":", e.Relays[name])
	}
	fmt.Fprintln(w)

	header := []string{"workload", "", "unit"}
	header = append(header, relays...)
	header = append(header, "÷socat", "÷websockify", "recording÷", "target", "")
	table := [][]string{header}
	for _, r := range rep.Rows {
		cells := []string{r.Workload, r.Label, r.Unit}
		for _, name := range relays {
			cells = append(cells, rep.cell(r, name))
		}
		cells = append(cells, ratio(r.VsSocat), ratio(r.VsWebsockify), ratio(r.Recording), r.Target, verdict(r.Pass))
		table = append(table, cells)
	}
	// Text columns to the left, numbers to the right.
	left := func(col int) bool { return col < 3 || col >= len(header)-2 }
	writeColumns(w, table, left)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "÷socat and ÷websockify are wsproxy's value divided by the other's: above 1 is faster for MB/s")
	fmt.Fprintln(w, "and conn/s, slower for µs, bigger for KiB. recording÷ is recording's value divided by wsproxy's:")
	fmt.Fprintln(w, "what recording every session (--record-dir) leaves of it. MB/s is 10^6 bytes per second.")
	for _, m := range rep.Measurements {
		switch {
		case m.Error != "":
			fmt.Fprintf(w, "%s %s: error: %s\n", m.Workload, m.Relay, m.Error)
		case m.Note != "":
			fmt.Fprintf(w, "%s %s: %s\n", m.Workload, m.Relay, m.Note)
		}
	}
	return nil
}

// writeColumns writes table with its columns padded to their widest cell,
// two spaces apart.
func writeColumns(w io.Writer, table [][]string, left func(col int) bool) {
	widths := make([]int, len(table[0]))
	for _, cells := range table {
		for i, c := range cells {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, cells := range table {
		var line strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i > 0 {
				line.WriteString("  ")
			}
			if left(i) {
				line.WriteString(c + pad)
			} else {
				line.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(line.String(), " "))
	}
}

// cell formats a relay's value in a row, "error" if its measurement failed.
func (rep *report) cell(r row, relay string) string {
	if v, ok := r.Values[relay]; ok {
		s := number(v)
		if r.Workload == "idle" {
			for _, m := range rep.Measurements {
				if m.Workload == "idle" && m.Relay == relay {
					s += fmt.Sprintf(" (N=%d)", int(m.Metrics[idleConns]))
				}
			}
		}
		return s
	}
	for _, m := range rep.Measurements {
		if m.Workload == r.Workload && m.Relay == relay && m.Error != "" {
			return "error"
		}
	}
	return "-"
}

// number formats v with about three significant digits.
func number(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func ratio(v float64) string {
	if v == 0 {
		return "-"
	}
	return number(v) + "×"
}

func verdict(pass *bool) string {
	switch {
	case pass == nil:
		return ""
	case *pass:
		return "ok"
	default:
		return "MISS"
	}
}
