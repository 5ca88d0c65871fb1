package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the table. Num is the figure in base units (per
// second, seconds, bytes, cores) for machine reading (-json).
type row struct {
	Figure  string  `json:"figure"`
	Value   string  `json:"value"`
	Num     float64 `json:"num"`
	Ceiling string  `json:"ceiling"`
	Ratio   string  `json:"ratio"`
	Target  string  `json:"target"`
	Verdict string  `json:"verdict"`
}

// table collects the rows of a run.
type table struct {
	header []string
	rows   []row
}

func (t *table) add(r row) { t.rows = append(t.rows, r) }

func (t *table) print(w io.Writer) {
	for _, h := range t.header {
		fmt.Fprintln(w, h)
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tCEILING (same run)\tRATIO\tTARGET\tVERDICT")
	for _, r := range t.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Figure, r.Value, dash(r.Ceiling), dash(r.Ratio), dash(r.Target), dash(r.Verdict))
	}
	_ = tw.Flush()
}

func (t *table) writeJSON(path string) error {
	b, err := json.MarshalIndent(struct {
		Header []string `json:"header"`
		Rows   []row    `json:"rows"`
	}{t.header, t.rows}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// verdict says whether ok holds, for a figure with a target.
func verdict(ok bool) string {
	if ok {
		return "meets"
	}
	return "MISSES"
}

func rate(v float64) string { return fmt.Sprintf("%.0f/s", v) }

func ratio(v, c float64) string {
	if c == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", v/c)
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
}

// lags formats a distribution as p50 / p99 / max.
func lags(d dist) string {
	if d.n == 0 {
		return "no samples"
	}
	return fmt.Sprintf("%s / %s / %s (n=%d)", ms(d.p50), ms(d.p99), ms(d.max), d.n)
}

func bytesOf(v float64) string {
	switch {
	case v >= 1<<30 || v <= -(1<<30):
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case v >= 1<<20 || v <= -(1<<20):
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	default:
		return fmt.Sprintf("%.0f B", v)
	}
}

func pct(cores float64) string { return fmt.Sprintf("%.2f%% of a core", cores*100) }

func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
