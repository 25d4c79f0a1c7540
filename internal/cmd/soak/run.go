package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-cliproxy/cliproxy/internal/caddyproc"
	"github.com/caddy-cliproxy/cliproxy/internal/redistest"
)

// idle is what an instance held when no request was under way.
type idle struct {
	Goroutines int
	RSS        int64
}

// run does the run cfg describes, prints progress to log and the table to
// out, and writes the report to cfg.Out.
func run(ctx context.Context, cfg config, out, log io.Writer) (*report, error) {
	host := caddyproc.Machine()
	bin, err := filepath.Abs(cfg.Caddy)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Logs, 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cliproxy-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	up := newUpstream()
	defer up.close()
	addr, err := caddyproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	rp, err := redistest.StartProc(port)
	if err != nil {
		return nil, err
	}
	defer rp.Stop()
	if cfg.Usage.List == "" {
		cfg.Usage.List = "usage"
	}

	keys := credentials()
	gw := &gateway{members: cfg.Members, upstream: up.srv.URL, redis: rp.URL(0), authDir: filepath.Join(dir, "auth"), keys: keys}
	if err := os.Mkdir(gw.authDir, 0o700); err != nil {
		return nil, err
	}
	if err := gw.writeAuthFile(authFile1, nil); err != nil {
		return nil, err
	}
	var instances []*instance
	defer func() {
		for _, in := range instances {
			in.Stop()
		}
	}()
	for _, name := range []string{"a", "b"} {
		home := filepath.Join(dir, name)
		if err := os.Mkdir(home, 0o700); err != nil {
			return nil, err
		}
		logPath := filepath.Join(cfg.Logs, name+".log")
		_ = os.Remove(logPath)
		p, err := caddyproc.Start(ctx, caddyproc.Config{Bin: bin, Dir: home, Name: name, Log: logPath, Caddyfile: gw.caddyfile})
		if err != nil {
			return nil, err
		}
		instances = append(instances, &instance{Proc: p, name: name})
	}
	for _, in := range instances {
		if err := waitRedisUp(ctx, in); err != nil {
			return nil, err
		}
	}
	time.Sleep(time.Second)
	startIdle, err := measureIdle(ctx, instances)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "soak: two instances up, %d conversations for %s (logs in %s)\n", cfg.Claude+cfg.Responses+cfg.Gemini, cfg.Duration, cfg.Logs)

	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	begin := time.Now()
	w := &watcher{instances: instances, spans: map[string][]span{}}
	drain := newUsageDrain(usageSources(cfg.Usage, instances))
	ch := &chaos{up: up, keys: keys, gw: gw, instances: instances, redis: rp, start: begin, disabled: map[string][2]time.Time{}, atKill: -1}
	go w.run(bg)
	go drain.run(bg)
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		ch.run(bg, cfg.Duration, cfg.ReloadEvery, min(max(cfg.Duration/30, time.Second), 10*time.Second))
	}()
	d := newDriver(cfg, instances, up, keys, begin.Add(cfg.Duration))
	progress := time.NewTicker(30 * time.Second)
	convs := d.start(ctx)
	done := make(chan struct{})
	go func() { convs.Wait(); close(done) }()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-progress.C:
			d.mu.Lock()
			n := len(d.turns)
			d.mu.Unlock()
			fmt.Fprintf(log, "soak: %s, %d turns\n", time.Since(begin).Round(time.Second), n)
		}
	}
	progress.Stop()
	<-chaosDone
	elapsed := time.Since(begin)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// the end: no fault, no request; the last usage records drained, and
	// every connection closed, so what the instances still hold is theirs
	ch.clear()
	time.Sleep(2 * time.Second)
	stopBG()
	derr := drain.drain(ctx)
	d.client.CloseIdleConnections()
	up.srv.CloseClientConnections()
	time.Sleep(3 * time.Second)
	endIdle, err := measureIdle(ctx, instances)
	if err != nil {
		return nil, err
	}
	var peaks []int64
	for _, in := range instances {
		m, err := in.Memory()
		if err != nil {
			return nil, err
		}
		peaks = append(peaks, m.Peak)
	}

	rep := newReport(cfg, d, ch, w, up, keys, elapsed)
	rep.Machine = host
	if err := writeDetails(filepath.Join(cfg.Logs, "turns.jsonl"), d, classifier{ch: ch, w: w, up: up, keys: keys, begin: begin}); err != nil {
		return nil, err
	}
	if err := drain.write(filepath.Join(cfg.Logs, "usage.jsonl")); err != nil {
		return nil, err
	}
	rep.Usage.Popped = drain.unique()
	rep.Usage.Twice = drain.popped.Load() - rep.Usage.Popped
	rep.Usage.Source = usageSourceName(cfg.Usage, rp.Addr())
	rep.Usage.AtKill = ch.usageAtKill()
	if derr != nil {
		rep.Usage.FinalDrainErr = derr.Error()
	}
	for i, in := range instances {
		rep.Instances = append(rep.Instances, instanceFigures{Name: in.name, Start: startIdle[i], End: endIdle[i], PeakRSS: peaks[i]})
	}
	rep.Usage.Lost = int64(rep.Requests) - rep.Usage.Popped
	table := rep.markdown()
	if _, err := io.WriteString(out, table); err != nil {
		return nil, err
	}
	if cfg.Out != "" {
		if err := rep.writeReport(cfg.Out, table); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// usageSources are where the run pops usage records: src when it names an
// address, else both instances' own ports, as a collector of each would.
func usageSources(src usageSource, instances []*instance) []usageSource {
	if src.Addr != "" {
		return []usageSource{src}
	}
	var out []usageSource
	for _, in := range instances {
		out = append(out, usageSource{Addr: strings.TrimPrefix(in.Site, "http://"), Password: managementKey, List: src.List})
	}
	return out
}

func usageSourceName(src usageSource, redisAddr string) string {
	switch src.Addr {
	case "":
		return "both instances' own ports (RESP `LPOP " + src.List + "`: the instance's local queue, then the cluster's Redis list)"
	case redisAddr:
		return "the cluster's Redis list `" + src.List + "` (LPOP)"
	}
	return "`" + src.Addr + "`, list `" + src.List + "` (LPOP)"
}

// waitRedisUp waits until the instance reports Redis reachable.
func waitRedisUp(ctx context.Context, in *instance) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if metric(ctx, in, `caddy_cliproxy_redis_up{pool="`+poolName+`"}`) == "1" {
			return nil
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
	return errors.New("instance " + in.name + " did not reach Redis within 15s")
}

// metric returns the value of the sample whose line starts with name.
func metric(ctx context.Context, in *instance, name string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.Admin+"/metrics", nil)
	if err != nil {
		return ""
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

func measureIdle(ctx context.Context, instances []*instance) ([]idle, error) {
	out := make([]idle, len(instances))
	for i, in := range instances {
		g, err := in.Goroutines(ctx)
		if err != nil {
			return nil, err
		}
		m, err := in.Memory()
		if err != nil {
			return nil, err
		}
		out[i] = idle{Goroutines: g, RSS: m.RSS}
	}
	return out, nil
}
