package mockupstream

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRouting(t *testing.T) {
	cases := []struct {
		method, path string
		headers      []string
		provider     string
		status       int
	}{
		{"POST", "/v1/messages", nil, "anthropic", 200},
		{"POST", "/anthropic/v1/messages?beta=true", nil, "anthropic", 200},
		{"POST", "/v1/messages/count_tokens", nil, "anthropic", 200},
		{"POST", "/compat/v1/chat/completions", nil, "openai-chat", 200},
		{"POST", "/v1/completions", nil, "openai-completions", 200},
		{"POST", "/v1/embeddings", []string{}, "openai-embeddings", 400}, // no "input"
		{"POST", "/openai/v1/responses", nil, "openai-responses", 200},
		{"GET", "/v1/models", nil, "openai-models", 200},
		{"GET", "/v1/models", []string{"anthropic-version", "2023-06-01"}, "anthropic-models", 200},
		{"GET", "/v1beta/models", nil, "gemini-models", 200},
		{"GET", "/v1beta/models/gemini-2.5-flash", nil, "gemini-models", 200},
		{"POST", "/v1beta/models/gemini-2.5-flash:generateContent", nil, "gemini", 200},
		{"POST", "/v1beta/models/gemini-2.5-flash:embedContent", nil, "unknown", 404},
		{"POST", "/v1/somewhere", nil, "unknown", 404},
		{"GET", "/v1/messages", nil, "anthropic", 405},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			m, ts := start(t)
			h := append([]string{"Authorization", "Bearer k"}, tc.headers...)
			body := ""
			if tc.method == "POST" {
				body = `{"model":"m","contents":[]}`
			}
			resp := send(t, ts, tc.method, tc.path, body, h...)
			js := string(readAll(t, resp))
			assert.Equal(t, tc.status, resp.StatusCode, js)
			require.Len(t, m.Requests(), 1)
			assert.Equal(t, tc.provider, m.Requests()[0].Provider)
			if tc.status == 404 {
				assert.NotEmpty(t, field(js, "error.message").String())
			}
		})
	}
}

func TestNoKeyIs401InProviderShape(t *testing.T) {
	_, ts := start(t)
	resp := send(t, ts, "POST", "/v1/messages", `{"model":"m"}`)
	require.Equal(t, 401, resp.StatusCode)
	js := string(readAll(t, resp))
	assert.Equal(t, "authentication_error", field(js, "error.type").String())

	resp = send(t, ts, "POST", "/v1/chat/completions", `{"model":"m"}`)
	require.Equal(t, 401, resp.StatusCode)
	js = string(readAll(t, resp))
	assert.Equal(t, "invalid_api_key", field(js, "error.code").String())

	resp = send(t, ts, "POST", "/v1beta/models/g:generateContent", `{}`)
	require.Equal(t, 401, resp.StatusCode)
	js = string(readAll(t, resp))
	assert.Equal(t, "UNAUTHENTICATED", field(js, "error.status").String())
	assert.Equal(t, int64(401), field(js, "error.code").Int())
}

func TestBadBodies(t *testing.T) {
	_, ts := start(t)
	resp := send(t, ts, "POST", "/v1/messages", `{not json`, "x-api-key", "k")
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, "invalid_request_error", field(string(readAll(t, resp)), "error.type").String())

	resp = send(t, ts, "POST", "/v1/chat/completions", `{"messages":[]}`, "Authorization", "Bearer k")
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, "invalid_request_error", field(string(readAll(t, resp)), "error.type").String())

	resp = send(t, ts, "POST", "/v1beta/models/g:generateContent", `[`, "x-goog-api-key", "k")
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, "INVALID_ARGUMENT", field(string(readAll(t, resp)), "error.status").String())
}

