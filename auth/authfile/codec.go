package authfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

// The credential file types the gateway serves. A file may name another type
// (CLIProxyAPI knows more providers); it still parses, and the caller decides
// whether to skip it (see [AuthFile.Supported]).
const (
	FileTypeClaude    = "claude"     // Claude OAuth (sk-ant-oat…) or API key
	FileTypeCodex     = "codex"      // ChatGPT / Codex OAuth
	FileTypeGeminiCLI = "gemini-cli" // Google OAuth for Gemini Code Assist
	FileTypeGemini    = "gemini"     // Gemini API key
)

// AuthFile is one credential file of an auth directory, in CLIProxyAPI's
// format: a JSON object whose known keys are mirrored by the exported fields.
// Keys the gateway does not know are kept, in their order, and written back
// unchanged by [AuthFile.MarshalJSON], so rewriting a file after a token
// refresh never loses what another tool put there.
//
// The zero value is an empty file; set Name, Type and the secret fields to
// create one. Formatting an AuthFile (%v, %+v, %#v, String) never prints a
// secret. MarshalJSON does: it is the file format, not a log format.
//
// An AuthFile is not safe for concurrent mutation: do not change its fields,
// or call MarshalJSON, while a [Store] is saving it.
type AuthFile struct {
	// Name is the file name within the auth directory, e.g.
	// "claude-alice@example.com.json". It is not stored in the file.
	Name string

	// Type is the credential type ("type"), lower-cased: one of the
	// FileType constants, or another provider's name. CLIProxyAPI writes
	// Gemini CLI OAuth files with "type": "gemini"; such a file (one with
	// OAuth tokens and no "api_key") parses as [FileTypeGeminiCLI], and the
	// file keeps saying "gemini" when written back unless Type is changed.
	Type string

	// Email is the account's e-mail address ("email"); informative only.
	Email string

	// AccessToken, RefreshToken and IDToken are the OAuth tokens
	// ("access_token", "refresh_token", "id_token"). In CLIProxyAPI's Gemini
	// layout the first two live in a nested "token" object; they are read
	// from and written back to wherever the file keeps them.
	AccessToken  string
	RefreshToken string
	IDToken      string

	// APIKey is a static upstream key ("api_key"), for API-key files such as
	// type "gemini".
	APIKey string

	// Expired is when the access token expires ("expired", or "expiry" in
	// the nested "token" object); LastRefresh is when it was last refreshed
	// ("last_refresh"). Both are RFC 3339 strings in the file; epoch seconds
	// or milliseconds (numbers or numeric strings) are accepted too, and a
	// changed value is written back in the form the file already used. The
	// zero time means unknown.
	Expired     time.Time
	LastRefresh time.Time

	// AccountID is the ChatGPT account of a Codex file ("account_id"). When
	// the file has none, it is read from the id_token's claims (see
	// [oauth.AccountIDFromIDToken]).
	AccountID string

	// ProjectIDs are the Google Cloud projects of a Gemini CLI file
	// ("project_id": one string, possibly comma-separated, or an array).
	ProjectIDs []string

	// Disabled takes every credential of the file out of selection
	// ("disabled").
	Disabled bool

	// Priority is the credential's tier ("priority"); higher is preferred.
	Priority int

	// DisableCooling keeps the credential in rotation whatever the
	// upstream answers ("disable_cooling").
	DisableCooling bool

	// Label and Note are the operator's words about the account ("label",
	// "note"), shown in management; never sent upstream.
	Label, Note string

	// Weight is the share under weighted round robin ("weight"); nil when
	// the file does not set one.
	Weight *int

	// Websockets says whether the upstream may be reached over WebSocket
	// ("websockets"); nil when the file does not say.
	Websockets *bool

	// Headers are added to every upstream request ("headers").
	Headers map[string]string

	// ProxyURL is the egress proxy for this credential ("proxy_url").
	ProxyURL string

	// BaseURL overrides the provider's upstream ("base_url").
	BaseURL string

	// ExcludedModels are model patterns the credential never serves
	// ("excluded_models": an array, or one comma-separated string).
	ExcludedModels []string

	// OAuthClients says which clients an OAuth account serves
	// ("oauth_clients": "official" or "any"); "" takes the pool's setting.
	OAuthClients string

	// AuthHeader is how a claude API key is sent ("auth_header":
	// "x-api-key" or "bearer"); "" is x-api-key.
	AuthHeader string

	// Prefix makes the credential serve only "<prefix>/<model>" requests,
	// sent upstream as <model> ("prefix"); "" serves plain model names.
	Prefix string

	// RequestRetry is how many more times a request is sent to this
	// credential after a transient failure before the next credential is
	// tried ("request_retry", or "request-retry"); nil when the file does
	// not say.
	RequestRetry *int

	raw  *jsonObject // the object the file was parsed from; never mutated
	orig *AuthFile   // the known fields as parsed (or as last saved)

	// Set when a FileStore produced or saved the file, so that a later
	// Save merges over what is on disk instead of overwriting it.
	store     *FileStore
	storeName string
}

