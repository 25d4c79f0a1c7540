package management_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/pool"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// The dashboard charts GET usage/timeline?minutes=60: per credential and
// per member, the minutes that saw a request, inside [from, to).
func TestTimelineEndpointChartsTheLastMinutes(t *testing.T) {
	a := newAPI(t, "claude-a", "claude-b")
	u := a.state.Usage()
	u.Request(&outcome.Request{Credential: "claude-a", Client: "alice", Status: 200, Tokens: outcome.Tokens{Input: 12, Output: 4}})
	u.Request(&outcome.Request{Credential: "claude-a", Client: "bob", Status: 529})
	u.Request(&outcome.Request{Client: "bob", Status: 429}) // no credential answered

	status, body := a.do(http.MethodGet, "usage/timeline?minutes=60", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.EqualValues(t, 60, gjson.Get(body, "bucket_seconds").Int())
	from, to := gjson.Get(body, "from").Time(), gjson.Get(body, "to").Time()
	assert.Equal(t, time.Hour, to.Sub(from), "sixty minutes, the current one last")
	assert.WithinDuration(t, time.Now(), to, time.Minute)

	buckets := gjson.Get(body, "credentials.claude-a").Array()
	require.Len(t, buckets, 1, body)
	start := buckets[0].Get("start").Time()
	assert.False(t, start.Before(from))
	assert.True(t, start.Before(to))
	assert.EqualValues(t, 2, buckets[0].Get("requests").Int())
	assert.EqualValues(t, 1, buckets[0].Get("errors").Int())
	assert.EqualValues(t, 12, buckets[0].Get("tokens.input").Int())
	assert.EqualValues(t, 4, buckets[0].Get("tokens.output").Int())
	assert.False(t, gjson.Get(body, "credentials.claude-b").Exists(), "a credential without requests has no series")
	assert.EqualValues(t, 2, gjson.Get(body, "members.bob.0.requests").Int(), "the member's series counts the request no credential answered")
	assert.EqualValues(t, 2, gjson.Get(body, "members.bob.0.errors").Int())

	// without ?minutes=, the last hour
	status, body = a.do(http.MethodGet, "usage/timeline", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, time.Hour, gjson.Get(body, "to").Time().Sub(gjson.Get(body, "from").Time()))

	status, body = a.do(http.MethodGet, "usage/timeline?minutes=5", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, 5*time.Minute, gjson.Get(body, "to").Time().Sub(gjson.Get(body, "from").Time()))
	status, body = a.do(http.MethodGet, "usage/timeline?minutes=1440", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, management.TimelineRetention, gjson.Get(body, "to").Time().Sub(gjson.Get(body, "from").Time()), "a whole day may be asked for")
}

func TestTimelineEndpointRefusesBadSpans(t *testing.T) {
	a := newAPI(t, "claude-a")
	for _, minutes := range []string{"0", "-1", "1441", "x", "1.5", "60m"} {
		status, body := a.do(http.MethodGet, "usage/timeline?minutes="+minutes, "")
		assert.Equal(t, http.StatusBadRequest, status, minutes)
		assert.Equal(t, management.CodeBadRequest, errCode(body), minutes)
		assert.Equal(t, "minutes must be an integer from 1 to 1440", gjson.Get(body, "error").String(), minutes)
	}
	status, body := a.do(http.MethodPost, "usage/timeline", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	assert.Equal(t, management.CodeMethodNotAllowed, errCode(body))
	status, _ = a.do(http.MethodGet, "usage/timeline/x", "")
	assert.Equal(t, http.StatusNotFound, status)
}

// queueRequest finishes one request into the pool's usage queue, as the
// executor's telemetry recorder does.
func queueRequest(st *pool.State, id int) {
	st.Telemetry.Request(&outcome.Request{
		RequestID: strconv.Itoa(id), Provider: "claude", Credential: "claude-a", Model: "claude-opus-4", Client: "alice",
		Status: 200, Start: time.Now(), Tokens: outcome.Tokens{Input: 3},
	})
}

func poppedIDs(t *testing.T, body string) []string {
	t.Helper()
	var recs []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(body), &recs), body)
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		ids = append(ids, gjson.GetBytes(r, "request_id").String())
	}
	return ids
}

