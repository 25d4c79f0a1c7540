package integration

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/require"

	_ "github.com/caddy-cliproxy/cliproxy"
)

var update = flag.Bool("update", false, "rewrite the golden JSON of the adapt tests and docs/dashboard.png")

// caddyfileBlock finds the ```caddyfile code blocks of a Markdown file.
var caddyfileBlock = regexp.MustCompile("(?s)```caddyfile\n(.*?)```")

// adaptExamples are every Caddyfile the project documents (the example
// config and each caddyfile block of the README) and the grammar fixtures
// testdata/adapt/*.caddyfile, by golden file name.
func adaptExamples(t *testing.T) map[string]string {
	t.Helper()
	examples := map[string]string{}
	example, err := os.ReadFile(filepath.Join("..", "Caddyfile.example"))
	require.NoError(t, err)
	examples["Caddyfile.example"] = string(example)
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	blocks := caddyfileBlock.FindAllSubmatch(readme, -1)
	require.NotEmpty(t, blocks, "README.md has no caddyfile examples")
	for i, b := range blocks {
		examples[fmt.Sprintf("README-%d", i+1)] = string(b[1])
	}
	fixtures, err := filepath.Glob(filepath.Join("..", "testdata", "adapt", "*.caddyfile"))
	require.NoError(t, err)
	for _, f := range fixtures {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		examples[strings.TrimSuffix(filepath.Base(f), ".caddyfile")] = string(raw)
	}
	return examples
}

// TestAdaptDocumentedExamples adapts every documented Caddyfile and compares
// the JSON with its golden file in testdata/adapt.
func TestAdaptDocumentedExamples(t *testing.T) {
	for name, cfg := range adaptExamples(t) {
		t.Run(name, func(t *testing.T) {
			golden := filepath.Join("..", "testdata", "adapt", name+".json")
			if *update {
				adapted, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
				require.NoError(t, err)
				for _, w := range warnings {
					t.Logf("warning: %s", w.String())
				}
				var pretty bytes.Buffer
				require.NoError(t, json.Indent(&pretty, adapted, "", "\t"))
				pretty.WriteByte('\n')
				require.NoError(t, os.WriteFile(golden, pretty.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			want = bytes.TrimSuffix(want, []byte("\n"))
			require.NoError(t, err, "missing golden file; run go test ./integration/ -run TestAdapt -update")
			if !caddytest.CompareAdapt(t, golden, cfg, "caddyfile", string(want)) {
				t.Errorf("adapted JSON differs from %s (diff above)", golden)
			}
		})
	}
}
