package mockupstream

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// KeyOf returns the upstream API key a request carries, looking in order at
// the x-api-key header (Anthropic), an "Authorization: Bearer" header (OpenAI
// and OAuth), the x-goog-api-key header (Gemini) and the ?key= query
// parameter (Gemini). It returns "" when there is none.
func KeyOf(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get("x-api-key")); k != "" {
		return k
	}
	if a := r.Header.Get("Authorization"); len(a) > len("Bearer ") && strings.EqualFold(a[:len("Bearer ")], "Bearer ") {
		if k := strings.TrimSpace(a[len("Bearer "):]); k != "" {
			return k
		}
	}
	if k := strings.TrimSpace(r.Header.Get("x-goog-api-key")); k != "" {
		return k
	}
	return strings.TrimSpace(r.URL.Query().Get("key"))
}

// Fingerprint returns a short, non-reversible tag for key (the first 8 hex
// digits of its SHA-256), for logging which key was used without showing it.
// It returns "-" for the empty key.
func Fingerprint(key string) string {
	if key == "" {
		return "-"
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:4])
}
