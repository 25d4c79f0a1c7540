package mockupstream

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endpoint is one generation API the fault tests exercise.
type endpoint struct {
	name, path, body, stream string // stream: the streaming path+body, "path|body"
	headers                  []string
}

func endpoints(key string) []endpoint {
	return []endpoint{
		{
			name: "anthropic", path: "/v1/messages", body: `{"model":"claude-x","max_tokens":9,"messages":[]}`,
			stream:  "/v1/messages|" + `{"model":"claude-x","max_tokens":9,"stream":true,"messages":[]}`,
			headers: []string{"x-api-key", key},
		},
		{
			name: "openai-chat", path: "/v1/chat/completions", body: `{"model":"gpt-x","messages":[]}`,
			stream:  "/v1/chat/completions|" + `{"model":"gpt-x","stream":true,"messages":[]}`,
			headers: []string{"Authorization", "Bearer " + key},
		},
		{
			name: "openai-responses", path: "/v1/responses", body: `{"model":"gpt-x","input":"hi"}`,
			stream:  "/v1/responses|" + `{"model":"gpt-x","stream":true,"input":"hi"}`,
			headers: []string{"Authorization", "Bearer " + key},
		},
		{
			name: "gemini", path: "/v1beta/models/gemini-x:generateContent", body: `{"contents":[]}`,
			stream:  "/v1beta/models/gemini-x:streamGenerateContent?alt=sse|" + `{"contents":[]}`,
			headers: []string{"x-goog-api-key", key},
		},
	}
}

func (e endpoint) streamReq() (string, string) {
	p, b, _ := strings.Cut(e.stream, "|")
	return p, b
}

func TestFaultStatusShapes(t *testing.T) {
	statuses := []struct {
		status                        int
		anthropic, openaiType, gemini string
		openaiCode                    string // raw JSON
	}{
		{400, "invalid_request_error", "invalid_request_error", "INVALID_ARGUMENT", "null"},
		{401, "authentication_error", "invalid_request_error", "UNAUTHENTICATED", `"invalid_api_key"`},
		{403, "permission_error", "invalid_request_error", "PERMISSION_DENIED", `"unsupported_country_region_territory"`},
		{404, "not_found_error", "invalid_request_error", "NOT_FOUND", `"model_not_found"`},
		{413, "request_too_large", "invalid_request_error", "INVALID_ARGUMENT", "null"},
		{429, "rate_limit_error", "rate_limit_exceeded", "RESOURCE_EXHAUSTED", `"rate_limit_exceeded"`},
		{500, "api_error", "server_error", "INTERNAL", "null"},
		{503, "api_error", "server_error", "UNAVAILABLE", "null"},
		{529, "overloaded_error", "server_error", "INTERNAL", "null"},
	}
	m, ts := start(t)
	for _, st := range statuses {
		for _, ep := range endpoints("kf") {
			t.Run(ep.name+"/"+http.StatusText(st.status), func(t *testing.T) {
				m.SetFault("kf", Fault{Status: st.status, RetryAfter: "7", Headers: map[string]string{"X-Mock": "yes"}})
				for _, stream := range []bool{false, true} {
					path, body := ep.path, ep.body
					if stream {
						path, body = ep.streamReq()
					}
					resp := send(t, ts, "POST", path, body, ep.headers...)
					require.Equal(t, st.status, resp.StatusCode)
					assert.Equal(t, "7", resp.Header.Get("Retry-After"))
					assert.Equal(t, "yes", resp.Header.Get("X-Mock"))
					assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"))
					js := string(readAll(t, resp))
					switch ep.name {
					case "anthropic":
						assert.Equal(t, "error", field(js, "type").String())
						assert.Equal(t, st.anthropic, field(js, "error.type").String())
						assert.NotEmpty(t, field(js, "error.message").String())
						assert.Equal(t, resp.Header.Get("request-id"), field(js, "request_id").String())
						assert.True(t, strings.HasPrefix(resp.Header.Get("request-id"), "req_"))
					case "gemini":
						assert.Equal(t, int64(st.status), field(js, "error.code").Int())
						assert.Equal(t, st.gemini, field(js, "error.status").String())
						assert.NotEmpty(t, field(js, "error.message").String())
					default:
						assert.Equal(t, st.openaiType, field(js, "error.type").String())
						assert.Equal(t, st.openaiCode, field(js, "error.code").Raw)
						assert.Equal(t, "null", field(js, "error.param").Raw)
						assert.NotEmpty(t, field(js, "error.message").String())
						assert.True(t, strings.HasPrefix(resp.Header.Get("x-request-id"), "req_"))
					}
				}
			})
		}
	}
}

