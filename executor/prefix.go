package executor

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// A credential with a model prefix serves "<prefix>/<model>" requests, and
// its upstream sees <model>. Everything the gateway keeps per model (health,
// cooldowns, session bindings, round-robin cursors, usage) keys on the model
// as the client named it, prefix included: a prefixed credential only ever
// serves prefixed names, so per credential the two are one to one, and a
// client's bindings and errors speak its own names.

// upstreamModel is the model of the run as c's upstream is to see it.
func (rn *run) upstreamModel(c *auth.Credential) string {
	if c.Prefix == "" {
		return rn.model
	}
	up, _ := c.UpstreamModel(rn.model)
	return up
}

// upstreamPath is the client's path with the model a Gemini path names
// given as c's upstream knows it.
func (rn *run) upstreamPath(c *auth.Credential) string {
	path := rn.r.URL.Path
	if rn.route.Model == "" || c.Prefix == "" {
		return path
	}
	return strings.Replace(path, "/models/"+rn.route.Model+":", "/models/"+rn.upstreamModel(c)+":", 1)
}

// withModel returns the JSON object body with its top-level "model" set to
// model, everything else as it was. A body without a model, or that is no
// object, is returned as it is.
func withModel(body []byte, model string) []byte {
	return withString(body, "model", model)
}

// withString returns the JSON object obj with the string value of its
// top-level key (a plain name) set to value; obj as it is when it has no
// such key or is no object.
func withString(obj []byte, key, value string) []byte {
	res := gjson.GetBytes(obj, key)
	if !res.Exists() {
		return obj
	}
	quoted, _ := json.Marshal(value)
	if res.Index > 0 && res.Index+len(res.Raw) <= len(obj) && string(obj[res.Index:res.Index+len(res.Raw)]) == res.Raw {
		out := make([]byte, 0, len(obj)-len(res.Raw)+len(quoted))
		out = append(out, obj[:res.Index]...)
		out = append(out, quoted...)
		return append(out, obj[res.Index+len(res.Raw):]...)
	}
	// gjson could not say where the value is: rewrite the object whole
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return obj
	}
	m[key] = quoted
	out, err := json.Marshal(m)
	if err != nil {
		return obj
	}
	return out
}

// listedAs is the model m of c's upstream as clients see it: under c's
// prefix, if it has one.
func listedAs(c *auth.Credential, m modelInfo) modelInfo {
	if c.Prefix == "" {
		return m
	}
	m.ID = c.ClientModel(m.ID)
	if m.Gemini != nil {
		m.Gemini = withString(m.Gemini, "name", "models/"+m.ID)
	}
	return m
}

// prefixedBody is the request body c's upstream is to get when c has a
// prefix and the body names the model: decoded, with the model as the
// upstream knows it. ok is false when the body goes as it is.
func (rn *run) prefixedBody(c *auth.Credential) ([]byte, bool) {
	if c.Prefix == "" || rn.body == nil || rn.route.Model != "" {
		return nil, false
	}
	b := rn.body.inspect()
	out := withModel(b, rn.upstreamModel(c))
	return out, !bytes.Equal(out, b)
}

// upstreamTurn is a WebSocket turn's response.create as c's upstream is
// to get it.
func (rn *run) upstreamTurn(c *auth.Credential, msg []byte) []byte {
	if c.Prefix == "" {
		return msg
	}
	return withModel(msg, rn.upstreamModel(c))
}