// ParseAuthFile parses the contents of the credential file called name. The
// error names the file and the offending key, never a value, so it is safe to
// log.
func ParseAuthFile(name string, data []byte) (*AuthFile, error) {
	f, err := parseAuthFile(name, data)
	if err != nil {
		return nil, fmt.Errorf("auth file %q: %w", name, err)
	}
	return f, nil
}

func parseAuthFile(name string, data []byte) (*AuthFile, error) {
	obj, err := parseJSONObject(data)
	if err != nil {
		return nil, err
	}
	f := &AuthFile{Name: name}
	if err := f.decodeFrom(obj); err != nil {
		return nil, err
	}
	if f.Type == "" {
		return nil, errors.New(`missing "type"`)
	}
	f.raw = obj
	f.orig = f.snapshot()
	return f, nil
}

// decodeFrom sets the known fields from obj and normalizes them.
func (f *AuthFile) decodeFrom(obj *jsonObject) error {
	for i := range authFields {
		fd := &authFields[i]
		raw, where, ok := fd.find(obj)
		if !ok {
			continue
		}
		if err := fd.decode(f, raw); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	f.Type = strings.ToLower(strings.TrimSpace(f.Type))
	if f.Type == FileTypeGemini && f.APIKey == "" && (f.AccessToken != "" || f.RefreshToken != "") {
		f.Type = FileTypeGeminiCLI
	}
	if f.AccountID == "" && f.IDToken != "" {
		f.AccountID = oauth.AccountIDFromIDToken(f.IDToken)
	}
	return nil
}

// UnmarshalJSON parses data like [ParseAuthFile], keeping f.Name.
func (f *AuthFile) UnmarshalJSON(data []byte) error {
	g, err := parseAuthFile(f.Name, data)
	if err != nil {
		return fmt.Errorf("auth file %q: %w", f.Name, err)
	}
	*f = *g
	return nil
}

// MarshalJSON returns the file's JSON: the object it was parsed from, with
// every known field the caller changed since written over it (in the form
// and place the file already used), unknown keys and their order kept, and
// hyphenated legacy keys (e.g. "access-token") renamed to their snake_case
// form. A file built from scratch gets its non-zero fields in a fixed order.
//
// The output contains secrets; never log it or serve it.
func (f AuthFile) MarshalJSON() ([]byte, error) {
	return f.merged(f.base()).marshal(), nil
}

// base is the object f's JSON is built on: what it was parsed from, or an
// empty object.
func (f *AuthFile) base() *jsonObject {
	if f.raw == nil {
		return &jsonObject{}
	}
	return f.raw
}

// merged returns a copy of base with legacy keys canonicalized and the
// known fields that f changed (relative to f.orig) written over it.
func (f *AuthFile) merged(base *jsonObject) *jsonObject {
	out := base.clone()
	canonicalizeLegacyKeys(out)
	orig := f.original()
	for i := range authFields {
		fd := &authFields[i]
		if fd.same(f, orig) {
			continue
		}
		fd.write(out, f)
	}
	return out
}

// original is what f's fields were when it was parsed or last saved; the
// zero file for one built from scratch.
func (f *AuthFile) original() *AuthFile {
	if f.orig == nil {
		return &AuthFile{}
	}
	return f.orig
}

// snapshot is a deep copy of f's known fields.
func (f *AuthFile) snapshot() *AuthFile {
	c := &AuthFile{
		Name:           f.Name,
		Type:           f.Type,
		Email:          f.Email,
		AccessToken:    f.AccessToken,
		RefreshToken:   f.RefreshToken,
		IDToken:        f.IDToken,
		APIKey:         f.APIKey,
		Expired:        f.Expired,
		LastRefresh:    f.LastRefresh,
		AccountID:      f.AccountID,
		ProjectIDs:     slices.Clone(f.ProjectIDs),
		Disabled:       f.Disabled,
		Priority:       f.Priority,
		DisableCooling: f.DisableCooling,
		Label:          f.Label,
		Note:           f.Note,
		ProxyURL:       f.ProxyURL,
		BaseURL:        f.BaseURL,
		OAuthClients:   f.OAuthClients,
		AuthHeader:     f.AuthHeader,
		Prefix:         f.Prefix,
		ExcludedModels: slices.Clone(f.ExcludedModels),
		Headers:        maps.Clone(f.Headers),
	}
	if f.Weight != nil {
		w := *f.Weight
		c.Weight = &w
	}
	if f.Websockets != nil {
		ws := *f.Websockets
		c.Websockets = &ws
	}
	if f.RequestRetry != nil {
		n := *f.RequestRetry
		c.RequestRetry = &n
	}
	return c
}

// Supported reports whether the file's type is one the gateway serves.
func (f *AuthFile) Supported() bool {
	switch f.Type {
	case FileTypeClaude, FileTypeCodex, FileTypeGeminiCLI, FileTypeGemini:
		return true
	}
	return false
}

// String names the file without any secret, so that logging an AuthFile by
// mistake (%v, %+v, %s, as value or pointer) cannot leak one.
func (f AuthFile) String() string {
	var b strings.Builder
	b.WriteString("auth file ")
	b.WriteString(strconv.Quote(f.Name))
	b.WriteString(" (")
	b.WriteString(quoteIfOdd(f.Type))
	if f.Email != "" {
		b.WriteString(", ")
		b.WriteString(quoteIfOdd(f.Email))
	}
	if f.Disabled {
		b.WriteString(", disabled")
	}
	b.WriteString(")")
	return b.String()
}

// quoteIfOdd quotes s unless it is plain printable text, so that a value
// read from a file cannot forge log output.
func quoteIfOdd(s string) string {
	if s == "" || strings.ContainsAny(s, " ,()\"\\") || strconv.Quote(s) != `"`+s+`"` {
		return strconv.Quote(s)
	}
	return s
}

// GoString keeps %#v from printing secrets too.
func (f AuthFile) GoString() string {
	return "AuthFile(" + f.String() + ")"
}

// authField describes one known key of the file format.
type authField struct {
	key    string // canonical snake_case key
	legacy string // hyphenated legacy spelling, "" when the key has none
	nested string // key inside the nested "token" object (Gemini layout), "" when none

	decode func(f *AuthFile, raw json.RawMessage) error
	same   func(a, b *AuthFile) bool
	// encode returns f's value for the key given the value it replaces
	// (nil when absent), or ok=false to remove the key.
	encode func(f *AuthFile, old json.RawMessage) (v json.RawMessage, ok bool)
}

// authFields lists the known keys in the order a new file gets them.
var authFields = []authField{
	stringField("type", "", "", func(f *AuthFile) *string { return &f.Type }),
	stringField("email", "", "", func(f *AuthFile) *string { return &f.Email }),
	stringField("access_token", "access-token", "access_token", func(f *AuthFile) *string { return &f.AccessToken }),
	stringField("refresh_token", "refresh-token", "refresh_token", func(f *AuthFile) *string { return &f.RefreshToken }),
	stringField("id_token", "id-token", "", func(f *AuthFile) *string { return &f.IDToken }),
	stringField("api_key", "api-key", "", func(f *AuthFile) *string { return &f.APIKey }),
	timeField("expired", "", "expiry", func(f *AuthFile) *time.Time { return &f.Expired }),
	timeField("last_refresh", "last-refresh", "", func(f *AuthFile) *time.Time { return &f.LastRefresh }),
	stringField("account_id", "account-id", "", func(f *AuthFile) *string { return &f.AccountID }),
	listField("project_id", "project-id", true, func(f *AuthFile) *[]string { return &f.ProjectIDs }),
	boolField("disabled", func(f *AuthFile) *bool { return &f.Disabled }),
	intField("priority", func(f *AuthFile) *int { return &f.Priority }),
	optIntField("weight", func(f *AuthFile) **int { return &f.Weight }),
	optBoolField("websockets", func(f *AuthFile) **bool { return &f.Websockets }),
	headersField("headers", func(f *AuthFile) *map[string]string { return &f.Headers }),
	stringField("proxy_url", "proxy-url", "", func(f *AuthFile) *string { return &f.ProxyURL }),
	stringField("base_url", "base-url", "", func(f *AuthFile) *string { return &f.BaseURL }),
	listField("excluded_models", "excluded-models", false, func(f *AuthFile) *[]string { return &f.ExcludedModels }),
	boolField("disable_cooling", func(f *AuthFile) *bool { return &f.DisableCooling }),
	stringField("label", "", "", func(f *AuthFile) *string { return &f.Label }),
	stringField("note", "", "", func(f *AuthFile) *string { return &f.Note }),
	stringField("oauth_clients", "", "", func(f *AuthFile) *string { return &f.OAuthClients }),
	stringField("auth_header", "", "", func(f *AuthFile) *string { return &f.AuthHeader }),
	stringField("prefix", "", "", func(f *AuthFile) *string { return &f.Prefix }),
	withLegacy("request-retry", optIntField("request_retry", func(f *AuthFile) **int { return &f.RequestRetry })),
}

// withLegacy gives fd a hyphenated legacy spelling.
func withLegacy(legacy string, fd authField) authField {
	fd.legacy = legacy
	return fd
}

// nestedTokenKey holds the OAuth tokens in CLIProxyAPI's Gemini layout (an
// oauth2.Token: access_token, refresh_token, expiry, token_type, …).
const nestedTokenKey = "token"

// find returns the value the field is read from: the canonical key, else the
// legacy key, else the nested token object's key, skipping nulls. where names
// the key for error messages.
func (fd *authField) find(obj *jsonObject) (raw json.RawMessage, where string, ok bool) {
	if v, ok := obj.get(fd.key); ok && !isJSONNull(v) {
		return v, strconv.Quote(fd.key), true
	}
	if fd.legacy != "" {
		if v, ok := obj.get(fd.legacy); ok && !isJSONNull(v) {
			return v, strconv.Quote(fd.legacy), true
		}
	}
	if fd.nested != "" {
		if tok := nestedToken(obj); tok != nil {
			if v, ok := tok.get(fd.nested); ok && !isJSONNull(v) {
				return v, strconv.Quote(nestedTokenKey + "." + fd.nested), true
			}
		}
	}
	return nil, "", false
}

// write sets f's value of the field into obj (whose legacy keys are already
// canonical), in the place the field is read from: the top-level key when
// it holds a value or there is no nested token object, else the nested one.
func (fd *authField) write(obj *jsonObject, f *AuthFile) {
	if fd.nested != "" {
		top, hasTop := obj.get(fd.key)
		if tok := nestedToken(obj); tok != nil && (!hasTop || isJSONNull(top)) {
			_, inToken := tok.get(fd.nested)
			if inToken || isGeminiTokenLayout(tok) {
				old, _ := tok.get(fd.nested)
				if v, ok := fd.encode(f, old); ok {
					tok.set(fd.nested, v)
				} else {
					tok.del(fd.nested)
				}
				obj.set(nestedTokenKey, tok.marshal())
				return
			}
		}
	}
	old, _ := obj.get(fd.key)
	if v, ok := fd.encode(f, old); ok {
		obj.set(fd.key, v)
	} else {
		obj.del(fd.key)
	}
}

// nestedToken returns a copy of obj's nested "token" object, or nil.
func nestedToken(obj *jsonObject) *jsonObject {
	v, ok := obj.get(nestedTokenKey)
	if !ok || len(bytes.TrimSpace(v)) == 0 || bytes.TrimSpace(v)[0] != '{' {
		return nil
	}
	tok, err := parseJSONObject(v)
	if err != nil {
		return nil
	}
	return tok
}

// isGeminiTokenLayout reports whether a nested token object is where the
// file keeps its OAuth tokens.
func isGeminiTokenLayout(tok *jsonObject) bool {
	_, a := tok.get("access_token")
	_, r := tok.get("refresh_token")
	return a || r
}

// canonicalizeLegacyKeys renames hyphenated legacy keys to their snake_case
// form in place, keeping the value the parser reads.
func canonicalizeLegacyKeys(obj *jsonObject) {
	for i := range authFields {
		fd := &authFields[i]
		if fd.legacy == "" {
			continue
		}
		lv, hasLegacy := obj.get(fd.legacy)
		if !hasLegacy {
			continue
		}
		cv, hasCanon := obj.get(fd.key)
		if hasCanon && (!isJSONNull(cv) || isJSONNull(lv)) {
			obj.del(fd.legacy)
			continue
		}
		obj.del(fd.key)
		obj.rename(fd.legacy, fd.key)
	}
}

func stringField(key, legacy, nested string, p func(*AuthFile) *string) authField {
	return authField{
		key: key, legacy: legacy, nested: nested,
		decode: func(f *AuthFile, raw json.RawMessage) error {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return errors.New("want a string")
			}
			*p(f) = s
			return nil
		},
		same: func(a, b *AuthFile) bool { return *p(a) == *p(b) },
		encode: func(f *AuthFile, _ json.RawMessage) (json.RawMessage, bool) {
			return jsonString(*p(f)), true
		},
	}
}

