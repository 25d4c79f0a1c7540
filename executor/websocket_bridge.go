package executor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// bridge serves a WebSocket session from a credential whose upstream has
// no WebSocket mode: each response.create becomes POST …/responses with
// stream true, and each SSE event of the answer a text frame.
//
// The HTTP API keeps no per-connection state, so the bridge keeps the last
// turn's input and output: a turn that continues it by
// previous_response_id is sent with the whole conversation instead.
type bridge struct {
	s         *wsSession
	cred      *auth.Credential
	ep        endpoint
	client    *http.Client
	ch        chan wsMessage
	closer    closeOnce
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	mu        sync.Mutex
	lastID    string
	lastItems []json.RawMessage // input and output of lastID
	token     string            // the OAuth token of the last post
}

func newBridge(s *wsSession, c *auth.Credential, ep endpoint, transport http.RoundTripper) *bridge {
	ctx, cancel := context.WithCancel(s.ctx)
	return &bridge{
		s: s, cred: c, ep: ep, client: noRedirects(transport),
		ch: make(chan wsMessage), closer: newCloseOnce(), ctx: ctx, cancel: cancel,
	}
}

func (b *bridge) events() <-chan wsMessage     { return b.ch }
func (b *bridge) credential() *auth.Credential { return b.cred }

func (b *bridge) sentToken() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.token
}

func (b *bridge) close(websocket.StatusCode, string) {
	b.closer.do(func() {
		b.cancel()
		b.wg.Wait()
	})
}

// emit passes one message to the session, unless the bridge is closed.
func (b *bridge) emit(m wsMessage) bool {
	select {
	case b.ch <- m:
		return true
	case <-b.closer.quit:
		return false
	}
}

// send starts a turn; other client messages have no HTTP counterpart and
// are dropped.
func (b *bridge) send(_ context.Context, msg []byte) error {
	if !isTurn(msg) {
		return nil
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.turn(msg)
	}()
	return nil
}

func (b *bridge) turn(msg []byte) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(msg, &fields); err != nil {
		b.emit(wsMessage{data: wsErrorEvent(&ClientError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "the response.create message is not a JSON object"})})
		return
	}
	full, continues := b.conversation(msg)
	if g := gjson.GetBytes(msg, "generate"); g.Exists() && !g.Bool() {
		b.prewarm(msg, full)
		return
	}
	delete(fields, "type")
	delete(fields, "generate")
	fields["stream"] = json.RawMessage("true")
	if continues {
		raw, err := json.Marshal(full)
		if err != nil {
			return
		}
		fields["input"] = raw
		delete(fields, "previous_response_id")
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return
	}
	res, sent, err := b.post(body)
	if err == nil && res.StatusCode == http.StatusUnauthorized && b.cred.OAuth != nil {
		res.Body.Close()
		if _, rerr := b.cred.OAuth.Invalidate(b.ctx, sent); rerr == nil {
			res, _, err = b.post(body)
		}
	}
	if err != nil {
		b.emit(wsMessage{err: errUpstreamGone})
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		b.emit(wsMessage{data: httpErrorEvent(res.StatusCode, raw), header: res.Header})
		return
	}
	b.stream(res.Body, full)
}

// conversation is the whole input of a turn, and whether it continues the
// turn the bridge kept: then the kept input and output come first.
func (b *bridge) conversation(msg []byte) ([]json.RawMessage, bool) {
	input := inputItems(msg)
	prev := gjson.GetBytes(msg, "previous_response_id").String()
	b.mu.Lock()
	defer b.mu.Unlock()
	if prev != "" && prev == b.lastID {
		return append(append([]json.RawMessage{}, b.lastItems...), input...), true
	}
	return input, false
}

