// Package caddyproc runs a caddy binary (the project's, built from
// ./cmd/caddy) as a child process for the bench and soak harnesses: on free
// loopback ports, with a home of its own, its output appended to a log
// file, its config replaced through the admin endpoint, and its memory
// read from /proc.
package caddyproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config is how to run one Caddy.
type Config struct {
	// Bin is the caddy binary.
	Bin string
	// Dir is its home (HOME and the XDG directories) and where its
	// Caddyfile is written.
	Dir string
	// Name names the Caddyfile in Dir.
	Name string
	// Log is the file its output is appended to.
	Log string
	// Caddyfile returns the config for the site and admin addresses
	// (host:port) Start took.
	Caddyfile func(site, admin string) string
	// Env is added to the environment it inherits.
	Env []string
}

// Proc is one running Caddy.
type Proc struct {
	Name string
	// Site and Admin are the base URLs of the site and of the admin
	// endpoint (where pprof, metrics and the management API live).
	Site, Admin string
	cmd         *exec.Cmd
	// done is closed once the process is gone, waitErr then says how
	done    chan struct{}
	waitErr error
}

// FreeAddr returns a loopback address nobody listened on a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// errPortTaken is a Caddy that exited because an address FreeAddr found
// free was taken before it bound it (another process on the machine).
var errPortTaken = errors.New("a free port was taken before caddy bound it")

// Start runs the Caddy cfg describes and waits until its admin endpoint
// and its site answer. A Caddy whose free port was taken before it bound
// it is started again on other ports, up to 3 times.
func Start(ctx context.Context, cfg Config) (*Proc, error) {
	for try := 1; ; try++ {
		p, err := start(ctx, cfg)
		if err == nil || try == 3 || !errors.Is(err, errPortTaken) {
			return p, err
		}
	}
}

func start(ctx context.Context, cfg Config) (*Proc, error) {
	site, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(cfg.Dir, cfg.Name+".Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(cfg.Caddyfile(site, admin)), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(cfg.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	logStart, _ := logf.Seek(0, io.SeekEnd)
	cmd := exec.Command(cfg.Bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+cfg.Dir, "XDG_CONFIG_HOME="+cfg.Dir, "XDG_DATA_HOME="+cfg.Dir)
	cmd.Env = append(cmd.Env, cfg.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s caddy: %w", cfg.Name, err)
	}
	p := &Proc{Name: cfg.Name, cmd: cmd, Site: "http://" + site, Admin: "http://" + admin, done: make(chan struct{})}
	go func() { p.waitErr = cmd.Wait(); logf.Close(); close(p.done) }()
	if err := p.waitReady(ctx); err != nil {
		p.Stop()
		if log, _ := os.ReadFile(cfg.Log); int64(len(log)) > logStart && bytes.Contains(log[logStart:], []byte("address already in use")) {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, fmt.Errorf("starting %s caddy (log in %s): %w", cfg.Name, cfg.Log, err)
	}
	return p, nil
}

func (p *Proc) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("caddy exited: %v", p.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get(p.Admin + "/config/")
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conn, err := net.Dial("tcp", strings.TrimPrefix(p.Site, "http://"))
		if err == nil {
			conn.Close()
			return nil
		}
	}
	return errors.New("caddy did not come up within 30s")
}

// PID is the process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Stop ends the Caddy gracefully (SIGTERM, then SIGKILL after 10 s) and
// waits for it.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Load replaces the running config with caddyfile through the admin
// endpoint, as `caddy reload` does; it reloads even when the config did
// not change (Cache-Control: must-revalidate).
func (p *Proc) Load(ctx context.Context, caddyfile string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Admin+"/load", strings.NewReader(caddyfile))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	req.Header.Set("Cache-Control", "must-revalidate")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reloading %s caddy: %w", p.Name, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("reloading %s caddy: status %d: %s", p.Name, res.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}

// SaveProfile fetches one of the pprof profiles the admin endpoint serves
// ("heap", "profile?seconds=5"…) and writes it to path.
func (p *Proc) SaveProfile(ctx context.Context, query, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Admin+"/debug/pprof/"+query, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s profile of %s caddy: %w", query, p.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s profile of %s caddy: status %d", query, p.Name, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Goroutines is how many goroutines the Caddy runs now, from its pprof
// endpoint.
func (p *Proc) Goroutines(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Admin+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("counting goroutines of %s caddy: %w", p.Name, err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("counting goroutines of %s caddy: %w", p.Name, err)
	}
	// "goroutine profile: total 42"
	_, total, ok := strings.Cut(strings.TrimSpace(line), "total ")
	n, err := strconv.Atoi(total)
	if !ok || err != nil {
		return 0, fmt.Errorf("counting goroutines of %s caddy: unexpected %q", p.Name, line)
	}
	return n, nil
}

// Memory is a process's resident set: now, and the peak since it started
// (VmHWM).
type Memory struct {
	RSS, Peak int64 // bytes
}

// Memory reads the process's resident set from /proc.
func (p *Proc) Memory() (Memory, error) { return ReadMemory(p.PID()) }

// ReadMemory reads /proc/<pid>/status.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.Peak
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("reading %s of process %d: %w", k, pid, err)
		}
		*dst = kb << 10
	}
	return m, sc.Err()
}

// Machine describes the machine a harness runs on: CPUs, Go, and the load
// average now (the machine may be shared).
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = ", load average at start " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("%d CPUs (%s), %s %s/%s%s", runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH, load)
}
