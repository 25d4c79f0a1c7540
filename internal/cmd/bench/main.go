// Command bench measures cliproxy against plain Caddy in one run: it
// starts a fast mock Claude upstream, then for every workload and
// concurrency a plain Caddy (reverse_proxy with a static upstream key) and
// a Caddy with cliproxy (8 credentials, session affinity on, 64 sessions),
// drives the same load through each with the same load generator, and
// prints requests/s, p50/p99 latency, time to first byte and peak RSS with
// the ratio cliproxy/plain. A last test holds 2,000 streams open through
// each Caddy and compares their memory. It writes the table as Markdown,
// the figures as JSON and a chart of latency against concurrency as SVG.
//
//	go build -o caddy ./cmd/caddy
//	go run ./internal/cmd/bench -caddy ./caddy -out .cache/bench
//
// scripts/bench.sh does both. Each Caddy is started afresh for each
// measurement, so its peak RSS (VmHWM) is that measurement's alone, and
// each row is measured in rounds (default 2) that alternate which Caddy
// goes first, so a shared machine's changing load favours neither.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caddy-cliproxy/cliproxy/internal/caddyproc"
)

// config is what one run measures.
type config struct {
	Caddy       string
	Out         string
	Warmup      time.Duration
	Measure     time.Duration
	Concurrency []int
	Workloads   []workloadSpec
	Sessions    int
	Credentials int
	Streams     int
	// Rounds is how often each row is measured, alternating which Caddy
	// goes first; the rounds' requests are pooled.
	Rounds int
	// Profile, when set, saves CPU profiles of both Caddys for this
	// cell ("50KB/64") and heap profiles with the streams open.
	Profile string
}

type workloadSpec struct {
	Name string
	Size int
}

var defaultWorkloads = []workloadSpec{{"50KB", 50 << 10}, {"1MB", 1 << 20}}

func main() {
	cfg := config{}
	var conc, workloads string
	flag.StringVar(&cfg.Caddy, "caddy", "", "the caddy binary to test (go build ./cmd/caddy)")
	flag.StringVar(&cfg.Out, "out", ".cache/bench", "folder for the table, the chart, the figures, the Caddy logs and profiles")
	flag.DurationVar(&cfg.Warmup, "warmup", time.Second, "load before each measurement that is not counted")
	flag.DurationVar(&cfg.Measure, "duration", 4*time.Second, "length of each measurement")
	flag.StringVar(&conc, "concurrency", "1,16,64,256", "concurrent clients, comma separated")
	flag.StringVar(&workloads, "workloads", "50KB,1MB", "request bodies: 50KB (Claude Code) and/or 1MB (long conversation)")
	flag.IntVar(&cfg.Sessions, "sessions", 64, "distinct conversations")
	flag.IntVar(&cfg.Credentials, "credentials", 8, "cliproxy credentials")
	flag.StringVar(&bodyMemory, "body-memory", "", "cliproxy's body_memory (default: the module's, 64MiB)")
	flag.IntVar(&cfg.Rounds, "rounds", 2, "measurements of each row, alternating which Caddy goes first")
	flag.IntVar(&cfg.Streams, "streams", 2000, "open streams in the memory test (0 skips it)")
	flag.StringVar(&cfg.Profile, "profile", "", `save pprof profiles of both Caddys for one cell, e.g. "50KB/64"`)
	flag.Parse()

	var err error
	if cfg.Concurrency, err = parseInts(conc); err == nil {
		cfg.Workloads, err = parseWorkloads(workloads)
	}
	if err == nil && cfg.Rounds < 1 {
		err = errors.New("-rounds must be at least 1")
	}
	if err == nil && cfg.Caddy == "" {
		err = errors.New("-caddy is required")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("parsing concurrency %q: want positive integers", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseWorkloads(s string) ([]workloadSpec, error) {
	var out []workloadSpec
	for _, f := range strings.Split(s, ",") {
		found := false
		for _, w := range defaultWorkloads {
			if strings.EqualFold(strings.TrimSpace(f), w.Name) {
				out, found = append(out, w), true
			}
		}
		if !found {
			return nil, fmt.Errorf("parsing workloads: unknown workload %q (want 50KB or 1MB)", f)
		}
	}
	return out, nil
}

// run measures everything cfg asks for, prints progress to log and the
// table to out, and writes the files into cfg.Out.
func run(ctx context.Context, cfg config, out, log io.Writer) (*report, error) {
	cfg.Rounds = max(cfg.Rounds, 1)
	bin, err := filepath.Abs(cfg.Caddy)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cliproxy-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, name := range []string{plainName, cliproxyName} {
		_ = os.Remove(filepath.Join(cfg.Out, name+".log"))
	}

	m := newMock()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	upstream := ln.Addr().String()

	rep := &report{
		Machine:     caddyproc.Machine(),
		Command:     strings.Join(os.Args, " "),
		Sessions:    cfg.Sessions,
		Credentials: cfg.Credentials,
		BodyMemory:  cmp.Or(bodyMemory, "64MiB (default)"),
		AnswerBytes: m.answerSize(),
		Warmup:      cfg.Warmup,
		Measure:     cfg.Measure,
		Rounds:      cfg.Rounds,
		Started:     time.Now().UTC(),
	}
	workloads := make(map[string]workload)
	for _, ws := range cfg.Workloads {
		workloads[ws.Name] = newWorkload(ws.Name, ws.Size, cfg.Sessions)
	}
	for _, ws := range cfg.Workloads {
		w := workloads[ws.Name]
		for _, c := range cfg.Concurrency {
			cellName := ws.Name + "/" + strconv.Itoa(c)
			got := map[string]*measured{}
			for round := 0; round < cfg.Rounds; round++ {
				// alternate who goes first, so a machine getting busier or
				// quieter during a row does not favour one of them
				order := []string{plainName, cliproxyName}
				if round%2 == 1 {
					order = []string{cliproxyName, plainName}
				}
				for _, name := range order {
					profile := ""
					if cfg.Profile == cellName && round == 0 {
						profile = filepath.Join(cfg.Out, fmt.Sprintf("%s-%s-c%d", name, ws.Name, c))
					}
					mr, err := measureOnce(ctx, cfg, bin, dir, upstream, name, m, w, c, profile)
					if err != nil {
						return nil, err
					}
					fmt.Fprintf(log, "%-8s %-5s c=%-4d %8.0f req/s  p50 %s  errors %d\n", name, ws.Name, c,
						float64(mr.load.Requests)/mr.load.Elapsed.Seconds(), ms(quantile(mr.load.samples, 0.5, latencyOf)), mr.load.Errors)
					if prev := got[name]; prev != nil {
						mr.add(prev)
					}
					got[name] = mr
				}
			}
			for _, name := range []string{plainName, cliproxyName} {
				mr := got[name]
				rep.Cells = append(rep.Cells, newCell(ws.Name, w.size(), c, name, mr.load, mr.mem, mr.keys))
			}
		}
	}
	if cfg.Streams > 0 {
		w, ok := workloads["50KB"]
		if !ok {
			w = newWorkload("50KB", 50<<10, cfg.Sessions)
		}
		for _, name := range []string{plainName, cliproxyName} {
			p, err := startCaddy(ctx, bin, dir, cfg.Out, name, upstream, cfg.Credentials)
			if err != nil {
				return nil, err
			}
			heap := ""
			if cfg.Profile != "" {
				heap = filepath.Join(cfg.Out, name+"-streams.heap.pprof")
			}
			sr, err := openStreams(ctx, p, m, w, cfg.Streams, heap)
			p.Stop()
			if err != nil {
				return nil, err
			}
			rep.Streams = append(rep.Streams, sr)
			fmt.Fprintf(log, "%-8s %d open streams: RSS %s, peak %s, errors %d\n", name, sr.Streams, mib(sr.RSS), mib(sr.Peak), sr.Errors)
		}
	}
	rep.Finished = time.Now().UTC()

	table := rep.markdown()
	if _, err := io.WriteString(out, table); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "results.md"), []byte(table), 0o644); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "results.json"), js, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "latency.svg"), []byte(rep.svg()), 0o644); err != nil {
		return nil, err
	}
	return rep, nil
}

