// Package redistest runs a real redis-server on a loopback port, for tests
// (Server) and for the soak harness (Proc). Where redis-server is missing a
// test is skipped, or, with CI=true, fails: scripts/install-redis.sh
// installs it.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-cliproxy/cliproxy/internal/testutil"
)

// Proc is one redis-server process without persistence on a loopback
// port, for programs (the soak harness) as for tests: it can be killed and
// started again on the same port, empty, to stage an outage.
type Proc struct {
	bin  string
	port int
	args []string
	cmd  *exec.Cmd
	// password is the --requirepass option, for the readiness check
	password string
}

// StartProc runs redis-server (found on PATH) on port with extra options
// such as "--requirepass", "pw", and waits until it answers.
func StartProc(port int, args ...string) (*Proc, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server is not installed (scripts/install-redis.sh installs it)")
	}
	p := &Proc{bin: bin, port: port, args: args}
	for i, a := range args {
		if a == "--requirepass" && i+1 < len(args) {
			p.password = args[i+1]
		}
	}
	return p, p.Restart()
}

// Addr is host:port of the server.
func (p *Proc) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// URL is the server's redis:// URL with database db.
func (p *Proc) URL(db int) string { return fmt.Sprintf("redis://%s/%d", p.Addr(), db) }

// Stop kills the server (a crash, not a shutdown) and waits for it.
func (p *Proc) Stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}

// Restart kills the server if it runs, starts it again on its port, empty,
// and waits until it answers.
func (p *Proc) Restart() error {
	p.Stop()
	args := append([]string{
		"--port", strconv.Itoa(p.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning",
	}, p.args...)
	cmd := exec.Command(p.bin, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	p.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p.DoIn(0, p.password, "PING") == "PONG" {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Stop()
	return fmt.Errorf("redis-server on port %d did not answer", p.port)
}

// Do sends one command and returns its reply in a simple form: a status,
// error, integer or bulk string as text, an array as its elements joined
// by newlines, nil as "(nil)". It returns "" when the server is not
// reachable. Tests use it as a consumer would, without the gateway's
// client.
func (p *Proc) Do(args ...string) string { return p.DoIn(0, "", args...) }

// DoIn is Do in database db, logged in with password when it is not "".
func (p *Proc) DoIn(db int, password string, args ...string) string {
	conn, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		return ""
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var cmds [][]string
	if password != "" {
		cmds = append(cmds, []string{"AUTH", password})
	}
	if db != 0 {
		cmds = append(cmds, []string{"SELECT", strconv.Itoa(db)})
	}
	cmds = append(cmds, args)
	var b strings.Builder
	for _, cmd := range cmds {
		fmt.Fprintf(&b, "*%d\r\n", len(cmd))
		for _, a := range cmd {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return ""
	}
	r := bufio.NewReader(conn)
	var out string
	for range cmds {
		if out, err = readReply(r); err != nil {
			return ""
		}
	}
	return out
}

// Server is a Proc for a test: it is killed when the test ends, and a
// failure to start fails the test.
type Server struct {
	*Proc
	t testing.TB
}

// Start runs a fresh redis-server without persistence on a free loopback
// port; it is killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t)
}

// StartWith is Start with extra redis-server options, such as
// "--requirepass", "pw"; Do then needs DoIn with the password.
func StartWith(t testing.TB, args ...string) *Server {
	t.Helper()
	Require(t)
	p, err := StartProc(testutil.Port(t), args...)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Proc: p, t: t}
	t.Cleanup(s.Stop)
	return s
}

// Require skips the test when redis-server is not installed, or, with
// CI=true, fails it.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (scripts/install-redis.sh installs it)")
		}
		t.Skip("redis-server is not installed; run scripts/install-redis.sh")
	}
}

// Restart starts the server again on its port, empty, and waits until it
// answers.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.Proc.Restart(); err != nil {
		s.t.Fatal(err)
	}
}

// Subscribe subscribes a connection of its own to channel and returns
// the messages published on it, until the test ends.
func (s *Server) Subscribe(channel string) <-chan string {
	s.t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		s.t.Fatalf("subscribing to %s: %v", channel, err)
	}
	s.t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n", len(channel), channel)
	r := bufio.NewReader(conn)
	if _, err := readReply(r); err != nil {
		s.t.Fatalf("subscribing to %s: %v", channel, err)
	}
	out := make(chan string, 1024)
	go func() {
		defer close(out)
		for {
			msg, err := readReply(r)
			if err != nil {
				return
			}
			// "message\n<channel>\n<payload>"
			if parts := strings.SplitN(msg, "\n", 3); len(parts) == 3 && parts[0] == "message" {
				out <- parts[2]
			}
		}
	}()
	return out
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', '-', ':':
		return line[1:], nil
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "(nil)", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "(nil)", nil
		}
		parts := make([]string, 0, n)
		for i := 0; i < n; i++ {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unknown reply %q", line)
}
