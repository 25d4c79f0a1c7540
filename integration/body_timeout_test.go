package integration

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heapInUse is Go's heap in use as the admin endpoint's metrics report it
// (Caddy runs in this process), after a collection so garbage does not
// count.
func (g *gateway) heapInUse() float64 {
	g.t.Helper()
	runtime.GC()
	s := g.scrape()
	f := s.families["go_memstats_heap_inuse_bytes"]
	require.NotNil(g.t, f, "no go_memstats_heap_inuse_bytes on the admin metrics")
	return f.GetMetric()[0].GetGauge().GetValue()
}

// Clients that each declare a body of 31 MB and send one byte cost the
// gateway the bytes they sent, not the length they declared, and are
// answered 408 and dropped when body_read_timeout passes (the server sets
// no timeouts { read_body } here; Caddy's read_body_idle of 1 minute would
// drop them only later).
func TestSlowBodiesHoldNoMemoryAndTimeOut(t *testing.T) {
	const (
		conns    = 60
		declared = 31 << 20
		timeout  = 8 * time.Second
	)
	g := startGateway(t, gatewayOptions{Handler: poolConfig + fmt.Sprintf("\t\tbody_read_timeout %s\n", timeout)})
	before := g.heapInUse()

	head := "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nX-Api-Key: " + clientKey +
		"\r\nAnthropic-Version: 2023-06-01\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n{", declared)
	// the most the heap holds while the clients connect and the handlers
	// wait for the bodies
	var grown float64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			grown = max(grown, g.heapInUse()-before)
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	sent := time.Now()
	clients := make([]net.Conn, conns)
	for i := range clients {
		c, err := net.Dial("tcp", fmt.Sprintf("localhost:%d", gatewayPort))
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = c.Write([]byte(head))
		require.NoError(t, err)
		clients[i] = c
	}
	time.Sleep(2 * time.Second)
	close(stop)
	<-sampled
	t.Logf("heap in use grew by up to %.1f MB for %d bodies declared %d MB, sent 1 byte each", grown/1e6, conns, declared>>20)
	assert.Less(t, grown, 150e6, "the gateway reserved memory for bodies that never came")

	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if !assert.NoError(t, err, "client %d got no answer", i) {
				return
			}
			body, _ := readAll(res)
			assert.Equal(t, http.StatusRequestTimeout, res.StatusCode, "client %d: %s", i, body)
			assert.Contains(t, string(body), "request_timeout")
			assert.GreaterOrEqual(t, time.Since(sent), timeout-time.Second, "client %d was dropped before its time", i)
			// and the connection is closed
			one := make([]byte, 1)
			_, err = c.Read(one)
			assert.Error(t, err, "client %d: the connection stayed open", i)
		}()
	}
	wg.Wait()
	assert.Less(t, time.Since(sent), timeout+20*time.Second)
	assert.Empty(t, g.mock.Requests(), "a body that never came went upstream")
	assert.False(t, strings.Contains(g.logs(), "panic"), "a handler panicked")
}