func boolField(key string, p func(*AuthFile) *bool) authField {
	return scalarField(key, p, decodeBool, strconv.FormatBool)
}

func optBoolField(key string, p func(*AuthFile) **bool) authField {
	return optScalarField(key, p, decodeBool, strconv.FormatBool)
}

func intField(key string, p func(*AuthFile) *int) authField {
	return scalarField(key, p, decodeInt, strconv.Itoa)
}

func optIntField(key string, p func(*AuthFile) **int) authField {
	return optScalarField(key, p, decodeInt, strconv.Itoa)
}

// scalarField codes a plain JSON scalar field (a bool, an int).
func scalarField[T comparable](key string, p func(*AuthFile) *T,
	decode func(json.RawMessage) (T, error), format func(T) string,
) authField {
	return authField{
		key: key,
		decode: func(f *AuthFile, raw json.RawMessage) error {
			v, err := decode(raw)
			if err != nil {
				return err
			}
			*p(f) = v
			return nil
		},
		same: func(a, b *AuthFile) bool { return *p(a) == *p(b) },
		encode: func(f *AuthFile, _ json.RawMessage) (json.RawMessage, bool) {
			return json.RawMessage(format(*p(f))), true
		},
	}
}

// optScalarField codes a scalar field that may be absent (nil).
func optScalarField[T comparable](key string, p func(*AuthFile) **T,
	decode func(json.RawMessage) (T, error), format func(T) string,
) authField {
	return authField{
		key: key,
		decode: func(f *AuthFile, raw json.RawMessage) error {
			v, err := decode(raw)
			if err != nil {
				return err
			}
			*p(f) = &v
			return nil
		},
		same: func(a, b *AuthFile) bool { return ptrEqual(*p(a), *p(b)) },
		encode: func(f *AuthFile, _ json.RawMessage) (json.RawMessage, bool) {
			if *p(f) == nil {
				return nil, false
			}
			return json.RawMessage(format(**p(f))), true
		},
	}
}

