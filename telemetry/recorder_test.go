package telemetry_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

// What the executor reports reaches a collector in the seed's field names:
// the record popped from the queue, the error event on the channel.
func TestHubRecordsTheExecutorsOutcomes(t *testing.T) {
	hub := telemetry.NewHub(0, 0)
	var rec outcome.Recorder = hub
	sub := hub.Broker().NewSubscriber()
	defer sub.Close()
	sub.Subscribe(telemetry.ChannelErrors)

	start := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	rec.Request(&outcome.Request{
		Start: start, Family: "anthropic", Endpoint: "/v1/messages", RequestID: "req-1-2",
		Client: "alice", Provider: "claude", Credential: "team-a", OAuth: true, Model: "claude-sonnet-4-5",
		Status: 529, Failed: true, Attempts: 2, Latency: 1500 * time.Millisecond, FirstByte: 200 * time.Millisecond,
		Tokens: outcome.Tokens{Input: 10, Output: 5, CacheRead: 100, CacheCreation: 20, Reasoning: 3},
	})
	got, err := hub.Pop(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	r := gjson.ParseBytes(got[0])
	assert.Equal(t, "2026-01-02T03:04:05.006Z", r.Get("timestamp").String())
	assert.Equal(t, "2026-01-02T03:04:06.506Z", r.Get("finished_at").String())
	assert.EqualValues(t, 1500, r.Get("latency_ms").Int())
	assert.EqualValues(t, 200, r.Get("ttft_ms").Int())
	assert.Equal(t, "/v1/messages", r.Get("endpoint").String())
	assert.Equal(t, "req-1-2", r.Get("request_id").String())
	assert.Equal(t, "oauth", r.Get("auth_type").String())
	assert.Equal(t, "team-a", r.Get("auth_index").String())
	assert.Equal(t, "alice", r.Get("client").String())
	assert.True(t, r.Get("failed").Bool())
	assert.EqualValues(t, 529, r.Get("fail.status_code").Int())
	assert.EqualValues(t, 3, r.Get("tokens.reasoning").Int())
	assert.EqualValues(t, 100, r.Get("tokens.cached").Int())
	assert.EqualValues(t, 135, r.Get("tokens.total").Int(), "Anthropic's input excludes the cache")

	until := start.Add(time.Minute)
	rec.Failure(outcome.Failure{
		Time: start, Client: "alice", Provider: "claude", Model: "claude-sonnet-4-5", Credential: "team-a",
		Status: 429, Attempt: 1, Retryable: true, Blocked: "cooldown", Until: until,
	})
	rec.Failure(outcome.Failure{Time: start, Model: "m", Status: 503, Code: "no_credentials", Retryable: true})
	select {
	case m := <-sub.C:
		e := gjson.ParseBytes(m.Payload)
		assert.Equal(t, "team-a", e.Get("auth_index").String())
		assert.EqualValues(t, 429, e.Get("status_code").Int())
		assert.True(t, e.Get("retryable").Bool())
		assert.Equal(t, "cooldown", e.Get("auth_status.status").String())
		assert.True(t, e.Get("auth_status.unavailable").Bool())
		assert.Equal(t, "2026-01-02T03:05:05.006Z", e.Get("auth_status.next_retry_after").String())
	case <-time.After(time.Second):
		t.Fatal("no error event")
	}
	select {
	case m := <-sub.C:
		e := gjson.ParseBytes(m.Payload)
		assert.Empty(t, e.Get("auth_index").String(), "the gateway's own answer")
		assert.Equal(t, "no_credentials", e.Get("code").String())
		assert.False(t, e.Get("auth_status.unavailable").Bool())
	case <-time.After(time.Second):
		t.Fatal("no error event")
	}
}
