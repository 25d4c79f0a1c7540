package mockupstream

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"

	"github.com/tidwall/gjson"
)

// OpenAI Embeddings: POST /v1/embeddings.

// embeddingDims is the default vector length; a request's "dimensions"
// overrides it up to maxEmbeddingDims.
const (
	embeddingDims    = 8
	maxEmbeddingDims = 4096
)

type embedding struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string
}

type embeddingList struct {
	Object string      `json:"object"`
	Data   []embedding `json:"data"`
	Model  string      `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

func openAIEmbeddings(c *call) {
	if !c.requireJSONModel() {
		return
	}
	input := gjson.GetBytes(c.body, "input")
	var inputs []string
	switch {
	case !input.Exists():
		c.fail(http.StatusBadRequest, "'input' is a required property")
		return
	case input.IsArray() && len(input.Array()) > 0 && input.Array()[0].Type != gjson.Number:
		// A list of strings, or a list of token arrays.
		for _, v := range input.Array() {
			inputs = append(inputs, v.Raw)
		}
	default:
		// One string, or one token array.
		inputs = []string{input.Raw}
	}
	dims := int(gjson.GetBytes(c.body, "dimensions").Int())
	if dims <= 0 || dims > maxEmbeddingDims {
		dims = embeddingDims
	}
	b64 := gjson.GetBytes(c.body, "encoding_format").String() == "base64"

	out := embeddingList{Object: "list", Model: c.model, Data: []embedding{}}
	for i, in := range inputs {
		vec := vectorOf(in, dims)
		e := embedding{Object: "embedding", Index: i, Embedding: vec}
		if b64 {
			e.Embedding = float32Base64(vec)
		}
		out.Data = append(out.Data, e)
		out.Usage.PromptTokens += tokensOf(len(in))
	}
	out.Usage.TotalTokens = out.Usage.PromptTokens
	c.writeJSON(out)
}

// vectorOf is a deterministic unit vector derived from text.
func vectorOf(text string, dims int) []float32 {
	vec := make([]float32, dims)
	var norm float64
	seed := sha256.Sum256([]byte(text))
	for i := range vec {
		h := sha256.Sum256(append(seed[:], byte(i), byte(i>>8)))
		v := float64(binary.LittleEndian.Uint32(h[:4]))/math.MaxUint32*2 - 1
		vec[i] = float32(v)
		norm += v * v
	}
	norm = math.Sqrt(norm)
	for i := range vec {
		vec[i] = float32(float64(vec[i]) / norm)
	}
	return vec
}

// float32Base64 encodes vec as OpenAI's encoding_format=base64 does: the
// little-endian float32 bytes, base64-encoded.
func float32Base64(vec []float32) string {
	b := make([]byte, 4*len(vec))
	for i, v := range vec {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return base64.StdEncoding.EncodeToString(b)
}
