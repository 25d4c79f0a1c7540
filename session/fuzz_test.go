package session_test

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/session"
)

var hashValue = regexp.MustCompile(`^[0-9a-f]{16}$`)

// FuzzExtract feeds Extract arbitrary header values and body bytes. It must
// not panic, must be deterministic, must not modify the body, must return
// only valid values, and on valid JSON must agree with the reference
// implementation.
func FuzzExtract(f *testing.F) {
	f.Add("", "", "", "", "", []byte(`{"messages":[{"role":"user","content":"hi"}]}`), "alice")
	f.Add(uuidA, "", "", "", "agent", []byte(`{}`), "")
	f.Add("", uuidB, "", "", "", []byte(`{"prompt_cache_key":"k","input":[{"type":"reasoning"},{"role":"user","content":[{"type":"input_text","text":"x"}]}]}`), "bob")
	f.Add("", "", uuidC, "x", "", []byte(`{"conversation":{"id":"c"},"conversation_id":"d"}`), "")
	f.Add("", "", "", "xs", "", []byte(`{"metadata":{"user_id":"user_`+device+`_account__session_`+uuidA+`"}}`), "")
	f.Add("", "", "", "", "", []byte(`{"metadata":{"user_id":"{\"device_id\":\"d\",\"account_uuid\":\"\",\"session_id\":\"`+uuidA+`\"}"}}`), "")
	f.Add("", "", "", "", "", []byte(`{"metadata":{"user_id":"u\u00e9"},"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":"\ud83d\ude00"},{"role":"assistant","content":"a"}]}`), "p")
	f.Add("", "", "", "", "", []byte(`{"systemInstruction":{"parts":[{"text":"s"}]},"contents":[{"parts":[{"text":"hi","thought":true},{"text":"x"}]},{"role":"model","parts":[{"text":"y"}]}]}`), "p")
	f.Add("", "", "", "", "", []byte(`{"instructions":"i","input":"hello"}`), "p")
	f.Add("", "", "", "", "", []byte(`{"messages":[{"role":"user","content":"unterminated`), "p")
	f.Add("\x00", strings.Repeat("a", 300), "\n", "", "\x7f", []byte(`[{"a":"\\"}]`), "p")
	f.Fuzz(func(t *testing.T, claude, codex, codexUnderscore, xsession, agent string, body []byte, principal string) {
		h := http.Header{}
		for name, v := range map[string]string{
			"X-Claude-Code-Session-Id": claude,
			"Session-Id":               codex,
			"Session_id":               codexUnderscore,
			"X-Session-Id":             xsession,
			"X-Claude-Code-Agent-Id":   agent,
		} {
			if v != "" {
				h.Set(name, v)
			}
		}
		orig := bytes.Clone(body)
		got := session.Extract(h, body, principal)
		if !bytes.Equal(orig, body) {
			t.Fatalf("Extract modified the body")
		}
		if again := session.Extract(h, body, principal); again != got {
			t.Fatalf("not deterministic: %+v then %+v", got, again)
		}
		checkID(t, got.ID)
		checkID(t, got.Fallback)
		if got.Agent != "" && !refValid(got.Agent) {
			t.Fatalf("invalid agent %q", got.Agent)
		}
		if !got.Fallback.IsZero() {
			if got.ID.Source != session.SourceHash || got.Fallback.Source != session.SourceHash {
				t.Fatalf("fallback on a non-hash identity: %+v", got)
			}
			if got.ID == got.Fallback {
				t.Fatalf("fallback equals the ID: %+v", got)
			}
		}
		// The reference decodes lone UTF-16 surrogates differently (gjson
		// joins a lone surrogate with the next escape); compare elsewhere.
		if gjson.ValidBytes(body) {
			want := refExtract(h, body, principal)
			if got.ID.Source == session.SourceHash && bytes.Contains(bytes.ToLower(body), []byte(`\ud`)) {
				want.ID, want.Fallback = got.ID, got.Fallback
			}
			if want != got {
				t.Fatalf("reference: %+v\nExtract:   %+v", want, got)
			}
		}
	})
}

func checkID(t *testing.T, id session.ID) {
	t.Helper()
	if id.IsZero() {
		if id.Source != "" {
			t.Fatalf("zero ID with a source: %+v", id)
		}
		return
	}
	if !refValid(id.Value) {
		t.Fatalf("invalid ID value %q", id.Value)
	}
	if id.Source == "" {
		t.Fatalf("ID without a source: %+v", id)
	}
	if id.Source == session.SourceHash && !hashValue.MatchString(id.Value) {
		t.Fatalf("hash ID %q is not 16 hex digits", id.Value)
	}
}
