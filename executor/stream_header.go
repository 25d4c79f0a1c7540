package executor

import (
	"io"
	"time"

	"github.com/tidwall/gjson"
)

// streamAsk is what a request asks for: a streamed answer or a whole one,
// once its body has said.
type streamAsk int8

const (
	streamUnknown streamAsk = iota
	streamNo
	streamYes
)

// headerTimeout is how long an attempt of rn may wait for its answer's
// headers: Options.StreamHeaderTimeout for a request that asks for a
// streamed answer, none (0) for one that asks for a whole answer, whose
// headers only come once the model has written it.
func (rn *run) headerTimeout() time.Duration {
	d := rn.e.opts.StreamHeaderTimeout
	if d <= 0 {
		return 0
	}
	if rn.streamed == streamUnknown {
		if rn.body != nil && !rn.body.complete() {
			// a body still arriving does not say yet; an attempt that
			// sends it as it arrives gets its bound when the upload
			// ends (see startClock)
			return 0
		}
		rn.streamed = streamNo
		if asksForStream(rn.route, rn.body) {
			rn.streamed = streamYes
		}
	}
	if rn.streamed != streamYes {
		return 0
	}
	return d
}

// asksForStream reports whether a request asks for its answer as a
// stream: Gemini's streamGenerateContent, or a body whose "stream" is true
// (Anthropic Messages, OpenAI Chat, Completions and Responses, Codex).
func asksForStream(route Route, b *body) bool {
	if route.Endpoint == "streamGenerateContent" {
		return true
	}
	if b == nil {
		return false
	}
	return gjson.GetBytes(b.inspect(), "stream").Bool()
}

// startClock gives aw its clock (first_event_timeout, and
// stream_header_timeout for a streamed answer), if either is set. An
// attempt whose body rd sends as it arrives gets its clock armed once the
// last of the body was sent: its upstream answers only then, and the
// client's upload is not the upstream's silence.
func (rn *run) startClock(aw *attemptWriter, rd io.Reader) {
	first := rn.e.opts.FirstEventTimeout
	tee, streaming := rd.(*teeReader)
	if !streaming {
		if header := rn.headerTimeout(); first > 0 || header > 0 {
			aw.clock = startAttemptClock(first, header, aw.halt)
		}
		return
	}
	if first <= 0 && rn.e.opts.StreamHeaderTimeout <= 0 {
		return
	}
	clock := new(firstEventClock)
	aw.clock = clock
	tee.s.onSent(func() {
		// the scan that followed the body saw its "stream": no second
		// pass over a body that puts it last, as Claude Code does
		var header time.Duration
		if tee.s.scan.stream {
			header = rn.e.opts.StreamHeaderTimeout
		}
		clock.arm(first, header, aw.halt)
	})
}
