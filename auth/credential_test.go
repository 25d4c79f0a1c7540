package auth_test

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

const secretKey = "sk-ant-api03-SECRETSECRETSECRET-0123456789"

func TestFingerprint(t *testing.T) {
	a := &auth.Credential{Name: "a", Provider: auth.Claude, APIKey: secretKey}
	sameKey := &auth.Credential{Name: "other-name", Provider: auth.OpenAI, APIKey: secretKey}
	otherKey := &auth.Credential{Name: "a", Provider: auth.Claude, APIKey: secretKey + "x"}

	fp := a.Fingerprint()
	require.NotEmpty(t, fp)
	assert.Equal(t, fp, a.Fingerprint(), "not stable across calls")
	assert.Equal(t, fp, sameKey.Fingerprint(), "depends on something other than the key")
	assert.NotEqual(t, fp, otherKey.Fingerprint(), "two keys share a fingerprint")
	assert.LessOrEqual(t, len(fp), 16, "fingerprint is not short")
	_, err := hex.DecodeString(fp)
	assert.NoError(t, err, "fingerprint is not hex: %q", fp)
	assert.NotContains(t, secretKey, fp, "fingerprint is a piece of the key")
	assert.NotContains(t, fp, secretKey)

	assert.Empty(t, (&auth.Credential{Name: "none"}).Fingerprint(), "a credential without a key has no fingerprint")
}

// Formatting a credential, however it is formatted, must not print its key.
func TestCredentialFormattingNeverLeaksKey(t *testing.T) {
	c := &auth.Credential{
		Name:     "team-claude",
		Provider: auth.Claude,
		APIKey:   secretKey,
		Models:   []string{"claude-*"},
	}
	assert.Equal(t, "claude:team-claude", c.String())

	tests := []struct {
		name string
		got  string
	}{
		{"String", c.String()},
		{"%v pointer", fmt.Sprintf("%v", c)},
		{"%+v pointer", fmt.Sprintf("%+v", c)},
		{"%s pointer", fmt.Sprintf("%s", c)},
		{"%v in a slice", fmt.Sprintf("%v", []*auth.Credential{c})},
		{"%#v pointer", fmt.Sprintf("%#v", c)},
		{"%v value", fmt.Sprintf("%v", *c)},
		{"%+v value", fmt.Sprintf("%+v", *c)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.NotContains(t, tt.got, secretKey)
			assert.NotContains(t, tt.got, "SECRET")
			assert.Contains(t, tt.got, "team-claude", "the credential should still be identifiable")
		})
	}
}

func TestParseProvider(t *testing.T) {
	tests := []struct {
		in      string
		want    auth.Provider
		wantErr bool
	}{
		{"claude", auth.Claude, false},
		{"openai", auth.OpenAI, false},
		{"openai-compatible", auth.OpenAICompatible, false},
		{"gemini", auth.Gemini, false},
		{"Claude", auth.Claude, false},
		{"OPENAI-COMPATIBLE", auth.OpenAICompatible, false},
		{"  Gemini ", auth.Gemini, false},
		{"anthropic", "", true},
		{"openai_compatible", "", true},
		{"", "", true},
		{"claude ai", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := auth.ParseProvider(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				assert.Empty(t, got)
				assert.Contains(t, err.Error(), fmt.Sprintf("%q", tt.in), "error should name what was given")
				for _, p := range auth.Providers {
					assert.Contains(t, err.Error(), string(p), "error should list the known providers")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestProviderDefaultBaseURL(t *testing.T) {
	for _, p := range auth.Providers {
		t.Run(string(p), func(t *testing.T) {
			u := p.DefaultBaseURL()
			if p == auth.OpenAICompatible {
				assert.Empty(t, u, "openai-compatible hosts have no default")
				return
			}
			assert.True(t, strings.HasPrefix(u, "https://"), "default upstream %q is not https", u)
		})
	}
	assert.Equal(t, "https://api.openai.com/v1", auth.OpenAI.DefaultBaseURL(), "the OpenAI base URL names the API version")
}

func TestCredentialPrefix(t *testing.T) {
	for _, tt := range []struct{ raw, want, err string }{
		{"team-a", "team-a", ""},
		{" /team-a/ ", "team-a", ""},
		{"", "", ""},
		{"team/a", "", "invalid prefix"},
		{"team a", "", "invalid prefix"},
		{"team:a", "", "invalid prefix"},
	} {
		got, err := auth.ParsePrefix(tt.raw)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, tt.raw)
			continue
		}
		require.NoError(t, err, tt.raw)
		assert.Equal(t, tt.want, got, tt.raw)
	}

	c := &auth.Credential{Name: "t", Provider: auth.Claude, Prefix: "team-a", Models: []string{"claude-sonnet-*"}}
	up, ok := c.UpstreamModel("team-a/claude-sonnet-4-5")
	assert.True(t, ok)
	assert.Equal(t, "claude-sonnet-4-5", up)
	assert.True(t, c.AllowsModel(up), "models name the upstream's models")
	for _, model := range []string{"claude-sonnet-4-5", "team-b/claude-sonnet-4-5", "team-a/", "team-ab/x"} {
		_, ok := c.UpstreamModel(model)
		assert.False(t, ok, "a prefixed credential serves %q", model)
	}
	up, ok = c.UpstreamModel("")
	assert.True(t, ok, "a request naming no model")
	assert.Empty(t, up)
	assert.Equal(t, "team-a/claude-opus-4-1", c.ClientModel("claude-opus-4-1"))

	plain := &auth.Credential{Name: "p", Provider: auth.OpenAI}
	up, ok = plain.UpstreamModel("meta/llama-3")
	assert.True(t, ok)
	assert.Equal(t, "meta/llama-3", up)
	assert.Equal(t, "gpt-4o", plain.ClientModel("gpt-4o"))
}
