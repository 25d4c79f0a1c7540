// Command libuser picks a credential for a member the way cliproxy does,
// with cliproxy's packages and without Caddy: a client key looked up,
// an auth directory read, a pool with health, a strategy with session
// affinity, and one finished request recorded: in the usage totals and in
// the telemetry queue, which a collector then pops over RESP.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
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
	"github.com/caddy-cliproxy/cliproxy/telemetry"
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

	// pool, outcome and telemetry: one finished request, reported to each
	// recorder as the executor does, kept in the usage totals an operator
	// sees and queued for a collector
	st := pool.New(time.Hour)
	defer st.Destruct()
	hub := telemetry.NewHub(time.Minute, 100)
	done := &outcome.Request{
		Start: time.Now(), Family: "anthropic", Endpoint: "/v1/messages", RequestID: "req-1", Client: member,
		Provider: "claude", Credential: pick.Credential.Name, Model: model, Status: http.StatusOK, Attempts: 1,
		Tokens: outcome.Tokens{Input: 12, Output: 3},
	}
	for _, r := range []outcome.Recorder{st.Usage(), hub} {
		r.Request(done)
	}
	fmt.Println("usage of", member+":", st.Usage().Report().Members[member].Requests, "request")
	record, err := popOverRESP(hub, "collector-secret")
	if err != nil {
		return err
	}
	fmt.Println("telemetry: popped over RESP:", record.RequestID, "of", record.Client, "served by", record.AuthIndex)
	return nil
}

// collector admits whoever presents key to hub's records.
type collector struct {
	key string
	hub *telemetry.Hub
}

func (c collector) Authenticate(_ netip.Addr, password string) error {
	if password != c.key {
		return errors.New("WRONGPASS invalid password")
	}
	return nil
}

func (c collector) Hub() *telemetry.Hub { return c.hub }

// popOverRESP serves hub on a loopback port and pops one record from it
// as a collector would: AUTH, then LPOP usage, in plain RESP.
func popOverRESP(hub *telemetry.Hub, key string) (*telemetry.Record, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	srv, err := telemetry.NewServer(telemetry.ServerOptions{
		Backend: func() (telemetry.Backend, error) { return collector{key, hub}, nil },
		Addr:    ln.Addr(),
	})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	go srv.Serve(ln) // until ln is closed

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*2\r\n$4\r\nLPOP\r\n$5\r\nusage\r\n", len(key), key)
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		return nil, fmt.Errorf("authenticating to the resp server: %q %v", line, err)
	}
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "$") {
		return nil, fmt.Errorf("popping a usage record: %q %v", line, err)
	}
	size, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || size <= 0 {
		return nil, fmt.Errorf("popping a usage record: no record in %q", line)
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, fmt.Errorf("popping a usage record: %w", err)
	}
	var rec telemetry.Record
	if err := json.Unmarshal(payload, &rec); err != nil {
		return nil, fmt.Errorf("reading the usage record: %w", err)
	}
	return &rec, nil
}
