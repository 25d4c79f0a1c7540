package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddy-cliproxy/cliproxy/internal/caddyproc"
)

// The pool both instances share.
const poolName = "soak"

// The credentials of the run: eight Claude keys in the config, one Claude
// key in an auth file from the start and one uploaded during the run, and
// three each for the OpenAI Responses and Gemini conversations.
const (
	claudeKeys = 8
	otherKeys  = 3
	authFile1  = "claude-file-1"
	authFile2  = "claude-file-2"
)

func memberKey(i int) string { return fmt.Sprintf("sk-soak-member-%d", i) }

// credentials lists the harness's credentials and their upstream keys.
func credentials() *keyring {
	k := newKeyring()
	for i := 1; i <= claudeKeys; i++ {
		k.add(fmt.Sprintf("key-%d", i), fmt.Sprintf("sk-soak-claude-%d", i))
	}
	for i := 1; i <= otherKeys; i++ {
		k.add(fmt.Sprintf("openai-%d", i), fmt.Sprintf("sk-soak-openai-%d", i))
		k.add(fmt.Sprintf("gemini-%d", i), fmt.Sprintf("sk-soak-gemini-%d", i))
	}
	k.add(authFile1, "sk-soak-claude-file-1")
	k.add(authFile2, "sk-soak-claude-file-2")
	return k
}

// gateway is what both instances are configured with.
type gateway struct {
	members  int
	upstream string // the mock's base URL
	redis    string // redis:// URL
	authDir  string // shared by both instances, as a shared volume would be
	keys     *keyring
}

// caddyfile is an instance's config for its site and admin addresses.
func (g *gateway) caddyfile(site, admin string) string {
	var b strings.Builder
	// collectors pop usage on the site's own port (RESP), as a team's do
	fmt.Fprintf(&b, "{\n\tadmin %s\n\tpersist_config off\n\tauto_https off\n\tservers {\n\t\tlistener_wrappers {\n\t\t\tcliproxy_resp\n\t\t}\n\t}\n}\n\nhttp://%s {\n\tcliproxy {\n", admin, site)
	fmt.Fprintf(&b, "\t\tmanagement {\n\t\t\tkey %s\n\t\t}\n", managementKey)
	for i := 1; i <= g.members; i++ {
		fmt.Fprintf(&b, "\t\tclient_key %s member-%d\n", memberKey(i), i)
	}
	fmt.Fprintf(&b, "\t\tpool %s\n\t\tstate %s\n\t\tsession_affinity on\n\t\tauth_dir %s\n", poolName, g.redis, g.authDir)
	for i := 1; i <= claudeKeys; i++ {
		g.credential(&b, fmt.Sprintf("key-%d", i), "claude", g.upstream)
	}
	for i := 1; i <= otherKeys; i++ {
		g.credential(&b, fmt.Sprintf("openai-%d", i), "openai", g.upstream+"/v1")
		g.credential(&b, fmt.Sprintf("gemini-%d", i), "gemini", g.upstream)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

func (g *gateway) credential(b *strings.Builder, name, provider, baseURL string) {
	fmt.Fprintf(b, "\t\tcredential %s {\n\t\t\tprovider %s\n\t\t\tapi_key %s\n\t\t\tbase_url %s\n\t\t}\n",
		name, provider, g.keys.byName[name], baseURL)
}

// authFile is the JSON of a Claude API-key auth file.
func (g *gateway) authFile(name string, headers map[string]string) []byte {
	f := map[string]any{
		"type":     "claude",
		"email":    name + "@example.com",
		"api_key":  g.keys.byName[name],
		"base_url": g.upstream,
	}
	if len(headers) > 0 {
		f["headers"] = headers
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// writeAuthFile writes an auth file as an operator's editor would.
func (g *gateway) writeAuthFile(name string, headers map[string]string) error {
	return os.WriteFile(filepath.Join(g.authDir, name+".json"), g.authFile(name, headers), 0o600)
}

// instance is one of the two Caddys.
type instance struct {
	*caddyproc.Proc
	name string
}

// manage sends a management API request to the instance's admin endpoint.
// Caddy restarts its admin endpoint at every config load, so a request that
// meets a reload sees its connection closed: like an operator's tool, it is
// sent again (the operations are idempotent), up to three times.
func (in *instance) manage(ctx context.Context, method, path string, body []byte) error {
	var err error
	for try := 0; try < 3; try++ {
		var sent bool
		if sent, err = in.manageOnce(ctx, method, path, body); sent || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

// manageOnce sends one management request; sent is false when it got no
// answer at all.
func (in *instance) manageOnce(ctx context.Context, method, path string, body []byte) (sent bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, in.Admin+"/cliproxy/"+path+"?pool="+poolName, rd)
	if err != nil {
		return true, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("%s %s on %s: %w", method, path, in.name, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode >= 300 {
		return true, fmt.Errorf("%s %s on %s: status %d: %s", method, path, in.name, res.StatusCode, strings.TrimSpace(string(out)))
	}
	return true, nil
}

// credentialStates returns the instance's view of each credential: ""
// when it is available, else why not (the state the management API shows).
func (in *instance) credentialStates(ctx context.Context) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.Admin+"/cliproxy/credentials?pool="+poolName, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var body struct {
		Credentials []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
			Models map[string]struct {
				Status    string `json:"status"`
				Reason    string `json:"reason"`
				LastError struct {
					Status int `json:"status"`
				} `json:"last_error"`
			} `json:"models"`
		} `json:"credentials"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("reading credentials of %s: %w", in.name, err)
	}
	out := make(map[string]string, len(body.Credentials))
	for _, c := range body.Credentials {
		state := ""
		switch c.Status {
		case "available":
		case "disabled":
			state = "disabled"
		default:
			state = c.Status
			for _, m := range c.Models {
				if m.Status != "available" && m.LastError.Status != 0 {
					state = fmt.Sprintf("%s after %d", c.Status, m.LastError.Status)
				}
			}
		}
		out[c.Name] = state
	}
	return out, nil
}
