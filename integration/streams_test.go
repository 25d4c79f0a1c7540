package integration

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// A model that thinks for longer than the server's idle timeouts must not
// have its stream cut. The server's write_idle and read_body_idle are
// 250 ms here and the upstream is silent 700 ms between events, over HTTP/1.1
// and over HTTP/2 (where a stalled stream is reset by a timer).
func TestSilentStreamOutlivesWriteIdle(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := map[bool]string{false: "http1", true: "h2c"}[h2]
		t.Run(name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{
				Server:  "protocols h1 h2c\n timeouts {\n write_idle 250ms\n read_body_idle 250ms\n }",
				Handler: poolConfig,
			})
			if h2 {
				g.useH2C()
			}
			g.mock.SetFault("*", mockupstream.Fault{EventDelay: 700 * time.Millisecond})
			g.mock.SetReply("*", "slow thought")
			res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
			require.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, map[bool]int{false: 1, true: 2}[h2], res.ProtoMajor)
			assert.Equal(t, "slow thought", anthropicStreamText(t, body))
			assert.True(t, strings.HasSuffix(strings.TrimSpace(body), `{"type":"message_stop"}`), "stream was cut")
		})
	}
}

// SSE reaches the client event by event, not when the upstream finishes.
func TestSSEIsFlushedPerEvent(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	g.mock.SetFault("*", mockupstream.Fault{EventDelay: 300 * time.Millisecond})
	req, err := http.NewRequest(http.MethodPost, g.url("/v1/messages"), strings.NewReader(claudeBody))
	require.NoError(t, err)
	req.Header = anthropicHeader()
	start := time.Now()
	res, err := g.tester.Client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	require.NoError(t, err)
	firstEvent := time.Since(start)
	assert.Equal(t, "event: message_start\n", line)
	rest, _ := readAll(res)
	total := time.Since(start)
	assert.Contains(t, string(rest), "message_stop")
	// the stream has 9 events 300 ms apart: the first must arrive long
	// before the last
	assert.Less(t, firstEvent, total/2, "first event %v, whole stream %v", firstEvent, total)
}
