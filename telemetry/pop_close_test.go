package telemetry_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

// slowShared is a shared queue whose pops wait until released, as a
// Redis that answers slowly; it holds nothing.
type slowShared struct{ popping, release chan struct{} }

func (q *slowShared) Up() bool            { return true }
func (q *slowShared) PushUsage([]byte)    {}
func (q *slowShared) PublishError([]byte) {}
func (q *slowShared) PopUsage(ctx context.Context, _ int) ([][]byte, error) {
	close(q.popping)
	<-q.release
	return nil, nil
}

// Records popped for a collector whose connection closes before the reply
// is written (the server closing for a config reload) go back to the queue:
// the next pop gets them.
func TestRecordsOfAPopCutShortAreKept(t *testing.T) {
	hub := telemetry.NewHub(time.Hour, 100)
	for i := range 3 {
		hub.Usage(record(i))
	}
	shared := &slowShared{popping: make(chan struct{}), release: make(chan struct{})}
	hub.SetShared(shared)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	srv, err := telemetry.NewServer(telemetry.ServerOptions{
		Backend: func() (telemetry.Backend, error) { return backend{hub}, nil },
		Addr:    ln.Addr(),
	})
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*3\r\n$4\r\nLPOP\r\n$5\r\nusage\r\n$2\r\n10\r\n", len(password), password)

	// the three local records are popped; the shared queue is being asked
	// for more when the server closes
	<-shared.popping
	assert.Zero(t, hub.Queue().Len())
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	time.Sleep(50 * time.Millisecond)
	close(shared.release)
	<-closed
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	got, _ := bufio.NewReader(conn).ReadString('\n')
	require.NotContains(t, got, "*3", "the reply was written after all")

	// the connection's goroutine ends after the server closed
	require.Eventually(t, func() bool { return hub.Queue().Len() > 0 }, time.Second, time.Millisecond,
		"records popped for a reply that was never written were lost")
	hub.SetShared(nil)
	recs, err := hub.Pop(context.Background(), 10)
	require.NoError(t, err)
	var ids []string
	for _, r := range recs {
		ids = append(ids, string(r))
	}
	assert.Equal(t, []string{"0", "1", "2"}, requestIDs(t, ids))
}
