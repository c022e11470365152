package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// runs holds one figure measured once per run.
type runs []float64

// valid drops the NaNs (figures a run could not measure).
func (r runs) valid() runs {
	out := make(runs, 0, len(r))
	for _, v := range r {
		if !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

// median is the middle value (the mean of the two middle ones for an even count), NaNs
// left out; NaN for none.
func (r runs) median() float64 {
	s := r.valid()
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r runs) min() float64 {
	if s := r.valid(); len(s) > 0 {
		return slices.Min(s)
	}
	return math.NaN()
}

func (r runs) max() float64 {
	if s := r.valid(); len(s) > 0 {
		return slices.Max(s)
	}
	return math.NaN()
}

// percentile returns the p-th percentile (0 < p ≤ 100) of d by the nearest-rank method:
// the smallest value with at least p% of the values at or below it. d is sorted in place.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	k := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[max(0, min(k, len(d)-1))]
}

// measure is one case measured once per run: throughput (operations per second) and
// latency percentiles (milliseconds).
type measure struct {
	Rate, P50, P99 runs
	// CPU per operation in microseconds, of the server and of the load generator, where
	// measured: a figure the machine's other load does not change much.
	SrvCPU, CliCPU runs
	// Others is the CPU the rest of the machine used during each run, in cores (see window).
	Others runs
	Note   string // how it was measured, for the table's footnotes
	Err    string // why it could not be measured
}

func (m *measure) add(rate float64, p50, p99 time.Duration) {
	m.Rate = append(m.Rate, rate)
	m.P50 = append(m.P50, ms(p50))
	m.P99 = append(m.P99, ms(p99))
}

// addWindow records the CPU figures of one run from its window and the operations it
// completed in the window; NaN when the run had no window, so that the figures stay aligned
// with the runs.
func (m *measure) addWindow(w window, ops float64) {
	srv, cli := w.perOp(ops)
	if srv <= 0 {
		m.SrvCPU, m.CliCPU, m.Others = append(m.SrvCPU, math.NaN()), append(m.CliCPU, math.NaN()), append(m.Others, math.NaN())
		return
	}
	m.SrvCPU = append(m.SrvCPU, float64(srv)/float64(time.Microsecond))
	m.CliCPU = append(m.CliCPU, float64(cli)/float64(time.Microsecond))
	m.Others = append(m.Others, w.others())
}

func (m *measure) ok() bool { return m != nil && len(m.Rate) > 0 }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtRate formats a throughput median with the run range: "12,345/s (12,001–12,600)".
func fmtRate(r runs, unit string) string {
	if r = r.valid(); len(r) == 0 {
		return "–"
	}
	if len(r) == 1 {
		return group(r.median()) + unit
	}
	return fmt.Sprintf("%s%s (%s–%s)", group(r.median()), unit, group(r.min()), group(r.max()))
}

// fmtLat formats latency medians "p50 / p99 ms".
func fmtLat(m *measure) string {
	if !m.ok() {
		return "–"
	}
	return fmt.Sprintf("%s / %s", fmtMs(m.P50.median()), fmtMs(m.P99.median()))
}

// fmtMs prints milliseconds with three significant decimals where it matters.
func fmtMs(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v < 0.01:
		return fmt.Sprintf("%.4f", v)
	case v < 1:
		return fmt.Sprintf("%.3f", v)
	case v < 100:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// fmtSpan formats a median with its range for values like seconds: "9.8 (9.6–10.1)".
func fmtSpan(r runs, prec int) string {
	if r = r.valid(); len(r) == 0 {
		return "–"
	}
	f := func(v float64) string { return fmt.Sprintf("%.*f", prec, v) }
	if len(r) == 1 {
		return f(r.median())
	}
	return fmt.Sprintf("%s (%s–%s)", f(r.median()), f(r.min()), f(r.max()))
}

// group formats v rounded to an integer with thousands separators, or with two significant
// decimals below 10.
func group(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	if math.Abs(v) < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	s := fmt.Sprintf("%.0f", math.Abs(v))
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
