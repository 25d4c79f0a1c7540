package telemetry_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/redistest"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

const password = "mgmt-key-for-tests"

// backend admits the password, as the gateway's management guard does.
type backend struct{ hub *telemetry.Hub }

func (b backend) Authenticate(_ netip.Addr, pw string) error {
	if pw != password {
		return errors.New("WRONGPASS invalid username-password pair or user is disabled.")
	}
	return nil
}
func (b backend) Hub() *telemetry.Hub { return b.hub }

// listen opens a loopback port and a RESP server for hub that admits the
// password.
func listen(t *testing.T, hub *telemetry.Hub) (net.Listener, *telemetry.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv, err := telemetry.NewServer(telemetry.ServerOptions{
		Backend: func() (telemetry.Backend, error) { return backend{hub}, nil },
		Addr:    ln.Addr(),
	})
	require.NoError(t, err)
	return ln, srv
}

// serve runs a RESP server on a loopback port for hub and returns its
// address.
func serve(t *testing.T, hub *telemetry.Hub) string {
	t.Helper()
	ln, srv := listen(t, hub)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		assert.ErrorIs(t, <-served, net.ErrClosed, "Serve ends when its listener is closed")
		srv.Close()
	})
	return ln.Addr().String()
}

func record(i int) *telemetry.Record {
	return &telemetry.Record{Timestamp: telemetry.Time(time.Now()), Model: "m", RequestID: strconv.Itoa(i), Client: "alice"}
}

