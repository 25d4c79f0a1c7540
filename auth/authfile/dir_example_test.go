package authfile_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

// Open an auth directory, hear when its files change, and let a refresh
// write the new token back to the file it came from.
func ExampleOpenDir() {
	// a stand-in for Anthropic's token endpoint
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"at-refreshed","expires_in":3600}`)
	}))
	defer tokens.Close()

	dir, err := os.MkdirTemp("", "authdir")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	// a Claude login as CLIProxyAPI writes it
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			panic(err)
		}
	}
	write("claude-alice.json", `{"type":"claude","email":"alice@example.com","access_token":"at-old",
		"refresh_token":"rt-alice","expired":"2099-01-01T00:00:00Z"}`)

	refresher := &oauth.Refresher{TokenURLs: map[oauth.OAuthProvider]string{oauth.OAuthClaude: tokens.URL}}
	d, err := authfile.OpenDir(dir, refresher, auth.NewHealth(), zap.NewNop())
	if err != nil {
		panic(err)
	}
	defer d.Close()
	changed := make(chan struct{}, 16)
	d.Subscribe("example", func() { changed <- struct{}{} })
	defer d.Unsubscribe("example")

	for _, c := range d.Credentials() {
		fmt.Println(c.Name, c.Provider, c.Email)
	}

	// a file added is picked up by the watcher (it polls every half second)
	write("gemini-key.json", `{"type":"gemini","api_key":"AIza-example"}`)
	for len(d.Credentials()) < 2 {
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			panic("no change seen")
		}
	}
	fmt.Println(len(d.Credentials()), "credentials")

	// the upstream refused the access token (a 401): it is refreshed once,
	// however many requests saw it refused, and written back to its file
	// before Invalidate returns. A token near its expiry is refreshed the
	// same way, ahead of time in the background or on Access.
	alice := d.Credentials()[0]
	access, err := alice.OAuth.Invalidate(context.Background(), "at-old")
	if err != nil {
		panic(err)
	}
	fmt.Println("access token:", access)
	raw, err := os.ReadFile(filepath.Join(dir, "claude-alice.json"))
	if err != nil {
		panic(err)
	}
	saved, err := authfile.ParseAuthFile("claude-alice.json", raw)
	if err != nil {
		panic(err)
	}
	fmt.Println("in the file:", saved.AccessToken, saved.RefreshToken, saved.Email)
	// Output:
	// claude-alice claude alice@example.com
	// 2 credentials
	// access token: at-refreshed
	// in the file: at-refreshed rt-alice alice@example.com
}