func timeField(key, legacy, nested string, p func(*AuthFile) *time.Time) authField {
	return authField{
		key: key, legacy: legacy, nested: nested,
		decode: func(f *AuthFile, raw json.RawMessage) error {
			t, err := decodeTime(raw)
			if err != nil {
				return err
			}
			*p(f) = t
			return nil
		},
		same: func(a, b *AuthFile) bool { return p(a).Equal(*p(b)) },
		encode: func(f *AuthFile, old json.RawMessage) (json.RawMessage, bool) {
			t := *p(f)
			if t.IsZero() {
				return nil, false
			}
			// Keep the epoch form a file used, as long as the number
			// reads back as the same unit; else write RFC 3339.
			if n, ok := jsonNumber(old); ok {
				if math.Abs(n) >= epochMillisThreshold {
					if ms := t.UnixMilli(); math.Abs(float64(ms)) >= epochMillisThreshold {
						return json.RawMessage(strconv.FormatInt(ms, 10)), true
					}
				} else if sec := t.Unix(); sec != 0 && math.Abs(float64(sec)) < epochMillisThreshold {
					return json.RawMessage(strconv.FormatInt(sec, 10)), true
				}
			}
			return jsonString(t.Format(time.RFC3339Nano)), true
		},
	}
}

// listField is a list of names held either as a JSON array or as one
// comma-separated string. A changed list keeps the form the file used; a
// new key gets a string when joined is true, else an array.
func listField(key, legacy string, joined bool, p func(*AuthFile) *[]string) authField {
	return authField{
		key: key, legacy: legacy,
		decode: func(f *AuthFile, raw json.RawMessage) error {
			v, err := decodeList(raw)
			if err != nil {
				return err
			}
			*p(f) = v
			return nil
		},
		same: func(a, b *AuthFile) bool { return slices.Equal(*p(a), *p(b)) },
		encode: func(f *AuthFile, old json.RawMessage) (json.RawMessage, bool) {
			list := *p(f)
			if len(list) == 0 {
				return nil, false
			}
			asString := joined
			if t := bytes.TrimSpace(old); len(t) > 0 && (t[0] == '"' || t[0] == '[') {
				asString = t[0] == '"'
			}
			if asString && !slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, ",") }) {
				return jsonString(strings.Join(list, ",")), true
			}
			return mustMarshal(list), true
		},
	}
}

func headersField(key string, p func(*AuthFile) *map[string]string) authField {
	return authField{
		key: key,
		decode: func(f *AuthFile, raw json.RawMessage) error {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				return errors.New("want an object of strings")
			}
			h := make(map[string]string, len(m))
			for k, v := range m {
				s, ok := v.(string)
				if !ok {
					return fmt.Errorf("header %q: want a string", k)
				}
				if !validHeaderName(k) {
					return fmt.Errorf("header %q: invalid name", k)
				}
				if strings.ContainsAny(s, "\r\n\x00") {
					return fmt.Errorf("header %q: invalid value", k)
				}
				h[k] = s
			}
			*p(f) = h
			return nil
		},
		same: func(a, b *AuthFile) bool { return maps.Equal(*p(a), *p(b)) },
		encode: func(f *AuthFile, _ json.RawMessage) (json.RawMessage, bool) {
			if len(*p(f)) == 0 {
				return nil, false
			}
			return mustMarshal(*p(f)), true
		},
	}
}

// validHeaderName reports whether name is an HTTP field name (an RFC 9110
// token).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
