package mockupstream

import (
	"strings"

	"github.com/tidwall/gjson"
)

// geminiReplyText shapes the reply for a request in JSON mode
// (generationConfig.responseMimeType application/json): the real API answers
// with a JSON document matching the request's schema, and clients such as
// Gemini CLI's model router parse it. A reply that is already JSON is kept.
func geminiReplyText(body []byte, reply string) string {
	gc := gjson.GetBytes(body, "generationConfig")
	if !strings.HasPrefix(gc.Get("responseMimeType").String(), "application/json") || gjson.Valid(reply) {
		return reply
	}
	schema := gc.Get("responseJsonSchema")
	if !schema.Exists() {
		schema = gc.Get("responseSchema")
	}
	return string(mustJSON(schemaInstance(schema, reply, 0)))
}

// schemaInstance builds the simplest value satisfying schema (Gemini
// spells types in capitals: "OBJECT", "STRING"), with text for strings.
func schemaInstance(schema gjson.Result, text string, depth int) any {
	if depth > 16 {
		return nil
	}
	if enum := schema.Get("enum").Array(); len(enum) > 0 {
		return enum[0].Value()
	}
	switch strings.ToLower(schema.Get("type").String()) {
	case "object":
		obj := map[string]any{}
		schema.Get("properties").ForEach(func(k, v gjson.Result) bool {
			obj[k.String()] = schemaInstance(v, text, depth+1)
			return true
		})
		return obj
	case "array":
		return []any{schemaInstance(schema.Get("items"), text, depth+1)}
	case "integer", "number":
		if m := schema.Get("minimum"); m.Exists() {
			return m.Num
		}
		return 1
	case "boolean":
		return false
	case "null":
		return nil
	}
	return text
}
