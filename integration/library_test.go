package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goTool is the go command on PATH, which go test itself needs.
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	require.NoError(t, err, "no go command to build the library user with")
	return p
}

// A Go program in a module of its own (testdata/libuser) uses access,
// auth, auth/authfile, auth/oauth, selector, session, pool, outcome and
// telemetry as a library: it builds, runs (a collector pops its usage
// record over RESP), and neither its packages nor its binary hold any of
// Caddy, nor a Redis client, which only a cluster needs.
func TestLibraryUserBuildsWithoutCaddy(t *testing.T) {
	repo, err := filepath.Abs("..")
	require.NoError(t, err)
	// a copy, so the build may settle its go.mod and go.sum without
	// touching the tree; the repository's go.sum has every checksum the
	// plain packages need
	work := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", "main.go"} {
		raw, err := os.ReadFile(filepath.Join(repo, "testdata", "libuser", name))
		require.NoError(t, err)
		if name == "go.mod" {
			raw = []byte(strings.Replace(string(raw), "=> ../..", "=> "+repo, 1))
		}
		if name == "go.sum" {
			root, err := os.ReadFile(filepath.Join(repo, "go.sum"))
			require.NoError(t, err)
			raw = append(raw, root...)
		}
		require.NoError(t, os.WriteFile(filepath.Join(work, name), raw, 0o600))
	}
	goCmd := goTool(t)
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = work
		// the suite's own flags (-trimpath lets the build reuse what the
		// suite compiled) and -mod=mod
		cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"), "GOWORK=off")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
		return string(out)
	}

	bin := filepath.Join(work, "libuser")
	run(goCmd, "build", "-o", bin, ".")
	out := run(bin)
	assert.Contains(t, out, "member: alice key left: false")
	assert.Contains(t, out, "session: x-session-id:conversation-1 served by: claude-b", "the cooling credential served, or the session moved")
	assert.Contains(t, out, "usage of alice: 1 request")
	assert.Contains(t, out, "telemetry: popped over RESP: req-1 of alice served by claude-b")

	deps := run(goCmd, "list", "-deps", ".")
	for _, pkg := range []string{"access", "auth", "auth/authfile", "auth/oauth", "selector", "session", "pool", "outcome", "telemetry"} {
		assert.Contains(t, strings.Fields(deps), "github.com/caddy-cliproxy/cliproxy/"+pkg)
	}
	assert.Empty(t, linesWith(deps, "github.com/caddyserver/"), "a plain package imports Caddy")
	assert.NotContains(t, strings.Fields(deps), "github.com/caddy-cliproxy/cliproxy", "the Caddy module is linked")
	assert.Empty(t, linesWith(deps, "github.com/redis/"), "the pool links a Redis client without a cluster")
	// the binary's own record of the modules linked into it
	mods := run(goCmd, "version", "-m", bin)
	assert.Empty(t, linesWith(mods, "caddyserver"), "the binary links Caddy")
	assert.Empty(t, linesWith(mods, "go-redis"), "the binary links a Redis client")
}

// linesWith returns the lines of text containing s.
func linesWith(text, s string) []string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}
