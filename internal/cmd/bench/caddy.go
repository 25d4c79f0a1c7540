package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/caddy-cliproxy/cliproxy/internal/caddyproc"
)

// The two Caddys under test.
const (
	plainName    = "plain"
	cliproxyName = "cliproxy"
)

// bodyMemory, when set, is cliproxy's body_memory (the -body-memory flag).
var bodyMemory string

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
		if bodyMemory != "" {
			fmt.Fprintf(&b, "\t\tbody_memory %s\n", bodyMemory)
		}
		for i := 0; i < credentials; i++ {
			fmt.Fprintf(&b, "\t\tcredential key-%d {\n\t\t\tprovider claude\n\t\t\tapi_key sk-upstream-%d\n\t\t\tbase_url http://%s\n\t\t}\n", i, i, upstream)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// startCaddy runs bin with the config of name, its home in dir and its
// log appended to logDir/<name>.log, and waits until its site answers.
func startCaddy(ctx context.Context, bin, dir, logDir, name, upstream string, credentials int) (*caddyproc.Proc, error) {
	return caddyproc.Start(ctx, caddyproc.Config{
		Bin:  bin,
		Dir:  dir,
		Name: name,
		Log:  filepath.Join(logDir, name+".log"),
		Caddyfile: func(site, admin string) string {
			return caddyfile(name, site, admin, upstream, credentials)
		},
	})
}
