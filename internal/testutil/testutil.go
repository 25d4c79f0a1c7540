// Package testutil holds helpers the project's tests share across
// packages: building the project's caddy, and collecting a process's
// output while a test reads it.
package testutil

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
)

// CaddyPackage is the import path of the project's caddy command.
const CaddyPackage = "github.com/caddy-cliproxy/cliproxy/cmd/caddy"

// BuildCaddy builds the project's caddy into dir and returns its path. It
// works from any directory inside the module.
func BuildCaddy(dir string) (string, error) {
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
