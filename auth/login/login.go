package login

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

// DefaultAuthDir is where CLIProxyAPI keeps its credential files, so a
// gateway whose auth_dir is that directory picks the new file up at once.
const DefaultAuthDir = "~/.cli-proxy-api"

// NoListen is the Listen value that turns the callback listener off.
const NoListen = "none"

// Options are the settings of one "caddy cliproxy login".
type Options struct {
	// Provider is claude, codex or gemini (also gemini-cli, google).
	Provider string
	// AuthDir is the auth directory the file is written to, created
	// when missing; a leading ~ is the user's home.
	AuthDir string
	// Listen is the address the browser's callback is caught on (codex,
	// gemini); "" is 127.0.0.1 on the redirect URI's port, NoListen only
	// reads a pasted URL.
	Listen string
	// Project names the Google Cloud project(s) of a gemini account,
	// comma-separated; "" asks Code Assist.
	Project string
	// AuthorizeURL, TokenURL and UserInfoURL replace the provider's
	// endpoints; "" keeps them.
	AuthorizeURL string
	TokenURL     string
	UserInfoURL  string
	// CodeAssistURL replaces the Code Assist API a gemini sign-in without
	// a project asks for the account's project.
	CodeAssistURL string
	// OpenBrowser opens the sign-in URL; nil does not.
	OpenBrowser func(string) error
}

// provider maps the command's provider names to OAuth providers.
func provider(name string) (oauth.OAuthProvider, string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "claude":
		return oauth.OAuthClaude, "Claude", nil
	case "codex":
		return oauth.OAuthCodex, "ChatGPT (Codex)", nil
	case "gemini", "gemini-cli", "google":
		return oauth.OAuthGoogle, "Google (Gemini Code Assist)", nil
	}
	return "", "", fmt.Errorf("unknown provider %q (want claude, codex or gemini)", name)
}

