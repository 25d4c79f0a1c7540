package authfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The JSON underneath the codec: lenient decoders for the value shapes
// CLIProxyAPI and its older versions wrote, and an object that keeps its
// keys in order so a rewritten file differs from its original only where
// a value changed.

func decodeBool(raw json.RawMessage) (bool, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err == nil {
		switch v := v.(type) {
		case bool:
			return v, nil
		case string:
			if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
				return b, nil
			}
		}
	}
	return false, errors.New("want true or false")
}

func decodeInt(raw json.RawMessage) (int, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err == nil {
		var s string
		switch v := v.(type) {
		case json.Number:
			s = v.String()
		case string:
			if s = strings.TrimSpace(v); s == "" {
				return 0, nil
			}
		}
		if n, err := strconv.ParseInt(s, 10, 0); err == nil {
			return int(n), nil
		}
		if x, err := strconv.ParseFloat(s, 64); err == nil && x == math.Trunc(x) &&
			x >= math.MinInt32 && x <= math.MaxInt32 {
			return int(x), nil
		}
	}
	return 0, errors.New("want an integer")
}

// epochMillisThreshold separates epoch seconds from epoch milliseconds: 1e11
// seconds is in the year 5138, 1e11 milliseconds in 1973.
const epochMillisThreshold = 1e11

// The range of times the file format can hold (four-digit years).
var (
	minFileTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxFileTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// timeLayouts are accepted for times, after RFC 3339.
var timeLayouts = []string{
	"2006-01-02T15:04:05.999999999", // no zone: UTC
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

func decodeTime(raw json.RawMessage) (time.Time, error) {
	const want = "want an RFC 3339 time or epoch seconds or milliseconds"
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return time.Time{}, errors.New(want)
	}
	var num string
	switch v := v.(type) {
	case json.Number:
		num = v.String()
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return time.Time{}, nil
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		num = s
	default:
		return time.Time{}, errors.New(want)
	}
	x, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return time.Time{}, errors.New(want)
	}
	if x == 0 {
		return time.Time{}, nil
	}
	if math.Abs(x) >= epochMillisThreshold {
		x /= 1000
	}
	if x < float64(minFileTime.Unix()) || x > float64(maxFileTime.Unix()) {
		return time.Time{}, errors.New("time out of range")
	}
	sec := math.Floor(x)
	nsec := math.Round((x - sec) * 1e9)
	return time.Unix(int64(sec), int64(nsec)).UTC(), nil
}

// decodeList reads an array of strings or one comma-separated string,
// trimming each name and dropping empty ones.
func decodeList(raw json.RawMessage) ([]string, error) {
	var parts []string
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		parts = strings.Split(s, ",")
	} else if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, errors.New("want a string or an array of strings")
	}
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

func isJSONNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// jsonNumber returns raw as a number when it is a JSON number.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || (t[0] != '-' && (t[0] < '0' || t[0] > '9')) {
		return 0, false
	}
	x, err := strconv.ParseFloat(string(t), 64)
	return x, err == nil
}

func jsonString(s string) json.RawMessage {
	return mustMarshal(s)
}

// mustMarshal encodes values that cannot fail to encode (strings, string
// slices and maps), without HTML escaping.
func mustMarshal(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("auth: encoding a " + fmt.Sprintf("%T", v) + ": " + err.Error())
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// jsonObject is a JSON object that remembers the order of its keys, so a
// file can be rewritten without reordering what another tool wrote.
type jsonObject struct {
	keys []string
	vals map[string]json.RawMessage
}

// parseJSONObject parses data, which must hold exactly one JSON object. A
// duplicate key keeps its first position and its last value, as
// encoding/json reads it. Errors never quote the input.
func parseJSONObject(data []byte) (*jsonObject, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonSyntaxError(err, dec)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	obj := &jsonObject{vals: make(map[string]json.RawMessage)}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonSyntaxError(err, dec)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("malformed JSON object")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, jsonSyntaxError(err, dec)
		}
		obj.set(key, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonSyntaxError(err, dec)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("malformed JSON: data after the object at byte %d", dec.InputOffset())
	}
	return obj, nil
}

// jsonSyntaxError describes a decoding error by position only: the
// decoder's own messages may quote the input, which may be a secret.
func jsonSyntaxError(err error, dec *json.Decoder) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("malformed JSON at byte %d", syn.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: unexpected end of file")
	}
	return fmt.Errorf("malformed JSON near byte %d", dec.InputOffset())
}

func (o *jsonObject) get(key string) (json.RawMessage, bool) {
	v, ok := o.vals[key]
	return v, ok
}

func (o *jsonObject) set(key string, v json.RawMessage) {
	if o.vals == nil {
		o.vals = make(map[string]json.RawMessage)
	}
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

func (o *jsonObject) del(key string) {
	if _, ok := o.vals[key]; !ok {
		return
	}
	delete(o.vals, key)
	o.keys = slices.DeleteFunc(o.keys, func(k string) bool { return k == key })
}

// rename gives the value of from the name to, in from's position; to must
// not exist.
func (o *jsonObject) rename(from, to string) {
	v, ok := o.vals[from]
	if !ok {
		return
	}
	delete(o.vals, from)
	o.vals[to] = v
	o.keys[slices.Index(o.keys, from)] = to
}

func (o *jsonObject) clone() *jsonObject {
	return &jsonObject{keys: slices.Clone(o.keys), vals: maps.Clone(o.vals)}
}

// marshal encodes the object compactly, keys in order.
func (o *jsonObject) marshal() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonString(k))
		b.WriteByte(':')
		b.Write(o.vals[k])
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Compact(&out, b.Bytes()); err != nil {
		// Every value was validated by the decoder or produced by the
		// encoder; reaching this is a bug.
		panic("auth: building auth file JSON: " + err.Error())
	}
	return out.Bytes()
}
