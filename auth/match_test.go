package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

func TestMatchModel(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		model   string
		want    bool
	}{
		{"exact", "gpt-4o", "gpt-4o", true},
		{"exact is not a prefix match", "gpt-4", "gpt-4o", false},
		{"exact is not a suffix match", "4o", "gpt-4o", false},
		{"trailing star", "claude-3-*", "claude-3-opus", true},
		{"trailing star matches empty rest", "claude-3-*", "claude-3-", true},
		{"trailing star needs the prefix", "claude-3-*", "claude-2-opus", false},
		{"leading star", "*-mini", "gpt-4o-mini", true},
		{"leading star needs the suffix", "*-mini", "gpt-4o-mini-2024", false},
		{"star in the middle", "gpt-*-mini", "gpt-4o-mini", true},
		{"star in the middle matches nothing", "gpt-*-mini", "gpt--mini", true},
		{"star in the middle, wrong end", "gpt-*-mini", "gpt-4o-max", false},
		{"stars on both ends", "*opus*", "claude-3-opus-20240229", true},
		{"stars on both ends, absent", "*opus*", "claude-3-sonnet", false},
		{"multiple stars in order", "a*b*c", "aXXbYYc", true},
		{"multiple stars out of order", "a*b*c", "aXXcYYb", false},
		{"multiple stars need backtracking", "*ab*abc", "xabyabxabc", true},
		{"consecutive stars", "gpt**mini", "gpt-4o-mini", true},
		{"only stars", "***", "anything", true},
		{"lone star", "*", "openrouter/anthropic/claude-3", true},
		{"star crosses slash", "openrouter/*", "openrouter/anthropic/claude-3", true},
		{"star crosses several slashes", "*/claude-3", "openrouter/anthropic/claude-3", true},
		{"slash kept literal", "openrouter/anthropic/*", "openrouter/anthropic/claude-3", true},
		{"slash literal mismatch", "openrouter/openai/*", "openrouter/anthropic/claude-3", false},
		{"star around slash segment", "*anthropic/claude*", "openrouter/anthropic/claude-3", true},
		{"case-insensitive exact", "GPT-4O", "gpt-4o", true},
		{"case-insensitive prefix", "CLAUDE-*", "claude-3-opus", true},
		{"case-insensitive suffix", "*-OPUS", "Claude-3-Opus", true},
		{"case-insensitive middle", "*Anthropic/*", "openrouter/ANTHROPIC/claude", true},
		{"empty pattern, empty model", "", "", true},
		{"empty pattern, some model", "", "gpt-4o", false},
		{"some pattern, empty model", "gpt-4o", "", false},
		{"star, empty model", "*", "", true},
		{"prefix star, empty model", "a*", "", false},
		{"model shorter than prefix", "claude-*", "cl", false},
		{"question mark is literal", "gpt-?", "gpt-4", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, auth.MatchModel(tt.pattern, tt.model), "MatchModel(%q, %q)", tt.pattern, tt.model)
		})
	}
}

// The model is chosen by the client (any string in the request body), so
// matching it against an operator's pattern must not take time that grows
// faster than the model's length: a member sending a long model name must not
// be able to pin a CPU of the gateway.
func TestMatchModelLongModelIsFast(t *testing.T) {
	tests := []struct {
		pattern string
		model   string
	}{
		{"*claude*opus*", strings.Repeat("claude-", 20_000)},
		{"*a*b*", strings.Repeat("a", 100_000)},
		{"a*a*a*b", strings.Repeat("a", 100_000)},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			done := make(chan bool, 1)
			go func() { done <- auth.MatchModel(tt.pattern, tt.model) }()
			select {
			case got := <-done:
				assert.False(t, got)
			case <-time.After(5 * time.Second):
				t.Fatalf("MatchModel(%q, <%d bytes>) still running after 5s: matching time is super-linear in the model's length",
					tt.pattern, len(tt.model))
			}
		})
	}
}

func TestCredentialAllowsModel(t *testing.T) {
	tests := []struct {
		name     string
		models   []string
		excluded []string
		model    string
		want     bool
	}{
		{"no lists allows everything", nil, nil, "claude-opus-4-1", true},
		{"no lists allows empty model", nil, nil, "", true},
		{"allow-list hit", []string{"claude-opus-*"}, nil, "claude-opus-4-1", true},
		{"allow-list miss", []string{"claude-opus-*"}, nil, "claude-sonnet-4-5", false},
		{"allow-list second pattern hit", []string{"gpt-4o", "o3*"}, nil, "o3-mini", true},
		{"allow-list case-insensitive", []string{"gemini-*-pro"}, nil, "Gemini-2.5-Pro", true},
		{"excluded hit", nil, []string{"claude-3-*"}, "claude-3-haiku", false},
		{"excluded miss", nil, []string{"claude-3-*"}, "claude-sonnet-4-5", true},
		{"excluded overrides allowed", []string{"claude-*"}, []string{"claude-opus-*"}, "claude-opus-4-1", false},
		{"allowed and not excluded", []string{"claude-*"}, []string{"claude-opus-*"}, "claude-sonnet-4-5", true},
		{"excluded with slash model", nil, []string{"openrouter/anthropic/*"}, "openrouter/anthropic/claude-3", false},
		// A request that names no model (a model listing) is served by any
		// credential, restricted or not, so the listing works in a pool of
		// restricted credentials.
		{"empty model with allow-list", []string{"claude-opus-*"}, nil, "", true},
		{"empty model with excluded", nil, []string{"*"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &auth.Credential{Name: "c", Provider: auth.Claude, APIKey: "k", Models: tt.models, ExcludedModels: tt.excluded}
			assert.Equal(t, tt.want, c.AllowsModel(tt.model))
		})
	}
}