func TestFaultTimesAndPrecedence(t *testing.T) {
	m, ts := start(t)
	chat := func(key string) int {
		resp := send(t, ts, "POST", "/v1/chat/completions", `{"model":"m"}`, "Authorization", "Bearer "+key)
		_ = readAll(t, resp)
		return resp.StatusCode
	}
	m.SetFault("a", Fault{Status: 429, Times: 2})
	m.SetFault("*", Fault{Status: 503})
	m.SetFault("b", Fault{}) // an explicit no-op fault shields b from "*"

	assert.Equal(t, []int{429, 429, 503, 503}, []int{chat("a"), chat("a"), chat("a"), chat("a")}, "Times countdown, then the wildcard")
	assert.Equal(t, 200, chat("b"))
	assert.Equal(t, 503, chat("c"))

	m.SetFault("*", Fault{Status: 500, Times: 1})
	assert.Equal(t, []int{500, 200}, []int{chat("c"), chat("c")})

	m.SetFault("c", Fault{Status: 401})
	m.ClearFaults()
	assert.Equal(t, 200, chat("c"))
}

func TestFaultBodyAndHeaders(t *testing.T) {
	m, ts := start(t)
	m.SetFault("k", Fault{Status: 418, Body: "teapot says no", Times: 1})
	resp := send(t, ts, "POST", "/v1/messages", `{"model":"x"}`, "x-api-key", "k")
	assert.Equal(t, 418, resp.StatusCode)
	assert.Equal(t, "teapot says no", string(readAll(t, resp)))

	m.SetFault("k", Fault{Body: `{"not":"a message"}`, Times: 1})
	resp = send(t, ts, "POST", "/v1/messages", `{"model":"x"}`, "x-api-key", "k")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, `{"not":"a message"}`, string(readAll(t, resp)))

	m.SetFault("k", Fault{Headers: map[string]string{"anthropic-ratelimit-requests-remaining": "0"}})
	resp = send(t, ts, "POST", "/v1/messages", `{"model":"x"}`, "x-api-key", "k")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "0", resp.Header.Get("anthropic-ratelimit-requests-remaining"))
	assert.Equal(t, "message", field(string(readAll(t, resp)), "type").String())
}

