package integration

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

func TestWebSocketRelaysLargeFrames(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsPool})
	conn := g.mustDialWS(codexHeader("sess-large"))
	// Codex sends MBs for long sessions; this is above the HTTP path's
	// 32 MiB body limit
	big := strings.Repeat("x", 33<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // slow under -race
	defer cancel()
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(turnMsg("gpt-5.5", big, ""))))
	events := readTurn(t, conn)
	assert.Equal(t, "response.completed", gjson.Get(events[len(events)-1], "type").String())
	turns := wsRecords(g.mock, "WS")
	require.Len(t, turns, 1)
	assert.Equal(t, len(turnMsg("gpt-5.5", big, "")), len(turns[0].Body))
}

func TestWebSocketPingIsAnswered(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsPool})
	conn := g.mustDialWS(codexHeader("sess-ping"))
	sendWS(t, conn, turnMsg("gpt-5.5", "hi", ""))
	readTurn(t, conn)
	// a ping is answered only while someone reads
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn.CloseRead(ctx)
	require.NoError(t, conn.Ping(ctx))
	require.NoError(t, conn.Ping(ctx), "the session did not survive a ping")
}

func TestWebSocketCloseCodesBothWays(t *testing.T) {
	t.Run("client to upstream", func(t *testing.T) {
		g := startGateway(t, gatewayOptions{Handler: wsPool})
		conn := g.mustDialWS(codexHeader("sess-close-1"))
		sendWS(t, conn, turnMsg("gpt-5.5", "hi", ""))
		readTurn(t, conn)
		require.NoError(t, conn.Close(4000, "client says bye"))
		var closes []mockupstream.WSClose
		require.Eventually(t, func() bool {
			closes = g.mock.WSCloses()
			return len(closes) == 1
		}, time.Second, 10*time.Millisecond, "the upstream was not closed within a second")
		assert.Equal(t, 4000, closes[0].Code)
		assert.Equal(t, "client says bye", closes[0].Reason)
	})
	t.Run("upstream to client", func(t *testing.T) {
		g := startGateway(t, gatewayOptions{Handler: wsPool})
		g.mock.SetFault("*", mockupstream.Fault{WSClose: 4001, WSCloseReason: "upstream says bye"})
		conn := g.mustDialWS(codexHeader("sess-close-2"))
		sendWS(t, conn, turnMsg("gpt-5.5", "hi", ""))
		readTurn(t, conn)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _, err := conn.Read(ctx)
		var ce websocket.CloseError
		require.True(t, errors.As(err, &ce), "want a close frame, got %v", err)
		assert.Equal(t, websocket.StatusCode(4001), ce.Code)
		assert.Equal(t, "upstream says bye", ce.Reason)
	})
}

func TestWebSocketClientDisconnectClosesUpstream(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsPool})
	// mid-turn and between turns
	g.mock.SetFault("*", mockupstream.Fault{EventDelay: 200 * time.Millisecond, Times: 1})
	for _, midTurn := range []bool{true, false} {
		conn := g.mustDialWS(codexHeader("sess-gone"))
		sendWS(t, conn, turnMsg("gpt-5.5", "a long answer", ""))
		if midTurn {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _, err := conn.Read(ctx) // the turn is under way
			cancel()
			require.NoError(t, err)
		} else {
			readTurn(t, conn)
		}
		require.Equal(t, 1, g.mock.WSOpen())
		_ = conn.CloseNow() // no close frame: the client vanished
		gone := time.Now()
		require.Eventually(t, func() bool { return g.mock.WSOpen() == 0 }, time.Second, 5*time.Millisecond,
			"mid turn %v: the upstream outlived the client by more than a second", midTurn)
		t.Logf("mid turn %v: upstream closed %v after the client", midTurn, time.Since(gone).Round(time.Millisecond))
	}
}

