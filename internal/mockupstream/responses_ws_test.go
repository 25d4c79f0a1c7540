package mockupstream

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

func dialMock(t *testing.T, url, key string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/v1/responses", &websocket.DialOptions{HTTPHeader: h})
	if conn != nil {
		t.Cleanup(func() { _ = conn.CloseNow() })
	}
	return conn, res, err
}

// wsTurnEvents sends msg and reads the events up to the turn's last.
func wsTurnEvents(t *testing.T, conn *websocket.Conn, msg string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(msg)))
	var types []string
	for {
		_, b, err := conn.Read(ctx)
		require.NoError(t, err)
		typ := gjson.GetBytes(b, "type").String()
		if typ == "error" {
			typ += ":" + gjson.GetBytes(b, "error.code").String()
		}
		types = append(types, typ)
		if typ != "response.created" && typ != "response.in_progress" && !strings.HasPrefix(typ, "response.output") &&
			!strings.HasPrefix(typ, "response.content_part") {
			return types
		}
	}
}

func TestResponsesWebSocketMode(t *testing.T) {
	m, ts := start(t)
	_, res, err := dialMock(t, ts.URL, "")
	require.Error(t, err)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)

	conn, _, err := dialMock(t, ts.URL, "k1")
	require.NoError(t, err)
	turn := `{"type":"response.create","model":"gpt-5.5","input":"hi"}`
	types := wsTurnEvents(t, conn, turn)
	assert.Equal(t, "response.created", types[0])
	assert.Contains(t, types, "response.output_text.delta")
	assert.Equal(t, "response.completed", types[len(types)-1])

	assert.Equal(t, []string{"response.created", "response.completed"},
		wsTurnEvents(t, conn, `{"type":"response.create","model":"gpt-5.5","input":"hi","generate":false}`))
	assert.Equal(t, []string{"error:previous_response_not_found"},
		wsTurnEvents(t, conn, `{"type":"response.create","model":"gpt-5.5","previous_response_id":"resp_unknown"}`))

	m.SetFault("k1", Fault{WSError: "usage_limit_reached", RetryAfter: "60", Times: 1})
	assert.Equal(t, []string{"error:"}, wsTurnEvents(t, conn, turn))
	again := wsTurnEvents(t, conn, turn)
	assert.Equal(t, "response.completed", again[len(again)-1], "a fault with Times 1 outlived its turn")

	recs := m.RequestsFor("k1")
	assert.Equal(t, http.MethodGet, recs[0].Method)
	assert.Equal(t, "WS", recs[1].Method)
	assert.Equal(t, turn, string(recs[1].Body))
	assert.Equal(t, 1, m.WSOpen())
}

func TestResponsesWebSocketFaultsEndConnections(t *testing.T) {
	m, ts := start(t)
	turn := `{"type":"response.create","model":"gpt-5.5","input":"hi"}`
	for name, f := range map[string]Fault{
		"drop":      {WSDrop: true},
		"reset":     {ResetAfter: 3},
		"close":     {WSClose: 4002, WSCloseReason: "done"},
		"cap":       {WSError: "websocket_connection_limit_reached"},
		"handshake": {Status: http.StatusTooManyRequests},
	} {
		t.Run(name, func(t *testing.T) {
			m.Reset()
			m.SetFault("k", f)
			conn, res, err := dialMock(t, ts.URL, "k")
			if name == "handshake" {
				require.Error(t, err)
				assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
				return
			}
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(turn)))
			n := 0
			for {
				_, _, err := conn.Read(ctx)
				if err != nil {
					code := websocket.CloseStatus(err)
					switch name {
					case "close":
						assert.Equal(t, websocket.StatusCode(4002), code)
					case "drop", "reset":
						assert.Equal(t, websocket.StatusCode(-1), code, "a drop sent a close frame")
					}
					break
				}
				n++
			}
			if name == "reset" {
				assert.Equal(t, 3, n)
			}
		})
	}
}
