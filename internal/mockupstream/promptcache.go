package mockupstream

import (
	"bytes"
	"crypto/sha256"

	"github.com/tidwall/gjson"
)

// The mock caches prompts as the providers do, so clients and gateways see
// cache token counts in the usage they parse. The cached part of a prompt
// is its system prompt (Anthropic "system", OpenAI chat system or developer
// messages, Responses "instructions", Gemini "systemInstruction"), cached
// per upstream key:
//
//   - Anthropic caches only prompts that carry a cache_control breakpoint:
//     the first such request reports cache_creation_input_tokens, later
//     ones cache_read_input_tokens, each on top of input_tokens.
//   - OpenAI and Gemini cache automatically: a repeated system prompt
//     reports cached_tokens / cachedContentTokenCount, a part of the input
//     count.
//
// The count is the mock's token count of the system prompt's JSON.

// promptCache returns the cache read and creation tokens of c's prompt,
// and remembers the prompt for the next request; a call counts once,
// however many chunks report it.
func (c *call) promptCache() (read, creation int) {
	if c.cache == nil {
		r, w := c.lookupPromptCache()
		c.cache = &[2]int{r, w}
	}
	return c.cache[0], c.cache[1]
}

func (c *call) lookupPromptCache() (read, creation int) {
	system := c.systemPrompt()
	if len(system) == 0 {
		return 0, 0
	}
	anthropic := c.rt.family == familyAnthropic
	if anthropic && !bytes.Contains(c.body, []byte(`"cache_control"`)) {
		return 0, 0
	}
	h := sha256.New()
	h.Write([]byte(c.key))
	h.Write([]byte{0})
	h.Write(system)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	c.s.mu.Lock()
	seen := c.s.cached[sum]
	if c.s.cached == nil {
		c.s.cached = make(map[[sha256.Size]byte]bool)
	}
	c.s.cached[sum] = true
	c.s.mu.Unlock()
	n := tokensOf(len(system))
	switch {
	case seen:
		return n, 0
	case anthropic:
		return 0, n
	}
	return 0, 0
}

// systemPrompt is the raw JSON of c's system prompt, nil if it has none.
func (c *call) systemPrompt() []byte {
	var r gjson.Result
	switch c.rt.family {
	case familyAnthropic:
		r = gjson.GetBytes(c.body, "system")
	case familyGemini:
		r = gjson.GetBytes(c.body, "systemInstruction")
		if !r.Exists() {
			r = gjson.GetBytes(c.body, "request.systemInstruction") // Code Assist
		}
	default:
		if r = gjson.GetBytes(c.body, "instructions"); !r.Exists() {
			r = gjson.GetBytes(c.body, `messages.#(role=="system").content`)
		}
		if !r.Exists() {
			r = gjson.GetBytes(c.body, `messages.#(role=="developer").content`)
		}
	}
	if !r.Exists() || r.Raw == "" || r.Raw == `""` || r.Raw == "null" {
		return nil
	}
	return []byte(r.Raw)
}
