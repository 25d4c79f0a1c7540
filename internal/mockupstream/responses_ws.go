package mockupstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/tidwall/gjson"
)

// The Responses API's WebSocket mode (used by Codex CLI): GET …/responses
// with Upgrade: websocket, then one response.create text frame per turn,
// answered by the same events as the SSE stream, one JSON text frame each.
// Errors arrive as {"type":"error","status":N,"error":{…}} events.

// wsReadLimit is the largest frame the mock accepts, as large as the
// gateway relays.
const wsReadLimit = 64 << 20

// WSClose is a close frame the mock received from the gateway.
type WSClose struct {
	Key    string
	Code   int // -1 when the connection ended without a close frame
	Reason string
	Time   time.Time
}

// WSCloses returns the closes of WebSocket connections seen so far, in order.
func (s *Server) WSCloses() []WSClose {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WSClose(nil), s.wsCloses...)
}

// WSOpen is the number of WebSocket connections open now.
func (s *Server) WSOpen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wsOpen
}

// isWebSocket reports whether r asks for a WebSocket upgrade.
func isWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// serveResponsesWS answers a WebSocket handshake on …/responses and serves
// its turns. The handshake is recorded with Method GET, every client
// message with Method "WS" and the message as Body.
func (s *Server) serveResponsesWS(w http.ResponseWriter, r *http.Request) {
	key := KeyOf(r)
	rt := route{op: opOpenAIResponses, provider: "openai-responses-ws", family: familyOpenAI, method: http.MethodGet}
	base := Recorded{Provider: rt.provider, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host, Header: r.Header.Clone(), Key: key, Stream: true}
	hs := base
	hs.Method, hs.Time = http.MethodGet, time.Now()
	s.record(hs)
	if key == "" {
		writeProviderError(w, familyOpenAI, http.StatusUnauthorized, noKeyMessage(familyOpenAI))
		return
	}
	s.writeUsage(key, w.Header())
	if f, ok := s.takeFaultIf(key, func(f Fault) bool { return f.Status != 0 }); ok {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeProviderError(w, familyOpenAI, f.Status, defaultMessage(familyOpenAI, f.Status))
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	conn.SetReadLimit(wsReadLimit)
	s.mu.Lock()
	s.wsOpen++
	s.mu.Unlock()
	closed := WSClose{Key: key, Code: -1}
	defer func() {
		closed.Time = time.Now()
		s.mu.Lock()
		s.wsOpen--
		s.wsCloses = append(s.wsCloses, closed)
		s.mu.Unlock()
		_ = conn.CloseNow()
	}()
	// like the real servers, read while a turn is answered, so a close
	// or a vanished peer ends the turn at once
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, msg, err := conn.Read(ctx)
			if err != nil {
				readErr <- err
				cancel()
				return
			}
			select {
			case msgs <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case err := <-readErr:
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				closed.Code, closed.Reason = int(ce.Code), ce.Reason
			}
			return
		case msg := <-msgs:
			rec := base
			rec.Method, rec.Time = "WS", time.Now()
			rec.Body, rec.DecodedBody = msg, msg
			rec.Model = gjson.GetBytes(msg, "model").String()
			s.record(rec)
			if !s.wsTurn(ctx, conn, r, rt, key, msg) {
				return
			}
		}
	}
}