// Run signs an account in and writes its credential file, reading what
// the user pastes from in and writing its dialogue to out.
func Run(ctx context.Context, o Options, in io.Reader, out io.Writer) error {
	p, title, err := provider(o.Provider)
	if err != nil {
		return err
	}
	var projects []string
	for _, id := range strings.Split(o.Project, ",") {
		if id = strings.TrimSpace(id); id != "" {
			projects = append(projects, id)
		}
	}
	switch {
	case p != oauth.OAuthGoogle && len(projects) > 0:
		return fmt.Errorf("%s: --project only applies to gemini", o.Provider)
	case p == oauth.OAuthClaude && o.Listen != "":
		return errors.New("claude: --listen does not apply: Claude's page shows a code to paste here")
	case p != oauth.OAuthGoogle && o.CodeAssistURL != "":
		return fmt.Errorf("%s: --code-assist-url only applies to gemini", o.Provider)
	}
	if o.CodeAssistURL != "" {
		if _, err := auth.ParseBaseURL(o.CodeAssistURL); err != nil {
			return fmt.Errorf("--code-assist-url: %w", err)
		}
	}

	dir, err := ExpandHome(o.AuthDir)
	if err != nil {
		return err
	}
	flow, err := oauth.NewLoginFlow(p, oauth.LoginOverrides{
		AuthorizeURL: o.AuthorizeURL,
		TokenURL:     o.TokenURL,
		UserInfoURL:  o.UserInfoURL,
	})
	if err != nil {
		return err
	}
	// Open (create) the directory before the browser: a sign-in that
	// cannot be saved should fail before the user goes through it.
	store, err := authfile.NewFileStore(dir)
	if err != nil {
		return err
	}

	var listener *oauth.CallbackListener
	if p != oauth.OAuthClaude && o.Listen != NoListen {
		listener, err = flow.ListenCallback(o.Listen)
		if err != nil {
			fmt.Fprintf(out, "Cannot catch the browser's callback here (%v);\nafter signing in, paste the URL the browser ends on instead.\n\n", err)
			listener = nil
		} else {
			defer listener.Close()
			if p == oauth.OAuthCodex && o.AuthorizeURL == "" && !strings.HasPrefix(flow.RedirectURI, "http://localhost:1455/") {
				fmt.Fprintf(out, "Note: OpenAI's client only accepts http://localhost:1455/auth/callback as redirect URI;\nwith --listen %s it is %s.\n\n", o.Listen, flow.RedirectURI)
			}
		}
	}

	authURL := flow.URL()
	fmt.Fprintf(out, "Sign in to %s at this URL:\n\n  %s\n\n", title, authURL)
	if o.OpenBrowser != nil {
		if err := o.OpenBrowser(authURL); err != nil {
			fmt.Fprintln(out, "(No browser could be opened: open the URL yourself.)")
		}
	}
	switch {
	case p == oauth.OAuthClaude:
		fmt.Fprintln(out, "After signing in, paste the code the page shows (code#state) and press Enter:")
	case listener != nil:
		fmt.Fprintf(out, "Waiting for the browser to come back to %s …\n", flow.RedirectURI)
		fmt.Fprintln(out, "If the browser runs on another machine, paste the URL it ends on (its address bar) and press Enter:")
	default:
		fmt.Fprintln(out, "After signing in, paste the URL the browser ends on (its address bar) and press Enter:")
	}

	input, err := awaitCallback(ctx, flow, listener, in, out)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Minute}
	tok, info, err := flow.Exchange(ctx, client, input)
	if err != nil {
		return err
	}
	if p == oauth.OAuthGoogle && len(projects) == 0 {
		fmt.Fprintln(out, "Asking Gemini Code Assist for the account's project …")
		setup := oauth.CodeAssistSetup{Client: client, BaseURL: o.CodeAssistURL}
		project, err := setup.Project(ctx, tok.AccessToken, "")
		if err != nil {
			return fmt.Errorf("gemini: %w (nothing was written; sign in again, naming the project with --project)", err)
		}
		fmt.Fprintf(out, "Code Assist project: %s\n", project)
		projects = []string{project}
	}
	af := authfile.FromLogin(flow, tok, info, projects)
	created, err := authfile.SaveLogin(ctx, store, af)
	if err != nil {
		return err
	}

	fmt.Fprintln(out)
	if info.Email != "" {
		fmt.Fprintf(out, "Signed in as %s.\n", info.Email)
	} else {
		fmt.Fprintln(out, "Signed in (the provider did not name the account's e-mail address).")
	}
	if tok.RefreshToken == "" {
		fmt.Fprintln(out, "Warning: no refresh token was issued; the credential stops working when its access token expires.")
	}
	if p == oauth.OAuthCodex && info.AccountID == "" {
		fmt.Fprintln(out, "Warning: the answer carried no ChatGPT account id; requests go out without chatgpt-account-id.")
	}
	verb := "Updated"
	if created {
		verb = "Wrote"
	}
	fmt.Fprintf(out, "%s %s\n", verb, filepath.Join(store.Dir(), af.Name))
	return nil
}

// awaitCallback returns the first of: the callback the listener catches, or
// a line pasted on in that carries a code for this flow (or the provider's
// refusal). Lines that are not (a stale URL, a typo) are reported and
// another is read. When in ends without one, it keeps waiting for the
// listener, or fails when there is none.
func awaitCallback(ctx context.Context, flow *oauth.LoginFlow, listener *oauth.CallbackListener, in io.Reader, out io.Writer) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 4096), 64<<10)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	caught := make(chan string, 1)
	if listener != nil {
		go func() {
			if cb, err := listener.Wait(ctx); err == nil {
				caught <- cb
			}
		}()
	}

	for {
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("sign-in interrupted: %w", ctx.Err())
		case cb := <-caught:
			return cb, nil
		case line, ok := <-lines:
			if !ok {
				if listener == nil {
					return "", errors.New("no code was entered (end of input)")
				}
				lines = nil // keep waiting for the browser
				continue
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			_, err := flow.ParseCallback(line)
			var refused *oauth.AuthorizationError
			if err != nil && !errors.As(err, &refused) {
				fmt.Fprintf(out, "%v\nPaste it again:\n", err)
				continue
			}
			return line, nil
		}
	}
}

// ExpandHome replaces a leading "~" with the user's home directory.
func ExpandHome(dir string) (string, error) {
	dir = strings.TrimSpace(dir)
	if dir == "" {
		return "", errors.New("--auth-dir is empty")
	}
	if dir != "~" && !strings.HasPrefix(dir, "~/") && !strings.HasPrefix(dir, `~\`) {
		return dir, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("--auth-dir %s: %w", dir, err)
	}
	return filepath.Join(home, dir[1:]), nil
}

// OpenBrowser asks the desktop to open u, without waiting for it.
func OpenBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no graphical session")
		}
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
