package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wsproxy/wsproxy/format/traffic"
)

// chartRows is the height of a throughput chart on the terminal.
const chartRows = 6

// eighths are the blocks that fill a cell from the bottom by 1/8 to 8/8.
var eighths = []rune(" ▁▂▃▄▅▆▇█")

// leftEighths fill a cell from the left by 1/8 to 8/8.
var leftEighths = []rune(" ▏▎▍▌▋▊▉█")

func printStats(w io.Writer, s *recordingStats) {
	fmt.Fprintf(w, "%s: %s, %d records\n\n", s.File, fmtDuration(s.Duration), s.Records)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tMESSAGES\tBYTES\tMIN\tMEAN\tMAX\tAVERAGE RATE\t")
	for _, d := range []struct {
		name string
		s    *traffic.Direction
	}{{"client→target", &s.Client}, {"target→client", &s.Target}} {
		rate := "-"
		if s.Duration > 0 {
			rate = fmtBytes(uint64(float64(d.s.Bytes)/s.Duration.Seconds())) + "/s"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.0f\t%d\t%s\t\n", d.name, d.s.Messages, fmtBytes(d.s.Bytes), d.s.MinSize, d.s.MeanSize, d.s.MaxSize, rate)
	}
	tw.Flush()
	for _, d := range []struct {
		name string
		s    *traffic.Direction
	}{{"client→target", &s.Client}, {"target→client", &s.Target}} {
		fmt.Fprintln(w)
		printThroughput(w, d.name, d.s.Throughput, s.Slot, s.Duration)
	}
	fmt.Fprintln(w)
	printSizes(w, s)
}

// printThroughput draws bytes per slot as columns of blocks.
func printThroughput(w io.Writer, name string, slots []uint64, slot, dur time.Duration) {
	peak, at := uint64(0), 0
	for i, v := range slots {
		if v > peak {
			peak, at = v, i
		}
	}
	fmt.Fprintf(w, "%s, bytes per %s", name, slot)
	if peak == 0 {
		fmt.Fprintln(w, ": none")
		return
	}
	fmt.Fprintf(w, " (peak %s at %s, %s/s)\n", fmtBytes(peak), time.Duration(at)*slot, fmtBytes(uint64(float64(peak)/slot.Seconds())))
	heights := make([]int, len(slots)) // in eighths of a row
	for i, v := range slots {
		heights[i] = int((v*chartRows*8 + peak - 1) / peak) // v > 0 shows
	}
	gutter := len(fmtBytes(peak))
	var b strings.Builder
	for row := chartRows - 1; row >= 0; row-- {
		label := ""
		if row == chartRows-1 {
			label = fmtBytes(peak)
		}
		fmt.Fprintf(&b, "%*s │", gutter, label)
		for _, h := range heights {
			b.WriteRune(eighths[min(max(h-row*8, 0), 8)])
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%*s └%s\n", gutter, "0", strings.Repeat("─", len(slots)))
	end := fmtDuration(dur)
	pad := max(len(slots)-len(end)-2, 1)
	fmt.Fprintf(&b, "%*s  0s%s%s\n", gutter, "", strings.Repeat(" ", pad), end)
	io.WriteString(w, b.String())
}

// sizeBarWidth is the width of the longest bar of the size distribution.
const sizeBarWidth = 24

// printSizes draws the message size classes of both directions side by
// side.
func printSizes(w io.Writer, s *recordingStats) {
	lo, hi, peak := traffic.ClassRange(&s.Client, &s.Target)
	fmt.Fprint(w, "Message sizes")
	if hi < 0 {
		fmt.Fprintln(w, ": no messages")
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "SIZE\tCLIENT→TARGET\tTARGET→CLIENT\n")
	for k := lo; k <= hi; k++ {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", classLabel(k), bar(s.Client.Classes[k], peak), bar(s.Target.Classes[k], peak))
	}
	tw.Flush()
}

// bar draws n of peak as a bar of left-filled blocks and the count.
func bar(n, peak uint64) string {
	if n == 0 {
		return ""
	}
	e := int((n*sizeBarWidth*8 + peak - 1) / peak)
	s := strings.Repeat("█", e/8)
	if e%8 > 0 {
		s += string(leftEighths[e%8])
	}
	return fmt.Sprintf("%s %d", s, n)
}

// classLabel names size class k: "0 B", "2-3 B", "1-2 KiB" (1024 to 2047).
func classLabel(k int) string {
	lo, hi := traffic.ClassBounds(k)
	switch {
	case k == 0:
		return "0 B"
	case lo == hi:
		return fmt.Sprintf("%d B", lo)
	case lo < 1024:
		return fmt.Sprintf("%d-%d B", lo, hi)
	}
	units := []string{"KiB", "MiB", "GiB"}
	u := 0
	for lo >= 1024*1024 && u < len(units)-1 {
		lo >>= 10
		u++
	}
	return fmt.Sprintf("%d-%d %s", lo>>10, lo>>10*2, units[u])
}