func TestWebSocketConnectionCapReopensUpstream(t *testing.T) {
	// without affinity, round robin would place a new connection on the
	// other credential; the session stays with its own
	noAffinity := strings.Replace(wsPool, "session_affinity on", "", 1)
	for name, cfg := range map[string]string{"affinity": wsPool, "round robin": noAffinity} {
		t.Run(name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{Handler: cfg})
			conn := g.mustDialWS(codexHeader("sess-cap"))
			sendWS(t, conn, turnMsg("gpt-5.5", "first", ""))
			events := readTurn(t, conn)
			id := gjson.Get(events[len(events)-1], "response.id").String()
			home := wsRecords(g.mock, http.MethodGet)[0].Key
			// the 60-minute cap: the next turn is refused and the
			// connection closed
			g.mock.SetFault(home, mockupstream.Fault{WSError: "websocket_connection_limit_reached", Times: 1})
			sendWS(t, conn, turnMsg("gpt-5.5", "second", `,"previous_response_id":"`+id+`"`))
			events = readTurn(t, conn)
			assert.Equal(t, "response.completed", gjson.Get(events[len(events)-1], "type").String(), typesOf(events))
			assert.Equal(t, []string{home, home}, keysOf(wsRecords(g.mock, http.MethodGet)), "a new connection of the same credential")
			assert.Equal(t, []string{home, home, home}, keysOf(wsRecords(g.mock, "WS")))
			// the cap cooled nothing
			sendWS(t, conn, turnMsg("gpt-5.5", "third", ""))
			readTurn(t, conn)
			assert.Equal(t, home, wsRecords(g.mock, "WS")[3].Key)
		})
	}
}

func TestWebSocketSurvivesConfigReload(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsPool})
	conn := g.mustDialWS(codexHeader("sess-reload"))
	sendWS(t, conn, turnMsg("gpt-5.5", "before", ""))
	readTurn(t, conn)
	g.reload(gatewayOptions{Handler: wsPool + "\t\tmax_attempts 2\n"})
	sendWS(t, conn, turnMsg("gpt-5.5", "after", ""))
	events := readTurn(t, conn)
	assert.Equal(t, "response.completed", gjson.Get(events[len(events)-1], "type").String())
	assert.Len(t, wsRecords(g.mock, http.MethodGet), 1, "the reload cut the upstream connection")
}

// wsGoroutines counts the goroutines running WebSocket code of the gateway
// or the mock, and returns their stacks.
func wsGoroutines() (int, string) {
	buf := make([]byte, 4<<20)
	all := string(buf[:runtime.Stack(buf, true)])
	n := 0
	var stacks []string
	for _, g := range strings.Split(all, "\n\n") {
		if strings.Contains(g, "github.com/coder/websocket.") ||
			strings.Contains(g, "cliproxy/executor.(*wsSession)") || strings.Contains(g, "cliproxy/executor.(*wsUpstream)") ||
			strings.Contains(g, "cliproxy/executor.(*bridge)") {
			n++
			stacks = append(stacks, g)
		}
	}
	return n, strings.Join(stacks, "\n\n")
}

func TestWebSocketSessionsLeaveNoGoroutines(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsPool})
	for i := range 10 {
		conn := g.mustDialWS(codexHeader("sess-leak"))
		sendWS(t, conn, turnMsg("gpt-5.5", "hi", ""))
		readTurn(t, conn)
		live, _ := wsGoroutines()
		require.Positive(t, live, "the count sees no session goroutines while a session is open")
		if i%2 == 0 {
			_ = conn.Close(websocket.StatusNormalClosure, "")
		} else {
			_ = conn.CloseNow() // the client vanishes
		}
	}
	var n int
	var stacks string
	ok := assert.Eventually(t, func() bool {
		n, stacks = wsGoroutines()
		return n == 0
	}, 10*time.Second, 50*time.Millisecond, "goroutines outlived their sessions")
	if !ok {
		t.Logf("%d goroutines left:\n%s", n, stacks)
	}
}
