package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// svg draws p50 and p99 latency against concurrency for both Caddys, one
// panel per workload, on a log scale (the p99 at 256 clients is two orders
// above the p50 at one).
func (r *report) svg() string {
	var workloads []string
	var concs []int
	for _, c := range r.Cells {
		if !slices.Contains(workloads, c.Workload) {
			workloads = append(workloads, c.Workload)
		}
		if !slices.Contains(concs, c.Concurrency) {
			concs = append(concs, c.Concurrency)
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range r.Cells {
		for _, d := range []time.Duration{c.P50, c.P99} {
			v := float64(d) / float64(time.Millisecond)
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0.1, 1
	}
	lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}

	const pw, ph, left, top, gap = 380.0, 260.0, 60.0, 40.0, 70.0
	width := left + float64(len(workloads))*(pw+gap)
	height := top + ph + 90
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">Latency against concurrency: plain Caddy reverse_proxy and cliproxy (log scale)</text>`+"\n", left)
	series := []struct {
		caddy, color, dash, label string
		pick                      func(cell) time.Duration
	}{
		{plainName, "#1f77b4", "", "plain p50", func(c cell) time.Duration { return c.P50 }},
		{plainName, "#1f77b4", "6,4", "plain p99", func(c cell) time.Duration { return c.P99 }},
		{cliproxyName, "#d62728", "", "cliproxy p50", func(c cell) time.Duration { return c.P50 }},
		{cliproxyName, "#d62728", "6,4", "cliproxy p99", func(c cell) time.Duration { return c.P99 }},
	}
	for wi, w := range workloads {
		x0 := left + float64(wi)*(pw+gap)
		xOf := func(i int) float64 {
			if len(concs) == 1 {
				return x0 + pw/2
			}
			return x0 + float64(i)*pw/float64(len(concs)-1)
		}
		yOf := func(v float64) float64 {
			return top + ph - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*ph
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-weight="bold">%s body</text>`+"\n", x0, top-8, w)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", x0, top, pw, ph)
		for v := lo; v <= hi*1.0001; v *= 10 {
			y := yOf(v)
			fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x0, x0+pw, y, y)
			fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%g ms</text>`+"\n", x0-4, y+4, v)
		}
		for i, c := range concs {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`+"\n", xOf(i), top+ph+16, c)
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">concurrent clients</text>`+"\n", x0+pw/2, top+ph+34)
		for _, s := range series {
			var pts []string
			for i, conc := range concs {
				c, ok := r.find(w, conc, s.caddy)
				if !ok || s.pick(c) <= 0 {
					continue
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(i), yOf(float64(s.pick(c))/float64(time.Millisecond))))
			}
			if len(pts) == 0 {
				continue
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="%s"/>`+"\n", s.color, s.dash, strings.Join(pts, " "))
			for _, p := range pts {
				xy := strings.Split(p, ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], s.color)
			}
		}
	}
	for i, s := range series {
		x := left + float64(i)*150
		y := top + ph + 62
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`+"\n", x, x+30, y, y, s.color, s.dash)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", x+36, y+4, s.label)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
