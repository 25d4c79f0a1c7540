package executor

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/coder/websocket"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// wsUpstreamMaxAge is how old an upstream connection may be when a turn
// starts; an older one is replaced first, ahead of the upstream's
// 60-minute cap (websocket_connection_limit_reached).
var wsUpstreamMaxAge = 55 * time.Minute

// wsSession is one client WebSocket and the upstream serving it.
type wsSession struct {
	e         *Executor
	v         *view
	r         *http.Request // the handshake, with the session's context
	route     Route
	principal string
	repl      *caddy.Replacer
	requestID string // the handshake's, read before any dial
	ctx       context.Context
	cancel    context.CancelFunc

	client     *websocket.Conn
	header     http.Header // the handshake headers that go upstream
	fromClient chan wsMessage
	queued     [][]byte // turns the client sent while one was running

	up        upstream
	home      *auth.Credential // the credential of the last upstream
	upSince   time.Time
	upExpired bool // the upstream said its connection cap was reached
	// created maps the responses made in this session to the credential
	// that made them, for previous_response_id
	created      map[string]*auth.Credential
	createdOrder []string
	turns        int // started so far
}

// serve runs the session until either side ends it.
func (s *wsSession) serve() {
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		s.readClient()
	}()
	defer func() {
		if s.up != nil {
			s.up.close(websocket.StatusGoingAway, "")
		}
		s.cancel()
		_ = s.client.CloseNow()
		<-readerDone
	}()
	for {
		if len(s.queued) > 0 {
			msg := s.queued[0]
			s.queued = s.queued[1:]
			if !s.turn(msg) {
				return
			}
			continue
		}
		var upEvents <-chan wsMessage
		if s.up != nil {
			upEvents = s.up.events()
		}
		select {
		case m := <-s.fromClient:
			if m.err != nil {
				s.clientGone(m.err)
				return
			}
			if !s.fromClientIdle(m.data) {
				return
			}
		case m := <-upEvents:
			if !s.idleUpstream(m) {
				return
			}
		}
	}
}

// readClient reads the client's messages until its connection ends.
func (s *wsSession) readClient() {
	for {
		typ, data, err := s.client.Read(s.ctx)
		if err == nil && typ != websocket.MessageText {
			err = errBinaryFrame
		}
		select {
		case s.fromClient <- wsMessage{data: data, err: err}:
		case <-s.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// errBinaryFrame: the Responses WebSocket mode speaks JSON text frames only.
var errBinaryFrame = errors.New("binary frame from client")

// fromClientIdle handles a client message between turns.
func (s *wsSession) fromClientIdle(msg []byte) bool {
	if isTurn(msg) {
		return s.turn(msg)
	}
	if s.up != nil {
		if err := s.up.send(s.ctx, msg); err != nil {
			s.dropUpstream()
		}
	}
	return true
}

// isTurn reports whether msg is a response.create.
func isTurn(msg []byte) bool {
	return gjson.GetBytes(msg, "type").String() == "response.create"
}

// idleUpstream handles what the upstream sends between turns.
func (s *wsSession) idleUpstream(m wsMessage) bool {
	if m.err != nil {
		if s.upExpired || time.Since(s.upSince) >= wsUpstreamMaxAge {
			// the connection cap: a new upstream opens with the next turn
			s.dropUpstream()
			return true
		}
		code, reason := closeOf(m.err)
		s.log("upstream closed the websocket", zap.Int("code", int(code)))
		s.dropUpstream()
		s.closeClient(code, reason)
		return false
	}
	if eventCode(m.data) == "websocket_connection_limit_reached" {
		s.upExpired = true
		return true
	}
	s.note(s.up.credential(), m.data)
	return s.toClient(m.data)
}

// clientGone ends the upstream the way the client ended its side.
func (s *wsSession) clientGone(err error) {
	if s.up == nil {
		return
	}
	code, reason := closeOf(err)
	if errors.Is(err, errBinaryFrame) {
		code, reason = websocket.StatusUnsupportedData, "text frames only"
		s.closeClient(code, reason)
	}
	s.up.close(code, reason)
	s.up = nil
}

// closeOf is the close code and reason an ended connection gives the other
// side: the peer's own, or "going away" when it vanished without one.
func closeOf(err error) (websocket.StatusCode, string) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case websocket.StatusNoStatusRcvd:
			return websocket.StatusNormalClosure, ""
		case websocket.StatusAbnormalClosure, websocket.StatusTLSHandshake:
			return websocket.StatusGoingAway, ""
		}
		return ce.Code, ce.Reason
	}
	return websocket.StatusGoingAway, ""
}

