package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/coder/websocket"

	"github.com/caddy-cliproxy/cliproxy/access"
	"github.com/caddy-cliproxy/cliproxy/auth"
)

// The OpenAI Responses API's WebSocket mode, which Codex CLI uses: after the
// handshake the client sends one response.create text frame per turn and
// reads the response's events, one JSON text frame each.
//
// The gateway terminates both WebSockets instead of tunnelling bytes, so
// that it sees the turns: the upstream connection is opened at the first
// turn, when its model is known (health and session bindings are per
// model), on the credential the session is bound to, and a turn that the
// upstream refuses before any output (rate limit, usage limit, overload, a
// dropped connection) is replayed on another credential without the client
// seeing the failure.

const (
	// wsMaxFrame bounds one message either way; Codex sends MBs for long
	// sessions.
	wsMaxFrame = 64 << 20
	// defaultOpenAIBeta is sent upstream when the client names no beta.
	defaultOpenAIBeta = "responses_websockets=2026-02-06"
)

// isWebSocketUpgrade reports whether r asks to become a WebSocket.
func isWebSocketUpgrade(r *http.Request) bool {
	if r.Method != http.MethodGet || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// serveWebSocket upgrades an authenticated client and serves its turns
// until either side closes.
func (e *Executor) serveWebSocket(w http.ResponseWriter, r *http.Request, route Route, principal string) error {
	v := e.cur.Load()
	if len(v.eligible(route, "", principal)) == 0 && v.refusesClient(route, "", principal) {
		return WriteError(w, route.Family, noCredentialForClient(route, ""))
	}
	if len(v.eligible(route, "", principal)) == 0 {
		return WriteError(w, route.Family, &ClientError{
			Status:  http.StatusNotFound,
			Code:    CodeModelNotSupported,
			Message: "no credential of this gateway serves the Responses API",
		})
	}
	if e.opts.Transport == nil || e.opts.TLSTransport == nil {
		return WriteError(w, route.Family, &ClientError{
			Status:  http.StatusNotImplemented,
			Code:    CodeInvalidRequest,
			Message: "this gateway does not serve WebSocket clients",
		})
	}
	header := upstreamHeader(r)
	client, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil // Accept has answered the client
	}
	client.SetReadLimit(wsMaxFrame)
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	// a hijacked request's context outlives the client: the session has
	// its own, ended when either side goes
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	s := &wsSession{
		e: e, v: v, route: route, principal: principal, repl: repl, requestID: requestIDOf(repl),
		r: r.WithContext(ctx), ctx: ctx, cancel: cancel,
		client: client, header: header,
		fromClient: make(chan wsMessage),
		created:    make(map[string]*auth.Credential),
	}
	s.serve()
	return nil
}

// upstreamHeader is what of the client's handshake goes upstream: its own
// headers (session, beta, client metadata), without its credentials and
// without the handshake's hop-by-hop headers, which the upstream dial sets
// anew.
func upstreamHeader(r *http.Request) http.Header {
	h := r.Header.Clone()
	u := *r.URL
	access.StripClientCredentials(&http.Request{Header: h, URL: &u})
	for _, name := range []string{
		"Upgrade", "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding",
		"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Protocol",
		"Host", "Origin", "Content-Length", "Accept-Encoding",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Via",
	} {
		h.Del(name)
	}
	if h.Get("Openai-Beta") == "" {
		h.Set("Openai-Beta", defaultOpenAIBeta)
	}
	return h
}

// wsMessage is one message read from a side, or the error that ended it.
type wsMessage struct {
	data []byte
	// header carries the HTTP answer's headers of a bridged error, for
	// its hints
	header http.Header
	err    error
}

// upstream is one upstream connection of a session: a WebSocket, or the
// HTTP bridge of a credential without WebSocket support.
type upstream interface {
	// send passes a client message on.
	send(ctx context.Context, msg []byte) error
	// events delivers the upstream's messages; after a message with err
	// the upstream is gone.
	events() <-chan wsMessage
	// close ends the upstream, with a close frame where there is one.
	close(code websocket.StatusCode, reason string)
	credential() *auth.Credential
	// sentToken is the OAuth access token last sent upstream ("" for an
	// API key), for the request log to scrub.
	sentToken() string
}

// closeOnce runs the close of an upstream once, waiting at most a second
// for the peer's answer before the connection is cut.
type closeOnce struct {
	once sync.Once
	quit chan struct{}
}

func newCloseOnce() closeOnce { return closeOnce{quit: make(chan struct{})} }

func (c *closeOnce) do(fn func()) {
	c.once.Do(func() {
		close(c.quit)
		fn()
	})
}

// errUpstreamGone ends an upstream that closed without a close frame, or a
// bridged stream that ended before its response did.
var errUpstreamGone = errors.New("upstream connection ended")

// wsErrorEvent is the gateway's own error as a Responses error event, in
// the shape the OpenAI WebSocket mode uses.
func wsErrorEvent(ce *ClientError) []byte {
	body, _ := json.Marshal(openAIError(ce))
	return []byte(fmt.Sprintf(`{"type":"error","status":%d,%s`, ce.Status, body[1:]))
}
