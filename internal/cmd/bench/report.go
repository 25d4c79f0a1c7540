package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/caddy-cliproxy/cliproxy/internal/caddyproc"
)

// report is everything one run measured.
type report struct {
	Machine     string
	Command     string
	Sessions    int
	Credentials int
	BodyMemory  string
	AnswerBytes int
	Warmup      time.Duration
	Measure     time.Duration
	Rounds      int
	Started     time.Time
	Finished    time.Time
	Cells       []cell
	Streams     []streamsResult
}

// cell is one Caddy under one workload at one concurrency.
type cell struct {
	Workload    string
	BodyBytes   int
	Concurrency int
	Caddy       string
	Requests    int
	Errors      int
	RPS         float64
	P50, P99    time.Duration
	TTFB50      time.Duration
	PeakRSS     int64
	// UpstreamKeys is how many different upstream keys the mock saw: 1
	// for plain Caddy, one per credential for cliproxy.
	UpstreamKeys int
}

func newCell(workload string, size, conc int, caddy string, lr loadResult, mem caddyproc.Memory, keys int) cell {
	return cell{
		Workload: workload, BodyBytes: size, Concurrency: conc, Caddy: caddy,
		Requests: lr.Requests, Errors: lr.Errors,
		RPS:          float64(lr.Requests) / lr.Elapsed.Seconds(),
		P50:          quantile(lr.samples, 0.5, latencyOf),
		P99:          quantile(lr.samples, 0.99, latencyOf),
		TTFB50:       quantile(lr.samples, 0.5, ttfbOf),
		PeakRSS:      mem.Peak,
		UpstreamKeys: keys,
	}
}

// find returns the cell of caddy for workload at conc.
func (r *report) find(workload string, conc int, caddy string) (cell, bool) {
	for _, c := range r.Cells {
		if c.Workload == workload && c.Concurrency == conc && c.Caddy == caddy {
			return c, true
		}
	}
	return cell{}, false
}

// pairs returns the (plain, cliproxy) cells in the order they ran.
func (r *report) pairs() [][2]cell {
	var out [][2]cell
	for _, c := range r.Cells {
		if c.Caddy != plainName {
			continue
		}
		if x, ok := r.find(c.Workload, c.Concurrency, cliproxyName); ok {
			out = append(out, [2]cell{c, x})
		}
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// markdown is the run's table, memory test and goals.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s. %s → %s UTC. Mock answer: Claude SSE of %d bytes. cliproxy: %d credentials, session affinity on, body_memory %s, %d sessions. Warmup %s, measured %s per row and Caddy, %d round(s) alternating which Caddy goes first.\n\n",
		r.Machine, r.Started.Format("2006-01-02 15:04:05"), r.Finished.Format("15:04:05"), r.AnswerBytes, r.Credentials, r.BodyMemory, r.Sessions, r.Warmup, r.Measure, r.Rounds)
	b.WriteString("| body | clients | Caddy | req/s | p50 | p99 | TTFB p50 | peak RSS | errors | upstream keys |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range r.pairs() {
		for _, c := range p {
			fmt.Fprintf(&b, "| %s | %d | %s | %.0f | %s | %s | %s | %s | %d | %d |\n",
				c.Workload, c.Concurrency, c.Caddy, c.RPS, ms(c.P50), ms(c.P99), ms(c.TTFB50), mib(c.PeakRSS), c.Errors, c.UpstreamKeys)
		}
		pl, cp := p[0], p[1]
		fmt.Fprintf(&b, "| %s | %d | **cliproxy / plain** | **%s** | %s (%+.3f ms) | %s | %s | %s | | |\n",
			pl.Workload, pl.Concurrency, ratio(cp.RPS, pl.RPS),
			ratio(float64(cp.P50), float64(pl.P50)), float64(cp.P50-pl.P50)/float64(time.Millisecond),
			ratio(float64(cp.P99), float64(pl.P99)), ratio(float64(cp.TTFB50), float64(pl.TTFB50)),
			ratio(float64(cp.PeakRSS), float64(pl.PeakRSS)))
	}
	if len(r.Streams) > 0 {
		b.WriteString("\n| open streams | Caddy | RSS idle | RSS with streams open | peak RSS | errors |\n|---:|---|---:|---:|---:|---:|\n")
		for _, s := range r.Streams {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %d |\n", s.Streams, s.Caddy, mib(s.Idle), mib(s.RSS), mib(s.Peak), s.Errors)
		}
		if pl, cp, ok := r.streamPair(); ok {
			fmt.Fprintf(&b, "| %d | **cliproxy / plain** | | **%s** | **%s** | |\n", pl.Streams, ratio(float64(cp.RSS), float64(pl.RSS)), ratio(float64(cp.Peak), float64(pl.Peak)))
		}
	}
	b.WriteString("\nGoals:\n\n")
	for _, g := range r.goals() {
		fmt.Fprintf(&b, "- %s\n", g)
	}
	return b.String()
}

func (r *report) streamPair() (pl, cp streamsResult, ok bool) {
	var hasP, hasC bool
	for _, s := range r.Streams {
		switch s.Caddy {
		case plainName:
			pl, hasP = s, true
		case cliproxyName:
			cp, hasC = s, true
		}
	}
	return pl, cp, hasP && hasC
}

// goals states the issues' targets against this run's figures.
func (r *report) goals() []string {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	var out []string
	for _, c := range r.Cells {
		if c.Caddy != plainName {
			continue
		}
		cp, ok := r.find(c.Workload, c.Concurrency, cliproxyName)
		if !ok || c.RPS == 0 || c.PeakRSS == 0 {
			continue
		}
		q := cp.RPS / c.RPS
		switch {
		case c.Workload == "50KB":
			out = append(out, fmt.Sprintf("throughput at %d clients, 50 KB: %.2f× plain (goal ≥ 0.95×): %s", c.Concurrency, q, verdict(q >= 0.95)))
		case c.Workload == "1MB" && (c.Concurrency == 64 || c.Concurrency == 256):
			m := float64(cp.PeakRSS) / float64(c.PeakRSS)
			out = append(out, fmt.Sprintf("1 MB at %d clients: throughput %.2f× plain (goal ≥ 0.95×): %s; peak RSS %.2f× plain (goal ≤ 1.5×): %s; %d errors (goal 0): %s",
				c.Concurrency, q, verdict(q >= 0.95), m, verdict(m <= 1.5), cp.Errors, verdict(cp.Errors == 0)))
		}
	}
	if pl, ok := r.find("50KB", 1, plainName); ok {
		if cp, ok := r.find("50KB", 1, cliproxyName); ok {
			d := cp.P50 - pl.P50
			out = append(out, fmt.Sprintf("added p50 latency at 1 client, 50 KB: %+.3f ms (goal ≤ 0.2 ms): %s", float64(d)/float64(time.Millisecond), verdict(d <= 200*time.Microsecond)))
		}
	}
	if pl, cp, ok := r.streamPair(); ok && pl.Peak > 0 {
		q := float64(cp.Peak) / float64(pl.Peak)
		out = append(out, fmt.Sprintf("peak memory with %d open streams: %.2f× plain (goal ≤ 1.25×): %s", pl.Streams, q, verdict(q <= 1.25)))
	}
	if len(out) == 0 {
		out = append(out, "not measured in this run (needs rows of both Caddys)")
	}
	return out
}
