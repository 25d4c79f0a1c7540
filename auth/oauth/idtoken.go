package oauth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// AccountIDFromIDToken returns the chatgpt_account_id claim of a Codex
// id_token (a JWT whose "https://api.openai.com/auth" claim carries it). The
// signature is not checked: the value only tells the upstream which account
// a token already issued for it belongs to. It returns "" when the token is
// not a JWT or has no such claim.
func AccountIDFromIDToken(idToken string) string {
	if len(idToken) > 64<<10 {
		return ""
	}
	parts := strings.Split(idToken, ".")
	if len(parts) < 2 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		Auth struct {
			AccountID string `json:"chatgpt_account_id"`
		} `json:"https://api.openai.com/auth"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return ""
	}
	return strings.TrimSpace(claims.Auth.AccountID)
}
