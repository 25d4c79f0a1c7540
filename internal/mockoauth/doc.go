// Package mockoauth is an in-process imitation of the OAuth token endpoints
// the cliproxy gateway refreshes its accounts' tokens at: Anthropic's (Claude
// Code), OpenAI's (Codex CLI) and Google's (Gemini CLI).
//
// A [Server] is a single [net/http.Handler] answering refresh_token grants on
// any path. Each instance speaks one provider's wire format, or, in [Auto]
// mode, picks it per request: a form body is Google, a JSON body with a
// "scope" is Codex, any other JSON body is Claude. It issues fresh access
// tokens ("mock-access-1", "mock-access-2", …) with a configurable
// expires_in; for Claude and Codex it rotates the refresh token as the real
// endpoints do ("mock-refresh-1", …), for Google it keeps it. It counts the
// refreshes made with each refresh token, records every request, and can be
// programmed with a [Fault] per refresh token: an error status with an OAuth
// error body such as invalid_grant, a delay, or a verbatim body. With reuse
// detection on, a rotated refresh token presented again is refused the way
// OpenAI does (refresh_token_reused) or Anthropic does (invalid_grant).
//
// Tests mount it behind an [net/http/httptest.Server] and point the
// gateway's oauth_token_url at it.
package mockoauth
