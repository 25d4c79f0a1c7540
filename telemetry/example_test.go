package telemetry_test

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

// finished is a request as an executor reports it once it ended.
func finished(id string, start time.Time) *outcome.Request {
	return &outcome.Request{
		Start: start, Family: "anthropic", Endpoint: "/v1/messages", RequestID: id,
		Client: "alice", Provider: "claude", Credential: "claude-a", Model: "claude-sonnet-4-5",
		Status: 200, Attempts: 1, Latency: 1200 * time.Millisecond, FirstByte: 300 * time.Millisecond,
		Tokens: outcome.Tokens{Input: 12, Output: 3, CacheRead: 100},
	}
}

// requestID is the request_id of a usage record.
func requestID(payload []byte) string {
	var r telemetry.Record
	if err := json.Unmarshal(payload, &r); err != nil {
		return "not a record: " + err.Error()
	}
	return r.RequestID
}

// Record finished requests and failed attempts into a hub, as the gateway's
// executor does through outcome.Recorder, then read them back: as they
// happen from the channels, and later by popping the queue.
func ExampleHub() {
	hub := telemetry.NewHub(time.Minute, 1000) // keep records 1 min, at most 1000
	var rec outcome.Recorder = hub

	sub := hub.Broker().NewSubscriber()
	defer sub.Close()
	sub.Subscribe(telemetry.ChannelUsage)
	sub.Subscribe(telemetry.ChannelErrors)
	fmt.Println("first message:", string((<-sub.C).Payload))

	start := time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)
	rec.Failure(outcome.Failure{
		Time: start.Add(400 * time.Millisecond), Client: "alice", Provider: "claude", Model: "claude-sonnet-4-5",
		Credential: "claude-b", Status: 429, Attempt: 1, Message: "rate limited", Retryable: true,
		Blocked: "cooldown", Until: start.Add(time.Minute),
	})
	rec.Request(finished("req-1", start))
	rec.Request(finished("req-2", start.Add(time.Second)))

	for range 3 {
		m := <-sub.C
		fmt.Printf("%s: %s\n", m.Channel, m.Payload)
	}

	recs, err := hub.Pop(context.Background(), 10)
	if err != nil {
		panic(err)
	}
	fmt.Println("popped:", len(recs), "left:", hub.Queue().Len(), "dropped:", hub.Dropped())
	// Output:
	// first message: {"support_refresh":true}
	// errors: {"timestamp":"2026-05-01T09:30:00.400Z","provider":"claude","model":"claude-sonnet-4-5","auth_index":"claude-b","status_code":429,"retryable":true,"auth_status":{"status":"cooldown","unavailable":true,"next_retry_after":"2026-05-01T09:31:00.000Z"},"client":"alice","message":"rate limited"}
	// usage: {"timestamp":"2026-05-01T09:30:00.000Z","latency_ms":1200,"ttft_ms":300,"provider":"claude","model":"claude-sonnet-4-5","endpoint":"/v1/messages","auth_type":"api_key","auth_index":"claude-a","client":"alice","request_id":"req-1","failed":false,"tokens":{"input":12,"output":3,"reasoning":0,"cached":100,"cache_read":100,"cache_creation":0,"total":115},"status":200,"attempts":1,"finished_at":"2026-05-01T09:30:01.200Z"}
	// usage: {"timestamp":"2026-05-01T09:30:01.000Z","latency_ms":1200,"ttft_ms":300,"provider":"claude","model":"claude-sonnet-4-5","endpoint":"/v1/messages","auth_type":"api_key","auth_index":"claude-a","client":"alice","request_id":"req-2","failed":false,"tokens":{"input":12,"output":3,"reasoning":0,"cached":100,"cache_read":100,"cache_creation":0,"total":115},"status":200,"attempts":1,"finished_at":"2026-05-01T09:30:02.200Z"}
	// popped: 2 left: 0 dropped: 0
}

// collectorKey admits a collector that presents the key, from anywhere.
type collectorKey struct {
	key string
	hub *telemetry.Hub
}

func (c collectorKey) Authenticate(_ netip.Addr, password string) error {
	if subtle.ConstantTimeCompare([]byte(password), []byte(c.key)) != 1 {
		return errors.New("WRONGPASS invalid username-password pair or user is disabled.")
	}
	return nil
}

func (c collectorKey) Hub() *telemetry.Hub { return c.hub }

// Serve a hub's records over RESP, and read them the way a collector does,
// with a Redis client: LPOP from the usage queue, SUBSCRIBE to the
// channels. The server serves the connections of a listener of their own,
// as here, or those it is handed one by one with ServeConn: cliproxy picks
// them out of a port it shares with HTTP by their first byte
// (FirstByteIsRESP).
func ExampleServer() {
	hub := telemetry.NewHub(0, 0) // the default limits
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv, err := telemetry.NewServer(telemetry.ServerOptions{
		Backend: func() (telemetry.Backend, error) { return collectorKey{"collector-secret", hub}, nil },
		Addr:    ln.Addr(),
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	go srv.Serve(ln) // until ln is closed
	defer ln.Close()

	start := time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)
	hub.Request(finished("req-1", start))
	hub.Request(finished("req-2", start.Add(time.Second)))

	ctx := context.Background()
	collector := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), Password: "collector-secret"})
	defer collector.Close()
	recs, err := collector.LPopCount(ctx, telemetry.ChannelUsage, 100).Result()
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		fmt.Println("popped:", requestID([]byte(r)))
	}
	_, err = collector.LPop(ctx, telemetry.ChannelUsage).Result()
	fmt.Println("queue empty:", errors.Is(err, redis.Nil))

	ps := collector.Subscribe(ctx, telemetry.ChannelUsage)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription is in place
		panic(err)
	}
	msg, err := ps.ReceiveMessage(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("first message:", msg.Payload)
	hub.Request(finished("req-3", start.Add(2*time.Second)))
	msg, err = ps.ReceiveMessage(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(msg.Channel+":", requestID([]byte(msg.Payload)))
	// Output:
	// popped: req-1
	// popped: req-2
	// queue empty: true
	// first message: {"support_refresh":true}
	// usage: req-3
}
