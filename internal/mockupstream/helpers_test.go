package mockupstream

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// start serves a fresh mock on a real loopback server.
func start(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	m := New()
	ts := httptest.NewServer(m)
	t.Cleanup(ts.Close)
	return m, ts
}

// send performs method on ts+path with body and header pairs.
func send(t *testing.T, ts *httptest.Server, method, path, body string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// readAll reads a whole response body.
func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	Name string // the "event:" field, "" if none
	Data string // the "data:" lines joined by "\n"
}

// parseSSE reads events until the body ends, returning the complete events
// read and the read error that ended the body (nil at a clean EOF). It
// accepts both "\n" and "\r\n" line endings, as a real SSE client does.
func parseSSE(r io.Reader) ([]sseEvent, error) {
	br := bufio.NewReader(r)
	var events []sseEvent
	var cur sseEvent
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return events, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data != nil || cur.Name != "" {
				cur.Data = strings.Join(data, "\n")
				events = append(events, cur)
			}
			cur, data = sseEvent{}, nil
		case strings.HasPrefix(line, "event:"):
			cur.Name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

// names lists the event names of events.
func names(events []sseEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Name
	}
	return out
}

// field reads a gjson path from a JSON string.
func field(js, path string) gjson.Result { return gjson.Get(js, path) }
