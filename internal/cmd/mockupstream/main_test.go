package main

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

func TestMockLogsWithoutRevealingKeys(t *testing.T) {
	const secret = "sk-ant-api03-super-secret-value"
	var logs bytes.Buffer
	srv := newMock("Configured reply.", 0, log.New(&logs, "", 0))
	ts := httptest.NewServer(srv)
	defer ts.Close()

	req, err := http.NewRequest("POST", ts.URL+"/v1/messages", strings.NewReader(`{"model":"claude-log","max_tokens":5,"messages":[]}`))
	require.NoError(t, err)
	req.Header.Set("x-api-key", secret)
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	assert.Equal(t, "Configured reply.", gjson.GetBytes(body, "content.0.text").String())
	line := logs.String()
	assert.Contains(t, line, "POST /v1/messages")
	assert.Contains(t, line, "provider=anthropic")
	assert.Contains(t, line, "model=claude-log")
	assert.Contains(t, line, "key=")
	assert.NotContains(t, line, secret)
	assert.NotContains(t, line, secret[:12])
}

func TestEventDelayFlag(t *testing.T) {
	srv := newMock("", 20*time.Millisecond, log.New(io.Discard, "", 0))
	ts := httptest.NewServer(srv)
	defer ts.Close()

	req, err := http.NewRequest("POST", ts.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","stream":true}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer k")
	began := time.Now()
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	_, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.GreaterOrEqual(t, time.Since(began), 60*time.Millisecond)
}
