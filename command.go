package cliproxy

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/caddy-cliproxy/cliproxy/auth/login"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

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
	fs.String("auth-dir", login.DefaultAuthDir, "Auth directory the credential file is written to")
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
	if err := runCliproxy(ctx, fl, os.Stdin, os.Stdout, login.OpenBrowser); err != nil {
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
	opts := login.Options{
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
	return login.Run(ctx, opts, in, out)
}