func TestCompressedBodies(t *testing.T) {
	plain := []byte(`{"model":"claude-zip","stream":true,"max_tokens":5,"messages":[]}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(plain)
	require.NoError(t, zw.Close())
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	zs := enc.EncodeAll(plain, nil)
	require.NoError(t, enc.Close())

	for _, tc := range []struct {
		encoding string
		body     []byte
	}{{"gzip", gz.Bytes()}, {"zstd", zs}} {
		t.Run(tc.encoding, func(t *testing.T) {
			m, ts := start(t)
			resp := send(t, ts, "POST", "/v1/messages", string(tc.body), "x-api-key", "k", "Content-Encoding", tc.encoding)
			require.Equal(t, 200, resp.StatusCode)
			events, err := parseSSE(resp.Body)
			require.NoError(t, err)
			checkAnthropicStream(t, events, "claude-zip", "Hello from the mock anthropic upstream.")
			rec := m.Requests()[0]
			assert.Equal(t, tc.body, rec.Body, "raw bytes kept")
			assert.Equal(t, plain, rec.DecodedBody)
			assert.Equal(t, "claude-zip", rec.Model)
			assert.True(t, rec.Stream)
		})
	}

	_, ts := start(t)
	resp := send(t, ts, "POST", "/v1/messages", "xx", "x-api-key", "k", "Content-Encoding", "br")
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	resp = send(t, ts, "POST", "/v1/messages", "not gzip", "x-api-key", "k", "Content-Encoding", "gzip")
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
}

func TestRecording(t *testing.T) {
	m, ts := start(t)
	var seen []string
	var mu sync.Mutex
	m.OnRequest(func(r Recorded) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Provider)
	})
	body := `{"model":"claude-rec","max_tokens":5,"stream":true,"messages":[]}`
	_ = readAll(t, send(t, ts, "POST", "/p/v1/messages?beta=true", body, "x-api-key", "ka", "anthropic-beta", "b1"))
	_ = readAll(t, send(t, ts, "POST", "/v1/chat/completions", `{"model":"gpt-rec"}`, "Authorization", "Bearer kb"))
	_ = readAll(t, send(t, ts, "POST", "/v1beta/models/gem-rec:countTokens?key=kc", `{}`))

	reqs := m.Requests()
	require.Len(t, reqs, 3)
	a := reqs[0]
	assert.Equal(t, "anthropic", a.Provider)
	assert.Equal(t, "POST", a.Method)
	assert.Equal(t, "/p/v1/messages", a.Path)
	assert.Equal(t, "beta=true", a.RawQuery)
	assert.Equal(t, strings.TrimPrefix(ts.URL, "http://"), a.Host)
	assert.Equal(t, "b1", a.Header.Get("anthropic-beta"))
	assert.Equal(t, body, string(a.Body))
	assert.Equal(t, "ka", a.Key)
	assert.Equal(t, "claude-rec", a.Model)
	assert.True(t, a.Stream)
	assert.False(t, a.Time.IsZero())
	assert.False(t, reqs[1].Stream)
	assert.Equal(t, "gem-rec", reqs[2].Model)
	assert.True(t, !reqs[1].Time.Before(a.Time))

	assert.Len(t, m.RequestsFor("kb"), 1)
	assert.Equal(t, "openai-chat", m.RequestsFor("kb")[0].Provider)
	assert.Empty(t, m.RequestsFor("nobody"))
	mu.Lock()
	assert.Equal(t, []string{"anthropic", "openai-chat", "gemini"}, seen)
	mu.Unlock()

	reqs[0].Header.Set("anthropic-beta", "changed")
	assert.Equal(t, "b1", m.Requests()[0].Header.Get("anthropic-beta"), "Requests returns copies of headers too")

	m.SetFault("*", Fault{Status: 500})
	m.SetReply("*", "custom")
	m.Reset()
	assert.Empty(t, m.Requests())
	resp := send(t, ts, "POST", "/v1/chat/completions", `{"model":"m"}`, "Authorization", "Bearer kb")
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "Hello from the mock openai upstream.", field(string(readAll(t, resp)), "choices.0.message.content").String())
}

func TestPerKeyReplies(t *testing.T) {
	m, ts := start(t)
	m.SetReply("*", "everyone")
	m.SetReply("vip", "just you")
	get := func(key string) string {
		return field(string(readAll(t, send(t, ts, "POST", "/v1/chat/completions", `{"model":"m"}`, "Authorization", "Bearer "+key))),
			"choices.0.message.content").String()
	}
	assert.Equal(t, "just you", get("vip"))
	assert.Equal(t, "everyone", get("other"))
}

func TestConcurrentUse(t *testing.T) {
	m, ts := start(t)
	m.SetFault("*", Fault{Status: 429, Times: 10})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", ts.URL+"/v1/messages", strings.NewReader(`{"model":"m","stream":true}`))
			req.Header.Set("x-api-key", "k"+string(rune('a'+i%5)))
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = parseSSE(resp.Body)
			_ = resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
		if i%7 == 0 {
			_ = m.Requests()
		}
	}
	wg.Wait()
	assert.Equal(t, map[int]int{429: 10, 200: 30}, codes)
	assert.Len(t, m.Requests(), 40)
}

func TestRequestLogLimitKeepsTheNewest(t *testing.T) {
	s := New()
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.SetRequestLogLimit(2)
	for _, key := range []string{"k1", "k2", "k3"} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		req.Header.Set("X-Api-Key", key)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
	}
	var keys []string
	for _, r := range s.Requests() {
		keys = append(keys, r.Key)
	}
	assert.Equal(t, []string{"k2", "k3"}, keys)
}
