// Package mockupstream is a faithful in-process imitation of the AI provider
// APIs that the cliproxy gateway pools keys for: Anthropic Messages, OpenAI
// Chat Completions, Responses, legacy Completions, Embeddings and Models, and
// Google Gemini generateContent.
//
// A [Server] is a single [net/http.Handler]. It routes by path suffix, so any
// base path prefix works (for example /compat/v1/chat/completions), answers in
// each provider's real wire format (JSON bodies, SSE streams, error shapes and
// request-id headers), records every request it receives, and can be
// programmed per upstream key with a [Fault]: an error status, a Retry-After
// header, slow first byte, slow streams, or a connection reset mid-stream.
//
// Integration tests mount it behind an [net/http/httptest.Server]; the
// command internal/cmd/mockupstream serves it standalone so the gateway can be
// tried without real provider keys.
package mockupstream
