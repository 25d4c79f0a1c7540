package mockupstream

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tidwall/gjson"
)

func TestGeminiJSONModeAnswersWithSchemaShapedJSON(t *testing.T) {
	body := []byte(`{"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":{"type":"OBJECT","properties":{"complexity_reasoning":{"type":"STRING"},"complexity_score":{"type":"INTEGER","minimum":1},"tier":{"type":"STRING","enum":["flash","pro"]},"tags":{"type":"ARRAY","items":{"type":"STRING"}},"ok":{"type":"BOOLEAN"}}}}}`)
	out := geminiReplyText(body, "plain words")
	assert.True(t, gjson.Valid(out), out)
	assert.Equal(t, "plain words", gjson.Get(out, "complexity_reasoning").String())
	assert.EqualValues(t, 1, gjson.Get(out, "complexity_score").Int())
	assert.Equal(t, "flash", gjson.Get(out, "tier").String())
	assert.Equal(t, "plain words", gjson.Get(out, "tags.0").String())
	assert.False(t, gjson.Get(out, "ok").Bool())

	assert.Equal(t, "plain words", geminiReplyText([]byte(`{"contents":[]}`), "plain words"), "text mode must stay text")
	assert.Equal(t, `{"a":1}`, geminiReplyText(body, `{"a":1}`), "a JSON reply is kept as is")
}
