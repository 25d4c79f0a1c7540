package executor

import (
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
			// a body still arriving does not say yet (its "stream" is
			// usually last), and the upstream answers only once it has
			// it all: its upload is not the upstream's silence
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
