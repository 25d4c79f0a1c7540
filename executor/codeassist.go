package executor

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// Gemini Code Assist (the gemini-cli provider) speaks the Gemini API
// inside an envelope: the request goes to /v1internal:{action} as
// {"model", "project", "request": <the client's body>}, and every response
// (and every streamed chunk) comes back as {"response": <Gemini's>, …}.
// The gateway wraps and unwraps so the client sees the Gemini API.

// codeAssistActions are the Gemini operations Code Assist serves.
var codeAssistActions = map[string]bool{"generateContent": true, "streamGenerateContent": true, "countTokens": true}

// codeAssistCountBody is a Gemini countTokens body in Code Assist's form,
// as the Gemini CLI sends it: {"request": {"model": "models/<model>",
// "contents": […]}}, without a project. The contents come from the
// client's "contents", or from its "generateContentRequest".
func codeAssistCountBody(model string, body []byte) []byte {
	contents := gjson.GetBytes(body, "contents")
	if !contents.Exists() {
		contents = gjson.GetBytes(body, "generateContentRequest.contents")
	}
	var b bytes.Buffer
	b.Grow(len(contents.Raw) + len(model) + 48)
	b.WriteString(`{"request":{"model":`)
	writeJSONString(&b, "models/"+model)
	b.WriteString(`,"contents":`)
	if contents.IsArray() {
		b.WriteString(contents.Raw)
	} else {
		b.WriteString("[]")
	}
	b.WriteString("}}")
	return b.Bytes()
}

// codeAssistBody wraps a Gemini request body for project.
func codeAssistBody(model, project string, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(body) + len(model) + len(project) + 48)
	b.WriteString(`{"model":`)
	writeJSONString(&b, model)
	b.WriteString(`,"project":`)
	writeJSONString(&b, project)
	b.WriteString(`,"request":`)
	if len(bytes.TrimSpace(body)) == 0 {
		b.WriteString("{}")
	} else {
		b.Write(body)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// codeAssistWriter unwraps Code Assist answers on their way to the
// attempt writer: a JSON answer whole, an event stream line by line, and
// for a client that asked for Gemini's streamed JSON array (no alt=sse),
// the events turned back into that array.
type codeAssistWriter struct {
	next    http.ResponseWriter
	asArray bool // the client wants a JSON array, not SSE

	status  int
	sse     bool
	buf     bytes.Buffer // a partial line (SSE) or the whole body (JSON)
	items   int          // array elements written
	started bool
}

func newCodeAssistWriter(next http.ResponseWriter, clientWantsArray bool) *codeAssistWriter {
	return &codeAssistWriter{next: next, asArray: clientWantsArray}
}

func (w *codeAssistWriter) Header() http.Header { return w.next.Header() }

func (w *codeAssistWriter) WriteHeader(code int) {
	if w.status != 0 || (code >= 100 && code < 200) {
		return
	}
	w.status = code
	h := w.next.Header()
	w.sse = isEventStream(h) && code < 300
	h.Del("Content-Length") // the body changes size
	if w.sse && w.asArray {
		h.Set("Content-Type", "application/json; charset=UTF-8")
	}
	if w.sse || code >= 300 {
		// errors are not wrapped; the stream goes out as it comes
		w.next.WriteHeader(code)
		w.started = true
	}
}

func (w *codeAssistWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sse {
		if w.status >= 300 {
			return w.next.Write(p)
		}
		w.buf.Write(p) // a JSON answer is unwrapped whole, at the end
		return len(p), nil
	}
	w.buf.Write(p)
	for {
		line, ok := w.nextLine()
		if !ok {
			return len(p), nil
		}
		if err := w.writeLine(line); err != nil {
			return len(p), err
		}
	}
}

// nextLine takes one complete line (with its newline) off the buffer.
func (w *codeAssistWriter) nextLine() ([]byte, bool) {
	i := bytes.IndexByte(w.buf.Bytes(), '\n')
	if i < 0 {
		return nil, false
	}
	line := make([]byte, i+1)
	copy(line, w.buf.Next(i+1))
	return line, true
}

// writeLine passes one SSE line on, unwrapping a data line.
func (w *codeAssistWriter) writeLine(line []byte) error {
	data, isData := bytes.CutPrefix(line, []byte("data:"))
	if !isData {
		if w.asArray {
			return nil // blank and comment lines have no place in an array
		}
		_, err := w.next.Write(line)
		return err
	}
	payload := unwrapResponse(bytes.TrimSpace(data))
	// the line keeps its own ending: Code Assist ends events with
	// "\r\n\r\n", and a client (the @google/genai SDK under the Gemini
	// CLI) splits events only on "\n\n", "\r\r" or "\r\n\r\n"
	eol := []byte("\n")
	if bytes.HasSuffix(line, []byte("\r\n")) {
		eol = []byte("\r\n")
	}
	if w.asArray {
		sep := []byte(",\r\n")
		if w.items == 0 {
			sep = []byte("[")
		}
		w.items++
		if _, err := w.next.Write(append(sep, payload...)); err != nil {
			return err
		}
		return http.NewResponseController(w.next).Flush()
	}
	out := make([]byte, 0, len(payload)+8)
	out = append(out, "data: "...)
	out = append(out, payload...)
	out = append(out, eol...)
	_, err := w.next.Write(out)
	return err
}

// unwrapResponse returns the inner "response" of a Code Assist JSON
// document, or the document itself when it has none (an error).
func unwrapResponse(doc []byte) []byte {
	if r := gjson.GetBytes(doc, "response"); r.IsObject() {
		return []byte(r.Raw)
	}
	return doc
}

func (w *codeAssistWriter) FlushError() error {
	if !w.started {
		return nil
	}
	return http.NewResponseController(w.next).Flush()
}

func (w *codeAssistWriter) Unwrap() http.ResponseWriter { return w.next }

// finish writes what the end of the answer completes: the unwrapped JSON
// answer, a last line without a newline, or the closing of the array.
func (w *codeAssistWriter) finish() error {
	switch {
	case w.status == 0:
		return nil
	case !w.sse && w.status < 300:
		body := unwrapResponse(w.buf.Bytes())
		w.next.WriteHeader(w.status)
		w.started = true
		_, err := w.next.Write(body)
		return err
	case w.sse:
		if rest := w.buf.Bytes(); len(strings.TrimSpace(string(rest))) > 0 {
			if err := w.writeLine(append(rest, '\n')); err != nil {
				return err
			}
		}
		if w.asArray {
			closing := "]"
			if w.items == 0 {
				closing = "[]"
			}
			_, err := w.next.Write([]byte(closing))
			return err
		}
	}
	return nil
}