func requestIDs(t *testing.T, payloads []string) []string {
	t.Helper()
	var out []string
	for _, p := range payloads {
		var r struct {
			RequestID string `json:"request_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(p), &r), p)
		out = append(out, r.RequestID)
	}
	return out
}

func TestRESPRefusesWithoutTheKey(t *testing.T) {
	hub := telemetry.NewHub(0, 0)
	hub.Usage(record(1))
	addr := serve(t, hub)
	ctx := context.Background()

	anon := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer anon.Close()
	err := anon.LPop(ctx, "usage").Err()
	require.Error(t, err)
	assert.Equal(t, "NOAUTH Authentication required.", err.Error())

	wrong := redis.NewClient(&redis.Options{Addr: addr, Password: "nope"})
	defer wrong.Close()
	err = wrong.LPop(ctx, "usage").Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WRONGPASS")
	assert.Equal(t, 1, hub.Queue().Len(), "a refused collector pops nothing")

	ok := redis.NewClient(&redis.Options{Addr: addr, Password: password})
	defer ok.Close()
	got, err := ok.LPop(ctx, "usage").Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"1"}, requestIDs(t, []string{got}))

	// AUTH with a user name, as Redis 6 ACL clients send it
	acl := redis.NewClient(&redis.Options{Addr: addr, Username: "collector", Password: password})
	defer acl.Close()
	assert.Equal(t, "PONG", acl.Ping(ctx).Val())
}

func TestRESPPopsOldestWithLPOPAndRPOP(t *testing.T) {
	hub := telemetry.NewHub(0, 0)
	for i := 1; i <= 6; i++ {
		hub.Usage(record(i))
	}
	c := redis.NewClient(&redis.Options{Addr: serve(t, hub), Password: password})
	defer c.Close()
	ctx := context.Background()

	one, err := c.LPop(ctx, "usage").Result()
	require.NoError(t, err)
	two, err := c.RPop(ctx, "usage").Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2"}, requestIDs(t, []string{one, two}), "RPOP pops the oldest too")

	batch, err := c.RPopCount(ctx, "usage", 3).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"3", "4", "5"}, requestIDs(t, batch))
	batch, err = c.LPopCount(ctx, "usage", 10).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"6"}, requestIDs(t, batch), "a count past the queue gives what there is")

	assert.ErrorIs(t, c.LPop(ctx, "usage").Err(), redis.Nil, "empty: nil")
	assert.ErrorIs(t, c.LPopCount(ctx, "usage", 5).Err(), redis.Nil, "empty with a count: nil array")

	err = c.LPopCount(ctx, "usage", -1).Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "must be positive")
	err = c.LPop(ctx, "other").Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "'usage'")
	err = c.Get(ctx, "usage").Err()
	require.Error(t, err)
	assert.Equal(t, "ERR unknown command 'get'", err.Error())
}

func TestRESPSubscribe(t *testing.T) {
	hub := telemetry.NewHub(0, 0)
	c := redis.NewClient(&redis.Options{Addr: serve(t, hub), Password: password})
	defer c.Close()
	ctx := context.Background()
	ps := c.Subscribe(ctx, "usage", "errors")
	defer ps.Close()
	for range 2 {
		_, err := ps.ReceiveTimeout(ctx, 5*time.Second)
		require.NoError(t, err)
	}
	first, err := ps.ReceiveMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, telemetry.SupportRefresh, first.Payload, "a usage subscriber first learns the server supports refresh")

	hub.Usage(record(7))
	hub.Error(&telemetry.ErrorEvent{
		Model: "m", AuthIndex: "cred-a", StatusCode: 429, Retryable: true,
		AuthStatus: telemetry.AuthStatus{Status: telemetry.AuthCooldown, Unavailable: true},
	})
	msg, err := ps.ReceiveMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "usage", msg.Channel)
	assert.Equal(t, []string{"7"}, requestIDs(t, []string{msg.Payload}))
	msg, err = ps.ReceiveMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "errors", msg.Channel)
	assert.Contains(t, msg.Payload, `"status_code":429`)
	assert.Contains(t, msg.Payload, `"auth_status":{"status":"cooldown","unavailable":true}`)

	require.NoError(t, ps.Ping(ctx, "hi"))
	pong, err := ps.ReceiveTimeout(ctx, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, &redis.Pong{Payload: "hi"}, pong)

	require.NoError(t, ps.Unsubscribe(ctx, "usage"))
	_, err = ps.ReceiveTimeout(ctx, 5*time.Second)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return hub.Broker().Subscribers("usage") == 0 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, hub.Broker().Subscribers("errors"))
	assert.Equal(t, 1, hub.Queue().Len(), "subscribing does not pop: the record is still queued")
}

// A subscriber that reads nothing is disconnected once it falls behind,
// and the records keep flowing to the one that reads.
func TestRESPSlowSubscriberIsDisconnected(t *testing.T) {
	hub := telemetry.NewHub(0, 0)
	addr := serve(t, hub)
	slow, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer slow.Close()
	fmt.Fprintf(slow, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nusage\r\n", len(password), password)
	r := bufio.NewReader(slow)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "+OK\r\n", line)
	require.Eventually(t, func() bool { return hub.Broker().Subscribers("usage") == 1 }, 5*time.Second, 10*time.Millisecond)

	big := record(0)
	big.Model = strings.Repeat("m", 64<<10) // fills the socket buffers quickly
	dropped := make(chan int)
	go func() {
		// publishing goes on while nobody reads: were it to wait for the
		// subscriber, this loop would hang
		n := 0
		for hub.Broker().Subscribers("usage") > 0 && n < 20_000 {
			hub.Usage(big)
			n++
		}
		dropped <- n
	}()
	select {
	case n := <-dropped:
		require.Less(t, n, 20_000, "the subscriber that fell behind was never dropped")
	case <-time.After(2 * time.Minute):
		t.Fatal("publishing hangs on a subscriber that does not read")
	}
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(r)
	assert.NoError(t, err, "its connection was closed (EOF), not left hanging")
}

func TestRESPWithRedisCLI(t *testing.T) {
	cli := redistest.CLI(t)
	hub := telemetry.NewHub(0, 0)
	for i := 1; i <= 3; i++ {
		hub.Usage(record(i))
	}
	host, port, _ := net.SplitHostPort(serve(t, hub))
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(cli, append([]string{"-h", host, "-p", port, "--no-auth-warning"}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
		return strings.TrimSpace(string(out))
	}
	assert.Equal(t, "NOAUTH Authentication required.", run("LPOP", "usage"))
	assert.Contains(t, run("-a", "wrong", "LPOP", "usage"), "WRONGPASS")
	assert.Contains(t, run("-a", password, "LPOP", "usage"), `"request_id":"1"`)
	out := run("-a", password, "RPOP", "usage", "5")
	lines := strings.Split(out, "\n")
	require.Len(t, lines, 2, out)
	assert.Equal(t, []string{"2", "3"}, requestIDs(t, lines))
	assert.Empty(t, run("-a", password, "LPOP", "usage"), "nil prints nothing in raw mode")
	assert.Equal(t, "PONG", run("-a", password, "PING"))
	assert.Equal(t, "ERR unknown command 'FLUSHALL'", run("-a", password, "FLUSHALL"))

	// a subscriber through redis-cli sees the refresh notice, then a record
	cmd := exec.Command(cli, "-h", host, "-p", port, "--no-auth-warning", "-a", password, "SUBSCRIBE", "usage")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	require.Eventually(t, func() bool { return hub.Broker().Subscribers("usage") == 1 }, 5*time.Second, 10*time.Millisecond)
	hub.Usage(record(9))
	sc := bufio.NewScanner(stdout)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if strings.Contains(sc.Text(), `"request_id":"9"`) {
			break
		}
	}
	assert.Contains(t, seen, telemetry.SupportRefresh)
	assert.Contains(t, strings.Join(seen, "\n"), `"request_id":"9"`)
}

func TestRESPLimitsWhatAStrangerMaySend(t *testing.T) {
	addr := serve(t, telemetry.NewHub(0, 0))
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	// one command that never ends, bigger than anything a collector sends
	_, _ = fmt.Fprintf(c, "*2\r\n$4\r\nAUTH\r\n$%d\r\n", 1<<30)
	chunk := []byte(strings.Repeat("x", 32<<10))
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	var werr error
	for range 1024 {
		if _, werr = c.Write(chunk); werr != nil {
			break
		}
	}
	assert.Error(t, werr, "the server hung up instead of buffering 32 MiB from an unauthenticated client")
}