func TestFaultResetAfter(t *testing.T) {
	m, ts := start(t)
	for _, ep := range endpoints("kr") {
		for _, n := range []int{1, 3} {
			t.Run(ep.name, func(t *testing.T) {
				m.SetFault("kr", Fault{ResetAfter: n})
				path, body := ep.streamReq()
				resp := send(t, ts, "POST", path, body, ep.headers...)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				events, err := parseSSE(resp.Body)
				require.ErrorIs(t, err, io.ErrUnexpectedEOF)
				assert.Len(t, events, n)
			})
		}
	}

	// Gemini's array stream counts array elements.
	m.SetFault("kr", Fault{ResetAfter: 2})
	resp := send(t, ts, "POST", "/v1beta/models/g:streamGenerateContent", `{}`, "x-goog-api-key", "kr")
	b, err := io.ReadAll(resp.Body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.True(t, strings.HasPrefix(string(b), "[{"))
	assert.Equal(t, 1, strings.Count(string(b), ",\r\n{"))

	// A stream shorter than ResetAfter completes normally.
	m.SetFault("kr", Fault{ResetAfter: 1000})
	resp = send(t, ts, "POST", "/v1/messages", `{"model":"x","stream":true}`, "x-api-key", "kr")
	events, err := parseSSE(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "message_stop", events[len(events)-1].Name)
}

func TestFaultDelays(t *testing.T) {
	m, ts := start(t)
	const first, gap = 150 * time.Millisecond, 25 * time.Millisecond
	m.SetFault("kd", Fault{FirstByteDelay: first, EventDelay: gap})
	for _, ep := range endpoints("kd") {
		t.Run(ep.name, func(t *testing.T) {
			path, body := ep.streamReq()
			began := time.Now()
			resp := send(t, ts, "POST", path, body, ep.headers...)
			assert.GreaterOrEqual(t, time.Since(began), first, "headers wait FirstByteDelay")
			began = time.Now()
			events, err := parseSSE(resp.Body)
			require.NoError(t, err)
			require.Greater(t, len(events), 2)
			assert.GreaterOrEqual(t, time.Since(began), time.Duration(len(events)-1)*gap, "events spaced by EventDelay")
		})
	}
}

func TestFirstByteDelayHonoursClientCancel(t *testing.T) {
	m, ts := start(t)
	m.SetFault("*", Fault{FirstByteDelay: time.Minute})
	client := ts.Client()
	client.Timeout = 100 * time.Millisecond
	req, err := http.NewRequest("POST", ts.URL+"/v1/messages", strings.NewReader(`{"model":"x"}`))
	require.NoError(t, err)
	req.Header.Set("x-api-key", "k")
	began := time.Now()
	_, err = client.Do(req)
	require.Error(t, err)
	assert.Less(t, time.Since(began), 10*time.Second)
}

// InvalidKey answers in each provider's own shape for a key it refuses;
// Gemini's is a 400 told from a bad request only by its ErrorInfo reason.
func TestFaultInvalidKeyShapes(t *testing.T) {
	const key = "sk-proj-refused-key-wxyz"
	m, ts := start(t)
	m.SetFault(key, Fault{InvalidKey: true})
	for _, ep := range endpoints(key) {
		for _, stream := range []bool{false, true} {
			path, body := ep.path, ep.body
			if stream {
				path, body = ep.streamReq()
			}
			resp := send(t, ts, "POST", path, body, ep.headers...)
			js := string(readAll(t, resp))
			switch ep.name {
			case "anthropic":
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				assert.Equal(t, "authentication_error", field(js, "error.type").String())
				assert.Equal(t, "invalid x-api-key", field(js, "error.message").String())
			case "gemini":
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
				assert.Equal(t, "INVALID_ARGUMENT", field(js, "error.status").String())
				assert.Equal(t, "type.googleapis.com/google.rpc.ErrorInfo", field(js, "error.details.0.@type").String())
				assert.Equal(t, "API_KEY_INVALID", field(js, "error.details.0.reason").String())
				assert.Equal(t, "generativelanguage.googleapis.com", field(js, "error.details.0.metadata.service").String())
			default:
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				assert.Equal(t, "invalid_api_key", field(js, "error.code").String())
				msg := field(js, "error.message").String()
				assert.Contains(t, msg, "Incorrect API key provided: sk-")
				assert.Contains(t, msg, "wxyz")
				assert.NotContains(t, msg, key)
			}
		}
	}
	// the JSON-array stream of Gemini reports it as its one element
	resp := send(t, ts, "POST", "/v1beta/models/gemini-x:streamGenerateContent", `{"contents":[]}`, "x-goog-api-key", key)
	js := string(readAll(t, resp))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "API_KEY_INVALID", field(js, "0.error.details.0.reason").String(), js)
}

// Stall sends the 200 headers at once and then nothing for its duration:
// before the first event of a stream or the body of a JSON answer, and
// after the error event of a StreamError.
func TestFaultStall(t *testing.T) {
	const stall = 300 * time.Millisecond
	m, ts := start(t)
	for _, ep := range endpoints("ks") {
		for _, f := range []Fault{{Stall: stall}, {Stall: stall, StreamError: "overloaded_error"}} {
			for _, stream := range []bool{false, true} {
				if f.StreamError != "" && !stream {
					continue
				}
				m.SetFault("ks", f)
				path, body := ep.path, ep.body
				if stream {
					path, body = ep.streamReq()
				}
				began := time.Now()
				resp := send(t, ts, "POST", path, body, ep.headers...)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Less(t, time.Since(began), stall, "%s: the headers waited for the stall", ep.name)
				first := make([]byte, 1)
				_, err := io.ReadFull(resp.Body, first)
				require.NoError(t, err)
				if f.StreamError == "" {
					assert.GreaterOrEqual(t, time.Since(began), stall, "%s: the first byte did not wait for the stall", ep.name)
				} else {
					assert.Less(t, time.Since(began), stall, "%s: the error event waited", ep.name)
				}
				_ = readAll(t, resp)
				assert.GreaterOrEqual(t, time.Since(began), stall, "%s: the answer ended before the stall", ep.name)
			}
		}
	}
}

// BodyChunk sends a programmed body in pieces, each flushed on its own.
func TestFaultBodyChunk(t *testing.T) {
	m, ts := start(t)
	m.SetFault("k", Fault{Status: 400, Body: "0123456789abcdef", BodyChunk: 5})
	resp := send(t, ts, "POST", "/v1/messages", `{"model":"x"}`, "x-api-key", "k")
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, []string{"chunked"}, resp.TransferEncoding, "the pieces were not flushed apart")
	assert.Equal(t, "0123456789abcdef", string(readAll(t, resp)))
}
