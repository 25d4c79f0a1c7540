// Package testutil holds helpers the project's tests share across
// packages: building the project's caddy, and collecting a process's
// output while a test reads it.
package testutil

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// CaddyPackage is the import path of the project's caddy command.
const CaddyPackage = "github.com/caddy-cliproxy/cliproxy/cmd/caddy"

// CaddyEnv names the environment variable that holds the path of a caddy
// already built from this checkout: scripts/test.sh builds one before the
// tests and every test that runs the binary uses it, instead of each
// linking its own.
const CaddyEnv = "CLIPROXY_TEST_CADDY"

// BuildCaddy builds the project's caddy into dir and returns its path, or
// returns the binary $CLIPROXY_TEST_CADDY names when it is set. It works
// from any directory inside the module.
func BuildCaddy(dir string) (string, error) {
	if bin := os.Getenv(CaddyEnv); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("the caddy %s names: %w", CaddyEnv, err)
		}
		return bin, nil
	}
	bin := filepath.Join(dir, "caddy")
	if out, err := exec.Command("go", "build", "-o", bin, CaddyPackage).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
	}
	return bin, nil
}

// SyncBuffer is a bytes.Buffer that one goroutine writes (a process's
// output) while others read it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, so
// tests never hard-code one and two suites can run on one machine.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("taking a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Port is FreePort for a test: it fails the test when no port is free.
func Port(t testing.TB) int {
	t.Helper()
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
