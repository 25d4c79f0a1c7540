package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The two Caddys under test.
const (
	plainName    = "plain"
	cliproxyName = "cliproxy"
)

// caddyProc is one running Caddy.
type caddyProc struct {
	name  string
	cmd   *exec.Cmd
	site  string // base URL of the site
	admin string // base URL of the admin endpoint (pprof lives there)
	done  chan error
}

// caddyfile returns the config of the Caddy called name: plain Caddy's
// reverse_proxy with a static upstream key, or cliproxy with credentials
// credentials and session affinity on. Both proxy to upstream and flush
// every write, as an LLM gateway must.
func caddyfile(name string, site, admin, upstream string, credentials int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n\tadmin %s\n\tpersist_config off\n}\n\nhttp://%s {\n", admin, site)
	switch name {
	case plainName:
		fmt.Fprintf(&b, "\treverse_proxy %s {\n\t\theader_up X-Api-Key sk-upstream-static\n\t\tflush_interval -1\n\t}\n", upstream)
	case cliproxyName:
		fmt.Fprintf(&b, "\tcliproxy {\n\t\tclient_key %s bench\n\t\tsession_affinity on\n", clientKey)
		for i := 0; i < credentials; i++ {
			fmt.Fprintf(&b, "\t\tcredential key-%d {\n\t\t\tprovider claude\n\t\t\tapi_key sk-upstream-%d\n\t\t\tbase_url http://%s\n\t\t}\n", i, i, upstream)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// freePort returns a loopback address nobody listens on.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startCaddy runs bin with the config of name, its home in dir and its
// log appended to logDir/<name>.log, and waits until its site answers.
func startCaddy(ctx context.Context, bin, dir, logDir, name, upstream string, credentials int) (*caddyProc, error) {
	site, err := freePort()
	if err != nil {
		return nil, err
	}
	admin, err := freePort()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, name+".Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(caddyfile(name, site, admin, upstream, credentials)), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s caddy: %w", name, err)
	}
	p := &caddyProc{name: name, cmd: cmd, site: "http://" + site, admin: "http://" + admin, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	if err := p.waitReady(ctx); err != nil {
		p.stop()
		return nil, fmt.Errorf("starting %s caddy (log in %s): %w", name, logf.Name(), err)
	}
	return p, nil
}

func (p *caddyProc) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			return fmt.Errorf("caddy exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get(p.admin + "/config/")
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conn, err := net.Dial("tcp", strings.TrimPrefix(p.site, "http://"))
		if err == nil {
			conn.Close()
			return nil
		}
	}
	return errors.New("caddy did not come up within 30s")
}

// stop ends the Caddy and waits for it.
func (p *caddyProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// memory is a process's resident set: now, and the peak since the last
// reset (VmHWM).
type memory struct {
	RSS, Peak int64 // bytes
}

// readMemory reads /proc/<pid>/status.
func readMemory(pid int) (memory, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
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
			return memory{}, fmt.Errorf("reading %s of process %d: %w", k, pid, err)
		}
		*dst = kb << 10
	}
	return m, sc.Err()
}

// saveProfile fetches one of the pprof profiles Caddy's admin endpoint
// serves and writes it to path.
func (p *caddyProc) saveProfile(ctx context.Context, query, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.admin+"/debug/pprof/"+query, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s profile of %s caddy: %w", query, p.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s profile of %s caddy: status %d", query, p.name, resp.StatusCode)
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
