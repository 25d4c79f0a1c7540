package telemetry_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

// One port serves RESP and HTTP: a RESP client reads the usage queue, an
// HTTP client gets its page, and a client that connects and says nothing
// holds neither back.
func TestMuxServesRESPAndHTTPOnOnePort(t *testing.T) {
	hub := telemetry.NewHub(0, 0)
	hub.Usage(record(1))

	ln, srv := listen(t, hub)
	mux := telemetry.NewMux(ln, srv)
	web := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "http here") }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = web.Serve(mux) }()
	t.Cleanup(func() { _ = web.Close() })
	addr := ln.Addr().String()

	silent, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer silent.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1})
	defer rdb.Close()
	got, err := rdb.LPopCount(ctx, "usage", 10).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"1"}, requestIDs(t, got))

	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "http here", string(body))

	// closing the listener ends the RESP connections too
	require.NoError(t, mux.Close())
	assert.Error(t, rdb.Ping(ctx).Err())
}
