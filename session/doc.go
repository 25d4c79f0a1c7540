// Package session finds the conversation a request belongs to, so the
// gateway can keep a conversation on one credential and its prompt cache.
//
// # Sources
//
// Extract reads the session from the request headers and its JSON body.
// The first of these sources with a usable value wins:
//
//  1. header X-Claude-Code-Session-Id (Claude Code ≥2.1.86);
//  2. body metadata.user_id in a Claude Code format: the legacy
//     user_<64 hex>_account_<uuid or empty>_session_<uuid>, or the JSON text
//     {"device_id":…,"account_uuid":…,"session_id":"<uuid>"} (Claude Code
//     ≥2.1.78), whose session UUID is taken;
//  3. header Session-Id, then session_id (Codex CLI), then body
//     prompt_cache_key, then body conversation (OpenAI Responses; a string,
//     or an object with an id);
//  4. header X-Session-ID (any client);
//  5. body metadata.user_id in any other format, as it is;
//  6. body conversation_id;
//  7. a hash of the conversation (see below).
//
// A value is usable when it is not empty, at most 256 bytes long and free of
// control characters; anything else falls through to the next source. Body
// values must be JSON strings and are read decoded, from top-level members
// (the first one when a key repeats). Idempotency-Key is never a source.
//
// Every ID is typed by its source (ID.String is "source:value"), so the same
// text found in two places is two sessions and one client cannot reach
// another's binding through a different field. The exceptions are
// deliberate: Claude Code's header and its metadata.user_id carry the same
// UUID and both give "claude-code:<uuid>", and the two spellings of Codex's
// header are one source.
//
// # The hash
//
// For clients that name no session (Gemini CLI, most SDK scripts), the
// session is an FNV-1a 64 hash, shown as 16 hex digits, of the client
// principal, the system prompt, the first user message and the first
// assistant message. Four body formats are read: OpenAI chat messages
// (system and developer roles are the system prompt), Claude system +
// messages, Gemini systemInstruction + contents (role model is the
// assistant; a content without a role is the user's), and OpenAI Responses
// instructions + input (a string input is the user message; message items,
// typed or untyped with a role, count, reasoning and tool items do not).
//
// Only text counts, decoded: images, documents, tool calls and results,
// thinking blocks and Gemini thought parts are left out. A field's text is
// its text parts joined with nothing between them, so a system prompt sent
// as a string and as blocks with the same text hash alike, as do the same
// words sent in different formats. Each field is framed by its length, so
// moving text from one field to the next changes the hash. The principal
// is hashed too, so two members who open the same way get two sessions.
//
// Reading stops at the first point where both a user and an assistant
// message have been seen, so later turns never change the hash. A body with
// an assistant message gets two IDs: Identity.ID with the assistant text and
// Identity.Fallback without it, which is the ID turn 1 of the same
// conversation had. A binding cache that misses on ID can look up Fallback
// and so carry turn 1's credential into turn 2. A body with no user message
// has no hash identity.
//
// # Cost
//
// Extract never copies or unmarshals the body: it walks the bytes in place
// and clones only the values it returns, so the caller may reuse a pooled
// buffer. It reads nothing of the body when X-Claude-Code-Session-Id is
// present; otherwise it walks the top level of the body once (a later
// source could only be ruled out by looking), and the hash reads only the
// opening messages. Allocations do not grow with the body.
//
// The package has no dependency on Caddy.
package session