// closeClient closes the client's side with code and reason.
func (s *wsSession) closeClient(code websocket.StatusCode, reason string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.client.Close(code, reason)
	}()
	select {
	case <-done:
	case <-time.After(wsCloseWait):
		_ = s.client.CloseNow()
		<-done
	}
}

// dropUpstream closes the current upstream, if any.
func (s *wsSession) dropUpstream() {
	if s.up != nil {
		s.up.close(websocket.StatusNormalClosure, "")
		s.up = nil
	}
	s.upExpired = false
}

// toClient sends one message to the client.
func (s *wsSession) toClient(msg []byte) bool {
	return s.client.Write(s.ctx, websocket.MessageText, msg) == nil
}

// wsMaxCreated bounds the responses a session remembers; a long session
// forgets the oldest half, whose continuations then go upstream as they
// are.
const wsMaxCreated = 4096

// note remembers which credential created a response.
func (s *wsSession) note(c *auth.Credential, msg []byte) {
	switch gjson.GetBytes(msg, "type").String() {
	case "response.created", "response.completed":
		id := gjson.GetBytes(msg, "response.id").String()
		if id == "" {
			return
		}
		if _, ok := s.created[id]; !ok {
			if len(s.createdOrder) >= wsMaxCreated {
				for _, old := range s.createdOrder[:wsMaxCreated/2] {
					delete(s.created, old)
				}
				s.createdOrder = append(s.createdOrder[:0], s.createdOrder[wsMaxCreated/2:]...)
			}
			s.createdOrder = append(s.createdOrder, id)
		}
		s.created[id] = c
	}
}

// open connects an upstream with c: its WebSocket, or the HTTP bridge
// when c does not speak WebSocket.
func (s *wsSession) open(c *auth.Credential) (upstream, auth.Outcome, error) {
	ep := s.v.endpoints[c]
	transport := s.e.opts.Transport
	if ep.tls {
		transport = s.e.opts.TLSTransport
	}
	if !c.WebSocketUpstream() {
		return newBridge(s, c, ep, transport), auth.Outcome{}, nil
	}
	return dialUpstream(s, c, ep, transport)
}

// newRun is the attempt state of one turn, shared with the HTTP path for
// picking, health records and the usage event.
func (s *wsSession) newRun(model string, msg []byte) *run {
	rn := &run{
		e: s.e, v: s.v, r: s.r, route: s.route, model: model, principal: s.principal,
		repl: s.repl, requestID: s.requestID, header: s.header, start: time.Now(),
	}
	s.turns++
	rn.turn = s.turns
	if s.e.capturer != nil {
		rn.turnIn = msg
	}
	if s.e.opts.Affinity != nil {
		rn.sess, rn.session = s.e.sessionOf(s.r, msg, s.route, s.principal, model)
	}
	return rn
}

func (s *wsSession) log(msg string, fields ...zap.Field) {
	if ce := s.e.opts.Logger.Check(zapcore.DebugLevel, msg); ce != nil {
		ce.Write(append(fields, zap.String("client", s.principal))...)
	}
}

// keep reports whether the current upstream may serve the next turn of
// model: its credential still serves it, is available and was not tried.
func (s *wsSession) keep(rn *run, eligible, tried []*auth.Credential) (selector.Decision, bool) {
	if s.up == nil || s.upExpired || time.Since(s.upSince) >= wsUpstreamMaxAge {
		return selector.Decision{}, false
	}
	c := s.up.credential()
	if !containsCred(eligible, c) || containsCred(tried, c) {
		return selector.Decision{}, false
	}
	if ok, _ := s.v.pool.Available(c, rn.model); !ok {
		return selector.Decision{}, false
	}
	// the connection pins the session: bind it there
	return selector.Decision{Credential: c, Bind: true}, true
}
