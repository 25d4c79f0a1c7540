// Command libuser picks a credential for a member the way cliproxy does,
// with cliproxy's packages and without Caddy: a client key looked up,
// an auth directory read, a pool with health, a strategy with session
// affinity, and one finished request recorded.
package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/access"
	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/pool"
	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/session"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "libuser:", err)
		os.Exit(1)
	}
}

func run() error {
	// access: who is calling
	entries, err := access.ParseKeysFile(strings.NewReader("alice sk-alice-0123456789\n"))
	if err != nil {
		return err
	}
	keys, err := access.NewKeySet(entries)
	if err != nil {
		return err
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
	req.Header.Set("X-Api-Key", "sk-alice-0123456789")
	member, ok := keys.Lookup(access.ClientKey(req))
	if !ok {
		return fmt.Errorf("the key was not found")
	}
	access.StripClientCredentials(req)
	fmt.Println("member:", member, "key left:", req.Header.Get("X-Api-Key") != "")

	// auth/authfile: the credentials of an auth directory
	dir, err := os.MkdirTemp("", "libuser")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for name, content := range map[string]string{
		"claude-a.json": `{"type":"claude","api_key":"sk-ant-a"}`,
		"claude-b.json": `{"type":"claude","api_key":"sk-ant-b"}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	health := auth.NewHealth()
	d, err := authfile.OpenDir(dir, &oauth.Refresher{}, health, zap.NewNop())
	if err != nil {
		return err
	}
	defer d.Close()

	// auth: a pool with health; one credential is cooling
	p, err := auth.NewPoolWithHealth(d.Credentials(), health, auth.Policy{})
	if err != nil {
		return err
	}
	const model = "claude-sonnet-4-5"
	p.RecordFailure(p.Get("claude-a"), model, auth.Outcome{Status: http.StatusTooManyRequests, Hint: auth.Hint{RetryAfter: time.Minute}})
	var available []*auth.Credential
	for _, c := range p.Credentials() {
		if ok, _ := p.Available(c, model); ok {
			available = append(available, c)
		}
	}

	// selector and session: place the conversation, keep it there
	sel, err := selector.New("round-robin")
	if err != nil {
		return err
	}
	cache := session.NewCache(time.Hour, 0)
	defer cache.Stop()
	aff := &selector.Affinity{Next: sel, Bindings: cache}
	req.Header.Set("X-Session-Id", "conversation-1")
	id := session.Extract(req.Header, []byte(`{"model":"`+model+`"}`), member)
	s := selector.Session{Key: "anthropic::" + member + "::" + id.ID.String()}
	// home tells the affinity about the credential a session is bound to
	home := func(name string) (*auth.Credential, bool, time.Time) {
		c := p.Get(name)
		if c == nil {
			return nil, false, time.Time{}
		}
		ok, until := p.Available(c, model)
		return c, ok, until
	}
	var pick selector.Decision
	for range 3 { // three turns of one conversation stay on one credential
		pick = aff.Pick("anthropic:"+model, s, available, home)
		if pick.Credential == nil {
			return fmt.Errorf("no credential picked")
		}
		p.RecordSuccess(pick.Credential, model)
		aff.Succeeded(s, pick, pick.Credential)
	}
	fmt.Println("session:", id.ID.String(), "served by:", pick.Credential.Name)

	// pool and outcome: the state an operator sees, one finished request
	st := pool.New(time.Hour)
	defer st.Destruct()
	st.Usage().Request(&outcome.Request{Client: member, Credential: pick.Credential.Name, Status: http.StatusOK, Tokens: outcome.Tokens{Input: 12, Output: 3}})
	fmt.Println("usage of", member+":", st.Usage().Report().Members[member].Requests, "request")
	return nil
}