// measured is what one or more measurements of one Caddy in one row gave.
type measured struct {
	load loadResult
	mem  caddyproc.Memory
	keys int
}

// add pools another round's measurement into m.
func (m *measured) add(o *measured) {
	m.load.Requests += o.load.Requests
	m.load.Errors += o.load.Errors
	m.load.Elapsed += o.load.Elapsed
	m.load.samples = append(m.load.samples, o.load.samples...)
	m.mem.Peak = max(m.mem.Peak, o.mem.Peak)
	m.mem.RSS = max(m.mem.RSS, o.mem.RSS)
	m.keys = max(m.keys, o.keys)
}

// measureOnce starts the Caddy called name afresh, drives w through it at
// concurrency c, and stops it. With profile set it saves the Caddy's CPU
// profile of the measurement and its allocations to profile+".cpu.pprof"
// and ".allocs.pprof".
func measureOnce(ctx context.Context, cfg config, bin, dir, upstream, name string, m *mock, w workload, c int, profile string) (*measured, error) {
	p, err := startCaddy(ctx, bin, dir, cfg.Out, name, upstream, cfg.Credentials)
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	profDone := make(chan error, 1)
	if profile != "" {
		go func() {
			time.Sleep(cfg.Warmup)
			secs := max(1, int(cfg.Measure/time.Second))
			profDone <- p.SaveProfile(ctx, "profile?seconds="+strconv.Itoa(secs), profile+".cpu.pprof")
		}()
	} else {
		profDone <- nil
	}
	lr := drive(ctx, p.Site, w, c, cfg.Warmup, cfg.Measure, m.answerSize())
	perr := <-profDone
	if profile != "" && perr == nil {
		perr = p.SaveProfile(ctx, "allocs", profile+".allocs.pprof")
	}
	mem, merr := p.Memory()
	if err := errors.Join(perr, merr, ctx.Err()); err != nil {
		return nil, err
	}
	return &measured{load: lr, mem: mem, keys: m.distinctKeys()}, nil
}
