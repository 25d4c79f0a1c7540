package executor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

const (
	// wsDialTimeout bounds an upstream handshake.
	wsDialTimeout = 30 * time.Second
	// wsCloseWait is how long a close frame waits for its answer.
	wsCloseWait = 250 * time.Millisecond
)

// wsUpstream is an upstream WebSocket and the goroutine reading it.
type wsUpstream struct {
	conn   *websocket.Conn
	cred   *auth.Credential
	token  string // the OAuth token of the handshake
	ch     chan wsMessage
	closer closeOnce
	done   chan struct{} // the reader has returned
}

// wsURL is where c's WebSocket upstream is: the HTTP base URL with ws://
// or wss://, e.g. wss://chatgpt.com/backend-api/codex/responses.
func (ep endpoint) wsURL(clientPath string) string {
	return ep.url("ws", clientPath)
}

// url is the upstream URL of clientPath with scheme ("http" or "ws"),
// secure when the base URL is.
func (ep endpoint) url(scheme, clientPath string) string {
	if ep.tls {
		scheme += "s"
	}
	u := url.URL{Scheme: scheme, Host: ep.host, Path: ep.path(clientPath)}
	return u.String()
}

// dialUpstream opens c's upstream WebSocket through transport, which adds
// the credential's secret. A 401 of an OAuth credential gets one token
// refresh and one more try.
func dialUpstream(s *wsSession, c *auth.Credential, ep endpoint, transport http.RoundTripper) (upstream, auth.Outcome, error) {
	conn, token, res, err := dialOnce(s, c, ep, transport)
	if err != nil && res != nil && res.StatusCode == http.StatusUnauthorized && c.OAuth != nil {
		if _, rerr := c.OAuth.Invalidate(s.ctx, res.sentToken); rerr == nil {
			conn, token, res, err = dialOnce(s, c, ep, transport)
		}
	}
	if err != nil {
		if res == nil {
			return nil, connOutcome(err), err
		}
		return nil, auth.Outcome{
			Status:  res.StatusCode,
			Hint:    auth.ParseHint(res.header, res.body, s.v.pool.Now()),
			Message: "websocket handshake refused",
		}, err
	}
	conn.SetReadLimit(wsMaxFrame)
	u := &wsUpstream{conn: conn, cred: c, token: token, ch: make(chan wsMessage), closer: newCloseOnce(), done: make(chan struct{})}
	go u.read()
	return u, auth.Outcome{}, nil
}

// handshakeAnswer is a refused handshake's status, headers and the start
// of its body.
type handshakeAnswer struct {
	StatusCode int
	header     http.Header
	body       []byte
	sentToken  string
}

var errHandshakeRefused = errors.New("upstream refused the websocket handshake")

// dialOnce opens c's upstream WebSocket, returning the OAuth token the
// handshake carried ("" for an API key).
func dialOnce(s *wsSession, c *auth.Credential, ep endpoint, transport http.RoundTripper) (*websocket.Conn, string, *handshakeAnswer, error) {
	ac := &attemptCredential{cred: c}
	ctx, cancel := context.WithTimeout(withCredential(s.ctx, ac), wsDialTimeout)
	defer cancel()
	// Dial reads and closes a refused handshake's body itself; res.Body
	// then holds its first bytes in memory
	conn, res, err := websocket.Dial(ctx, ep.wsURL(s.r.URL.Path), &websocket.DialOptions{ //nolint:bodyclose
		HTTPClient:      noRedirects(transport),
		HTTPHeader:      s.header.Clone(),
		CompressionMode: websocket.CompressionDisabled,
	})
	if res != nil {
		// the handshake's answer reports the usage windows like any
		// other; the stream's frames are not read for them
		s.e.sawQuota(s.v.pool, c, res.Header)
	}
	if err == nil {
		return conn, ac.sentToken, nil, nil
	}
	if res == nil || res.StatusCode == http.StatusSwitchingProtocols {
		return nil, "", nil, err
	}
	a := &handshakeAnswer{StatusCode: res.StatusCode, header: res.Header, sentToken: ac.sentToken}
	if res.Body != nil {
		a.body, _ = io.ReadAll(res.Body)
	}
	return nil, "", a, errHandshakeRefused
}

// read passes the upstream's messages on until the connection ends.
func (u *wsUpstream) read() {
	defer close(u.done)
	for {
		typ, data, err := u.conn.Read(context.Background())
		if err == nil && typ != websocket.MessageText {
			continue // the Responses API sends JSON text only
		}
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				err = errUpstreamGone
			}
		}
		select {
		case u.ch <- wsMessage{data: data, err: err}:
		case <-u.closer.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

func (u *wsUpstream) send(ctx context.Context, msg []byte) error {
	return u.conn.Write(ctx, websocket.MessageText, msg)
}

func (u *wsUpstream) events() <-chan wsMessage { return u.ch }

func (u *wsUpstream) credential() *auth.Credential { return u.cred }

func (u *wsUpstream) sentToken() string { return u.token }

// close sends the close frame and waits briefly for the upstream to
// answer it: a session must not hang on an upstream that does not.
func (u *wsUpstream) close(code websocket.StatusCode, reason string) {
	u.closer.do(func() {
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			_ = u.conn.Close(code, reason)
		}()
		select {
		case <-closed:
			<-u.done
		case <-time.After(wsCloseWait):
			// the close handshake goes on in the background, bounded by
			// the library's own timeout
		}
	})
}