// post sends the turn upstream and returns the OAuth token it carried.
func (b *bridge) post(body []byte) (*http.Response, string, error) {
	ac := &attemptCredential{cred: b.cred}
	u := b.ep.url("http", b.s.r.URL.Path)
	req, err := http.NewRequestWithContext(withCredential(b.ctx, ac), http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header = b.s.header.Clone()
	if strings.Contains(req.Header.Get("Openai-Beta"), "responses_websockets") {
		req.Header.Del("Openai-Beta")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	res, err := b.client.Do(req)
	if ac.sentToken != "" {
		b.mu.Lock()
		b.token = ac.sentToken
		b.mu.Unlock()
	}
	return res, ac.sentToken, err
}

// prewarm answers a response.create with generate false, as the
// upstream's WebSocket mode would, without calling the upstream: the
// request is kept for the next turn to continue.
func (b *bridge) prewarm(msg []byte, full []json.RawMessage) {
	id := "resp_" + randomHex(24)
	b.remember(id, full)
	resp := map[string]any{
		"id": id, "object": "response", "status": "in_progress", "model": gjson.GetBytes(msg, "model").String(),
		"output": []any{}, "previous_response_id": nullable(gjson.GetBytes(msg, "previous_response_id").String()),
	}
	created, _ := json.Marshal(map[string]any{"type": "response.created", "sequence_number": 0, "response": resp})
	resp["status"] = "completed"
	resp["usage"] = map[string]int{"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
	completed, _ := json.Marshal(map[string]any{"type": "response.completed", "sequence_number": 1, "response": resp})
	_ = b.emit(wsMessage{data: created}) && b.emit(wsMessage{data: completed})
}

func (b *bridge) remember(id string, items []json.RawMessage) {
	b.mu.Lock()
	b.lastID, b.lastItems = id, items
	b.mu.Unlock()
}

// stream turns the SSE answer into messages and keeps the conversation.
func (b *bridge) stream(body io.Reader, full []json.RawMessage) {
	var msg []byte
	var outputs []json.RawMessage
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), wsMaxFrame)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if len(msg) == 0 {
				continue
			}
			data := msg
			msg = nil
			if bytes.Equal(data, []byte("[DONE]")) {
				continue
			}
			switch gjson.GetBytes(data, "type").String() {
			case "response.output_item.done":
				if item := gjson.GetBytes(data, "item"); item.IsObject() {
					outputs = append(outputs, json.RawMessage(item.Raw))
				}
			case "response.completed":
				b.remember(gjson.GetBytes(data, "response.id").String(), append(full, outputs...))
				b.emit(wsMessage{data: data})
				return
			case "response.failed", "response.incomplete", "error":
				b.emit(wsMessage{data: data})
				return
			}
			if !b.emit(wsMessage{data: data}) {
				return
			}
		case bytes.HasPrefix(line, []byte("data:")):
			msg = append(msg, bytes.TrimSpace(line[len("data:"):])...)
		}
	}
	// the stream ended before its response did
	b.emit(wsMessage{err: errUpstreamGone})
}

// inputItems reads a turn's input as items (a string input is one user
// message).
func inputItems(msg []byte) []json.RawMessage {
	in := gjson.GetBytes(msg, "input")
	if in.Type == gjson.String {
		item, _ := json.Marshal(map[string]any{"type": "message", "role": "user", "content": in.String()})
		return []json.RawMessage{item}
	}
	var out []json.RawMessage
	in.ForEach(func(_, v gjson.Result) bool {
		out = append(out, json.RawMessage(v.Raw))
		return true
	})
	return out
}

// httpErrorEvent is an HTTP error answer as a WebSocket error event.
func httpErrorEvent(status int, body []byte) []byte {
	e := gjson.GetBytes(body, "error")
	errRaw := []byte(e.Raw)
	if !e.IsObject() {
		errRaw, _ = json.Marshal(map[string]any{"type": openAIType(status), "message": strings.TrimSpace(string(body))})
	}
	return []byte(fmt.Sprintf(`{"type":"error","status":%d,"error":%s}`, status, errRaw))
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