// GET usage-queue pops the oldest records, as RESP's LPOP does, for
// collectors that speak HTTP.
func TestUsageQueueEndpointPopsTheOldest(t *testing.T) {
	a := newAPI(t, "claude-a")
	status, body := a.do(http.MethodGet, "usage-queue", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.JSONEq(t, `[]`, body, "an empty queue is an empty array, not null")

	for i := 1; i <= 4; i++ {
		queueRequest(a.state, i)
	}
	status, body = a.do(http.MethodGet, "usage-queue", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, []string{"1"}, poppedIDs(t, body), "one record without ?count=")
	rec := gjson.Get(body, "0")
	assert.Equal(t, "claude-opus-4", rec.Get("model").String())
	assert.Equal(t, "alice", rec.Get("client").String())

	status, body = a.do(http.MethodGet, "usage-queue?count=10", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, []string{"2", "3", "4"}, poppedIDs(t, body))
	_, body = a.do(http.MethodGet, "usage-queue?count=10", "")
	assert.JSONEq(t, `[]`, body, "popped records are gone")

	for _, count := range []string{"0", "-3", "10001", "many"} {
		status, body := a.do(http.MethodGet, "usage-queue?count="+count, "")
		assert.Equal(t, http.StatusBadRequest, status, count)
		assert.Equal(t, "count must be an integer from 1 to 10000", gjson.Get(body, "error").String(), count)
	}
	status, _ = a.do(http.MethodDelete, "usage-queue", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	status, _ = a.do(http.MethodGet, "usage-queue/1", "")
	assert.Equal(t, http.StatusNotFound, status)
}

// unreadableQueue is a pool whose usage queue cannot be read (its Redis
// is gone and the error names the URL).
type unreadableQueue struct{ management.Backend }

func (unreadableQueue) PopUsage(context.Context, int) ([]json.RawMessage, error) {
	return nil, errors.New("dial tcp: redis://default:hunter2@cache:6379 refused")
}

func TestUsageQueueEndpointWhenTheQueueIsUnavailable(t *testing.T) {
	a := newAPI(t, "claude-a")
	r, err := http.NewRequest(http.MethodGet, "/cliproxy/usage-queue", nil)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	management.Serve(rec, r, unreadableQueue{a.state}, "usage-queue")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, management.CodeInternal, errCode(rec.Body.String()))
	assert.Equal(t, "the usage queue is unavailable", gjson.Get(rec.Body.String(), "error").String())
	assert.NotContains(t, rec.Body.String(), "hunter2", "the cause, which may name a secret, stays out of the answer")
}

// The dashboard shows the strategy and the session affinity settings of
// the pool's newest member.
func TestStrategyShowsTheNewestMembersAffinity(t *testing.T) {
	a := newAPI(t, "claude-a")
	_, body := a.do(http.MethodGet, "strategy", "")
	assert.JSONEq(t, `{"enabled":false,"ttl_seconds":0,"subagents":""}`, gjson.Get(body, "affinity").Raw)

	sw, err := a.state.Selector(selector.FillFirst)
	require.NoError(t, err)
	newer := &pool.Member{
		Pool: a.m.current, Strategy: selector.FillFirst, Selector: sw, Changed: func(string) {},
		Affinity: management.Affinity{Enabled: true, TTLSeconds: 1800, Subagents: "separate"},
	}
	a.state.Register(newer)
	t.Cleanup(func() { a.state.Unregister(newer) })

	status, body := a.do(http.MethodGet, "strategy", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, selector.FillFirst, gjson.Get(body, "strategy").String())
	assert.Equal(t, selector.FillFirst, gjson.Get(body, "configured").String())
	assert.JSONEq(t, `{"enabled":true,"ttl_seconds":1800,"subagents":"separate"}`, gjson.Get(body, "affinity").Raw)
}

// Every answer the dashboard reads is JSON it must not cache.
func TestAnswersAreUncachedJSON(t *testing.T) {
	a := newAPI(t, "claude-a")
	for _, path := range []string{"", "credentials", "usage", "usage/timeline", "sessions", "strategy", "usage-queue", "nope"} {
		rec := a.serve(http.MethodGet, path, "")
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"), path)
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"), path)
		assert.True(t, json.Valid(rec.Body.Bytes()), path)
	}
}