// wsTurn answers one client message and reports whether the connection
// stays open.
func (s *Server) wsTurn(ctx context.Context, conn *websocket.Conn, r *http.Request, rt route, key string, msg []byte) bool {
	send := func(b []byte) bool { return conn.Write(ctx, websocket.MessageText, b) == nil }
	if typ := gjson.GetBytes(msg, "type").String(); typ != "response.create" {
		return send(wsError(http.StatusBadRequest, "invalid_request_error", "unsupported_message_type",
			fmt.Sprintf("Unsupported message type %q.", typ), nil))
	}
	c := &call{s: s, r: r, rt: rt, body: msg, key: key, stream: true}
	c.model = gjson.GetBytes(msg, "model").String()
	f, _ := s.takeFault(key)
	c.fault = f
	if !sleepCtx(ctx, f.FirstByteDelay) {
		return false
	}
	switch {
	case f.WSDrop:
		return false
	case f.WSError != "":
		ok := send(wsFaultError(f))
		if f.WSError == "websocket_connection_limit_reached" {
			_ = conn.Close(websocket.StatusNormalClosure, "connection limit reached")
			return false
		}
		return ok
	case c.model == "":
		return send(wsError(http.StatusBadRequest, "invalid_request_error", "missing_required_parameter", missingModelMessage(familyOpenAI), nil))
	}
	if prev := gjson.GetBytes(msg, "previous_response_id").String(); prev != "" && !s.stored(key, prev) {
		return send(wsError(http.StatusBadRequest, "invalid_request_error", "previous_response_not_found",
			fmt.Sprintf("Previous response with id '%s' not found.", prev), map[string]any{"param": "previous_response_id"}))
	}
	resp := c.newResponse()
	if g := gjson.GetBytes(msg, "generate"); g.Exists() && !g.Bool() {
		// a prewarm: the request is taken in, nothing is generated
		done := *resp
		done.Status = "completed"
		done.Usage = &responseUsage{}
		s.store(key, resp.ID)
		return send(mustJSON(responseEvent{Type: "response.created", Response: resp})) &&
			send(mustJSON(responseEvent{Type: "response.completed", SequenceNumber: 1, Response: &done}))
	}
	c.reply = s.replyFor(key, familyOpenAI)
	n, alive := 0, true
	c.responseEvents(resp, func(ev responseEvent) bool {
		if n > 0 && !sleepCtx(ctx, f.EventDelay) {
			alive = false
			return false
		}
		if !send(mustJSON(ev)) {
			alive = false
			return false
		}
		n++
		if f.ResetAfter > 0 && n >= f.ResetAfter {
			alive = false // dropped mid-turn, without a close frame
			return false
		}
		return true
	})
	if !alive {
		return false
	}
	s.store(key, resp.ID)
	if f.WSClose != 0 {
		_ = conn.Close(websocket.StatusCode(f.WSClose), f.WSCloseReason)
		return false
	}
	return true
}

// wsFaultError is the error event a WSError fault answers with.
func wsFaultError(f Fault) []byte {
	if f.Body != "" {
		return []byte(f.Body)
	}
	switch f.WSError {
	case "rate_limit_exceeded":
		return wsError(http.StatusTooManyRequests, "rate_limit_exceeded", "rate_limit_exceeded",
			"Rate limit reached for requests. Please try again later.", nil)
	case "usage_limit_reached":
		extra := map[string]any{"plan_type": "plus"}
		if f.RetryAfter != "" {
			var secs int64
			if _, err := fmt.Sscan(f.RetryAfter, &secs); err == nil {
				extra["resets_in_seconds"] = secs
				extra["resets_at"] = time.Now().Unix() + secs
			}
		}
		return wsError(http.StatusTooManyRequests, "usage_limit_reached", "", "The usage limit has been reached", extra)
	case "server_is_overloaded":
		return wsError(http.StatusServiceUnavailable, "server_error", "server_is_overloaded",
			"Our servers are currently overloaded. Please try again later.", nil)
	case "websocket_connection_limit_reached":
		return wsError(http.StatusBadRequest, "invalid_request_error", "websocket_connection_limit_reached",
			"Responses websocket connection limit reached (60 minutes). Create a new websocket connection to continue.", nil)
	}
	return wsError(http.StatusBadRequest, "invalid_request_error", f.WSError, "The request was refused.", nil)
}

// wsError is an error event of the WebSocket mode.
func wsError(status int, typ, code, message string, extra map[string]any) []byte {
	e := map[string]any{"type": typ, "message": message}
	if code != "" {
		e["code"] = code
	} else {
		e["code"] = nil
	}
	for k, v := range extra {
		e[k] = v
	}
	return mustJSON(map[string]any{"type": "error", "status": status, "error": e})
}

// store remembers a response created with key, for previous_response_id.
func (s *Server) store(key, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.storedIDs == nil {
		s.storedIDs = map[string]map[string]bool{}
	}
	if s.storedIDs[key] == nil {
		s.storedIDs[key] = map[string]bool{}
	}
	s.storedIDs[key][id] = true
}

// stored reports whether a response id was created with key.
func (s *Server) stored(key, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.storedIDs[key][id]
}
