package cliproxy

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

// defaultLoginAuthDir is where CLIProxyAPI keeps its credential files, so a
// gateway whose auth_dir is that directory picks the new file up at once.
const defaultLoginAuthDir = "~/.cli-proxy-api"

// noListen is the --listen value that turns the callback listener off.
const noListen = "none"

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "cliproxy",
		Usage: "login <claude|codex|gemini> [--auth-dir <dir>] [--no-browser] [--listen <addr>] [--project <ids>] [--authorize-url <url>] [--token-url <url>] [--userinfo-url <url>] [--code-assist-url <url>]",
		Short: "Signs AI accounts in for the cliproxy gateway (login claude|codex|gemini)",
		Long: `
Signs an account in with the OAuth authorization code flow (with PKCE) of
the provider's official CLI, and writes the credential file, in
CLIProxyAPI's format, into the auth directory the gateway's auth_dir reads.

  login claude   Claude Code's sign-in. Open the URL, sign in, and paste the
                 code the page then shows (code#state) into the terminal.
  login codex    The Codex CLI's ChatGPT sign-in. The browser comes back to
                 http://localhost:1455/auth/callback, which this command
                 catches. When the browser runs on another machine, paste
                 the URL it ended on (from its address bar) instead.
  login gemini   The Gemini CLI's Google sign-in, for Gemini Code Assist.
                 As codex, on a free local port. --project names the
                 Google Cloud project(s) the account uses, comma-
                 separated; without it, Code Assist is asked for the
                 account's project as the Gemini CLI does (loadCodeAssist,
                 then onboardUser): a free-tier account gets the project
                 Google manages for it.

--auth-dir is the auth directory (default ~/.cli-proxy-api), created with
mode 0700 when missing. --no-browser only prints the URL instead of also
opening a browser. --listen is the address the callback is caught on
(default 127.0.0.1 on the redirect URI's port; "none" only reads a pasted
URL); the redirect URI keeps its localhost host and takes the port bound
(OpenAI's client only accepts port 1455). --authorize-url, --token-url,
--userinfo-url and --code-assist-url replace the provider's endpoints.

The file is named <type>-<email>.json (mode 0600). Signing the same account
in again replaces its tokens and keeps the rest of the file (priority,
weight, headers, …). No token is ever printed.
`,
		Flags: newCliproxyFlags(),
		Func:  cmdCliproxy,
	})
}

// newCliproxyFlags defines the flags of "caddy cliproxy".
func newCliproxyFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("cliproxy", flag.ContinueOnError)
	fs.String("auth-dir", defaultLoginAuthDir, "Auth directory the credential file is written to")
	fs.Bool("no-browser", false, "Print the sign-in URL without opening a browser")
	fs.String("listen", "", `Address the callback is caught on (codex, gemini); "none" to only read a pasted URL`)
	fs.String("project", "", "Google Cloud project ID(s) of a gemini account, comma-separated (default: the one Code Assist gives the account)")
	fs.String("authorize-url", "", "Replaces the provider's authorization endpoint")
	fs.String("token-url", "", "Replaces the provider's token endpoint")
	fs.String("userinfo-url", "", "Replaces Google's userinfo endpoint (gemini)")
	fs.String("code-assist-url", "", "Replaces the Gemini Code Assist API (gemini), "+oauth.CodeAssistURL)
	return fs
}

// cliFlags is what runCliproxy reads of the parsed command line;
// caddycmd.Flags provides it.
type cliFlags interface {
	String(name string) string
	Bool(name string) bool
	Args() []string
}

// cmdCliproxy is "caddy cliproxy".
func cmdCliproxy(fl caddycmd.Flags) (int, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := runCliproxy(ctx, fl, os.Stdin, os.Stdout, openBrowser); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	return caddy.ExitCodeSuccess, nil
}

// runCliproxy runs "caddy cliproxy" with its flags and arguments, reading
// what the user pastes from in and writing to out. open opens a URL in a
// browser (unless --no-browser); nil never does.
func runCliproxy(ctx context.Context, fl cliFlags, in io.Reader, out io.Writer, open func(string) error) error {
	args := fl.Args()
	if len(args) == 0 {
		return errors.New("missing action: caddy cliproxy login <claude|codex|gemini>")
	}
	switch args[0] {
	case "login":
	default:
		return fmt.Errorf("unknown action %q: caddy cliproxy login <claude|codex|gemini>", args[0])
	}
	if len(args) != 2 {
		return errors.New("usage: caddy cliproxy login <claude|codex|gemini> [flags]")
	}
	opts := loginOptions{
		Provider:      args[1],
		AuthDir:       fl.String("auth-dir"),
		Listen:        fl.String("listen"),
		Project:       fl.String("project"),
		AuthorizeURL:  fl.String("authorize-url"),
		TokenURL:      fl.String("token-url"),
		UserInfoURL:   fl.String("userinfo-url"),
		CodeAssistURL: fl.String("code-assist-url"),
	}
	if !fl.Bool("no-browser") {
		opts.OpenBrowser = open
	}
	return runLogin(ctx, opts, in, out)
}

// loginOptions are the settings of one "caddy cliproxy login".
type loginOptions struct {
	Provider     string
	AuthDir      string
	Listen       string
	Project      string
	AuthorizeURL string
	TokenURL     string
	UserInfoURL  string
	// CodeAssistURL replaces the Code Assist API a gemini sign-in without
	// a project asks for the account's project.
	CodeAssistURL string
	// OpenBrowser opens the sign-in URL; nil does not.
	OpenBrowser func(string) error
}

// loginProvider maps the command's provider names to OAuth providers.
func loginProvider(name string) (oauth.OAuthProvider, string, error) {
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

// runLogin signs an account in and writes its credential file.
func runLogin(ctx context.Context, o loginOptions, in io.Reader, out io.Writer) error {
	p, title, err := loginProvider(o.Provider)
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

	dir, err := expandHome(o.AuthDir)
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
	if p != oauth.OAuthClaude && o.Listen != noListen {
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

// expandHome replaces a leading "~" with the user's home directory.
func expandHome(dir string) (string, error) {
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

// openBrowser asks the desktop to open u, without waiting for it.
func openBrowser(u string) error {
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
