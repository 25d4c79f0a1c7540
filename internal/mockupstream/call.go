package mockupstream

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
)

// call is the state of one request being answered.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	rt     route
	body   []byte // decoded request body
	key    string
	model  string
	stream bool
	fault  Fault // the fault taken for this request (zero if none)
	reply  string
	// wrapCodeAssist wraps Gemini answers as Code Assist does.
	wrapCodeAssist bool
	// cache is the prompt cache's read and creation tokens, once known.
	cache *[2]int
}

// fail answers with status in the provider family's error shape, or with the
// fault's raw Body when one was programmed.
func (c *call) fail(status int, message string) {
	if c.fault.Body != "" {
		writeRaw(c.w, status, c.fault)
		return
	}
	writeProviderError(c.w, c.rt.family, status, message)
}

// requireJSONModel checks that the body is a JSON object naming a model, as
// every generation endpoint except Gemini's requires; it answers 400 and
// returns false otherwise.
func (c *call) requireJSONModel() bool {
	if !gjson.ValidBytes(c.body) || !gjson.ParseBytes(c.body).IsObject() {
		c.fail(http.StatusBadRequest, invalidJSONMessage(c.rt.family))
		return false
	}
	if c.model == "" {
		c.fail(http.StatusBadRequest, missingModelMessage(c.rt.family))
		return false
	}
	return true
}

// requireJSON checks that the body is a JSON object; it answers 400 and
// returns false otherwise.
func (c *call) requireJSON() bool {
	if !gjson.ValidBytes(c.body) || !gjson.ParseBytes(c.body).IsObject() {
		c.fail(http.StatusBadRequest, invalidJSONMessage(c.rt.family))
		return false
	}
	return true
}

// writeJSON answers 200 with v as JSON and the family's request-id header;
// a Stall parts the headers from the body.
func (c *call) writeJSON(v any) {
	setRequestID(c.w, c.rt.family)
	if c.rt.family == familyGemini {
		c.w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	if c.fault.Stall <= 0 {
		writeJSONStatus(c.w, http.StatusOK, v)
		return
	}
	b := mustJSON(v)
	if c.w.Header().Get("Content-Type") == "" {
		c.w.Header().Set("Content-Type", "application/json")
	}
	c.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	c.w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(c.w).Flush()
	if sleepCtx(c.r.Context(), c.fault.Stall) {
		_, _ = c.w.Write(b)
	}
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	b := mustJSON(v)
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeRaw answers status with the fault's Body verbatim, typed as JSON
// when it parses as JSON and as plain text otherwise; in pieces of
// BodyChunk bytes, each flushed, EventDelay apart, when BodyChunk is
// positive.
func writeRaw(w http.ResponseWriter, status int, f Fault) {
	body, chunk := f.Body, f.BodyChunk
	if w.Header().Get("Content-Type") == "" {
		ct := "text/plain; charset=utf-8"
		if gjson.Valid(body) {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	if chunk <= 0 {
		_, _ = w.Write([]byte(body))
		return
	}
	rc := http.NewResponseController(w)
	for len(body) > 0 {
		n := min(chunk, len(body))
		if _, err := w.Write([]byte(body[:n])); err != nil || rc.Flush() != nil {
			return
		}
		if body = body[n:]; len(body) > 0 {
			time.Sleep(f.EventDelay)
		}
	}
}

// mustJSON encodes v without HTML escaping, as the providers do.
func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("mockupstream: encoding answer: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// sleepCtx waits d, returning false if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
