package management

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/session"
)

// Backend is the gateway the API manages: one credential pool and its
// state.
type Backend interface {
	// Credentials returns every credential of the pool with its state,
	// ordered by name.
	Credentials() []Credential
	// SetDisabled disables or enables the credential called name until
	// it is changed again (config reloads keep it); an *Error with
	// CodeCredentialNotFound if there is none.
	SetDisabled(name string, disabled bool) error
	// Reset lifts the blocks of the credential called name for model, or
	// for every model when model is "", and returns how many states it
	// cleared.
	Reset(name, model string) (int, error)
	// SaveAuthFile writes f into the auth directory (0600, atomically)
	// and reports whether it is a new file.
	SaveAuthFile(ctx context.Context, f *authfile.AuthFile) (created bool, err error)
	// DeleteAuthFile removes the auth file called name; an *Error with
	// CodeAuthFileNotFound if there is none.
	DeleteAuthFile(ctx context.Context, name string) error
	// Bindings are the pool's session bindings.
	Bindings() SessionBindings
	// Strategy returns the strategy in use and the configured one
	// (canonical names).
	Strategy() (current, configured string)
	// SetStrategy switches the pool to the strategy of canonical name.
	SetStrategy(canonical string) error
	// Affinity returns the session affinity settings in use.
	Affinity() Affinity
	// Usage are the pool's usage totals.
	Usage() *UsageStats
}

// Affinity are the session affinity settings of a pool, as its newest
// handler has them.
type Affinity struct {
	// Enabled: conversations stay on the credential they started on.
	Enabled bool `json:"enabled"`
	// TTLSeconds is how long a binding lives after its last use.
	TTLSeconds int64 `json:"ttl_seconds"`
	// Subagents is "parent" (a Claude Code subagent shares its parent's
	// binding) or "separate".
	Subagents string `json:"subagents"`
}

// SessionBindings are the session bindings as the API lists and drops
// them: a *session.Cache, or in cluster mode the bindings shared with the
// other instances, so a drop reaches them too.
type SessionBindings interface {
	Range(fn func(key, cred string, expires time.Time) bool)
	Delete(key string) bool
	DeleteCredential(cred string) int
}

var _ SessionBindings = (*session.Cache)(nil)

// Credential is one credential as the API shows it: its snapshot (never a
// secret; the key only as a fingerprint) and how an operator changed it.
type Credential struct {
	auth.CredentialSnapshot
	// Override is "disabled" or "enabled" when an operator set it through
	// the API, "" otherwise.
	Override string `json:"override,omitempty"`
	// Usage are the credential's usage totals.
	Usage Totals `json:"usage"`
}

// The values of Credential.Override.
const (
	OverrideDisabled = "disabled"
	OverrideEnabled  = "enabled"
)

const (
	// maxAuthFileBody bounds an uploaded auth file (the store reads at
	// most 1 MiB).
	maxAuthFileBody = 1 << 20
	// maxSmallBody bounds the other request bodies.
	maxSmallBody = 64 << 10
	// defaultSessionLimit and maxSessionLimit bound a session listing.
	defaultSessionLimit = 1000
	maxSessionLimit     = 100000
	// defaultTimelineMinutes is the span of a timeline report.
	defaultTimelineMinutes = 60
)

// Serve answers the API request r for path, relative to the mount point
// (e.g. "credentials/claude-a/reset").
func Serve(w http.ResponseWriter, r *http.Request, b Backend, path string) {
	if err := serve(w, r, b, strings.Trim(path, "/")); err != nil {
		WriteError(w, err)
	}
}

// endpoints are listed by GET on the mount point.
var endpoints = []string{
	"GET credentials",
	"POST credentials/{name}/enable",
	"POST credentials/{name}/disable",
	"POST credentials/{name}/reset[?model=]",
	"PUT auth-files/{file}",
	"DELETE auth-files/{file}",
	"GET sessions[?credential=&limit=]",
	"DELETE sessions/{id}",
	"DELETE sessions?credential={name}",
	"GET strategy",
	"PUT strategy",
	"GET usage",
	"GET usage/timeline[?minutes=]",
	"GET ui/",
}

func serve(w http.ResponseWriter, r *http.Request, b Backend, path string) error {
	head, rest, _ := strings.Cut(path, "/")
	switch head {
	case "":
		if err := allow(r, http.MethodGet); err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, map[string]any{"endpoints": endpoints})
		return nil
	case "credentials":
		if rest == "" {
			if err := allow(r, http.MethodGet); err != nil {
				return err
			}
			return listCredentials(w, b)
		}
		name, action, ok := cutLast(rest)
		if !ok {
			return notFound(r)
		}
		if err := allow(r, http.MethodPost); err != nil {
			return err
		}
		return credentialAction(w, r, b, name, action)
	case "auth-files":
		if rest == "" || strings.Contains(rest, "/") {
			return notFound(r)
		}
		switch r.Method {
		case http.MethodPut:
			return putAuthFile(w, r, b, rest)
		case http.MethodDelete:
			return deleteAuthFile(w, r, b, rest)
		}
		return methodNotAllowed(http.MethodPut, http.MethodDelete)
	case "sessions":
		if rest == "" {
			switch r.Method {
			case http.MethodGet:
				return listSessions(w, r, b)
			case http.MethodDelete:
				return deleteCredentialSessions(w, r, b)
			}
			return methodNotAllowed(http.MethodGet, http.MethodDelete)
		}
		if err := allow(r, http.MethodDelete); err != nil {
			return err
		}
		return deleteSession(w, b, rest)
	case "strategy":
		if rest != "" {
			return notFound(r)
		}
		switch r.Method {
		case http.MethodGet:
			return strategy(w, b)
		case http.MethodPut:
			return setStrategy(w, r, b)
		}
		return methodNotAllowed(http.MethodGet, http.MethodPut)
	case "usage":
		if rest != "" && rest != "timeline" {
			return notFound(r)
		}
		if err := allow(r, http.MethodGet); err != nil {
			return err
		}
		if rest == "timeline" {
			return timeline(w, r, b)
		}
		WriteJSON(w, http.StatusOK, b.Usage().Report())
		return nil
	}
	return notFound(r)
}

// cutLast splits "a/b/c" into "a/b" and "c": credential names may hold a
// slash (a Gemini Code Assist project is "<file>/<project>").
func cutLast(s string) (string, string, bool) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func allow(r *http.Request, method string) error {
	if r.Method == method {
		return nil
	}
	return methodNotAllowed(method)
}

func methodNotAllowed(methods ...string) error {
	return newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed; use "+strings.Join(methods, " or "))
}

func notFound(r *http.Request) error {
	return newError(http.StatusNotFound, CodeNotFound, fmt.Sprintf("no management endpoint %s %s", r.Method, r.URL.Path))
}

func listCredentials(w http.ResponseWriter, b Backend) error {
	creds := b.Credentials()
	usage := b.Usage()
	for i := range creds {
		creds[i].Usage = usage.Credential(creds[i].Name)
	}
	WriteJSON(w, http.StatusOK, map[string]any{"credentials": creds})
	return nil
}

func credentialAction(w http.ResponseWriter, r *http.Request, b Backend, name, action string) error {
	switch action {
	case "enable", "disable":
		disabled := action == "disable"
		if err := b.SetDisabled(name, disabled); err != nil {
			return err
		}
		out := map[string]any{"credential": name, "disabled": disabled}
		if disabled {
			// its sessions find a new home at once rather than on
			// their next request
			out["sessions_dropped"] = b.Bindings().DeleteCredential(name)
		}
		WriteJSON(w, http.StatusOK, out)
		return nil
	case "reset":
		model := r.URL.Query().Get("model")
		n, err := b.Reset(name, model)
		if err != nil {
			return err
		}
		out := map[string]any{"credential": name, "cleared": n}
		if model != "" {
			out["model"] = model
		}
		WriteJSON(w, http.StatusOK, out)
		return nil
	}
	return notFound(r)
}

// CredentialNotFound is the error of an unknown credential name.
func CredentialNotFound(name string) *Error {
	return newError(http.StatusNotFound, CodeCredentialNotFound, fmt.Sprintf("no credential %q in this pool", name))
}

// AuthFileNotFound is the error of an unknown auth file.
func AuthFileNotFound(name string) *Error {
	return newError(http.StatusNotFound, CodeAuthFileNotFound, fmt.Sprintf("no auth file %q", name))
}

// NoAuthDir is the error of an auth file request to a pool without one
// auth directory.
func NoAuthDir(msg string) *Error {
	return newError(http.StatusConflict, CodeNoAuthDir, msg)
}

func putAuthFile(w http.ResponseWriter, r *http.Request, b Backend, name string) error {
	if err := authfile.CheckFileName(name); err != nil {
		return newError(http.StatusBadRequest, CodeInvalidAuthFile, err.Error())
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxAuthFileBody+1))
	if err != nil {
		return newError(http.StatusBadRequest, CodeBadRequest, "reading the auth file: "+err.Error())
	}
	if len(data) > maxAuthFileBody {
		return newError(http.StatusRequestEntityTooLarge, CodeInvalidAuthFile, fmt.Sprintf("auth files are at most %d bytes", maxAuthFileBody))
	}
	f, err := authfile.ParseAuthFile(name, data)
	if err != nil {
		// the parser's errors name keys, never values
		return newError(http.StatusBadRequest, CodeInvalidAuthFile, err.Error())
	}
	switch {
	case !f.Supported():
		return newError(http.StatusBadRequest, CodeInvalidAuthFile, fmt.Sprintf("auth file %q: type %q is not one this gateway serves (claude, codex, gemini-cli, gemini)", name, f.Type))
	case f.APIKey == "" && f.AccessToken == "" && f.RefreshToken == "":
		return newError(http.StatusBadRequest, CodeInvalidAuthFile, fmt.Sprintf("auth file %q: no api_key, access_token or refresh_token", name))
	}
	if f.ProxyURL != "" {
		// the loader would skip the file; say so now. The parser's
		// errors name the scheme, never the URL's user info.
		if _, err := auth.ParseProxyURL(f.ProxyURL); err != nil {
			return newError(http.StatusBadRequest, CodeInvalidAuthFile, fmt.Sprintf("auth file %q: %v", name, err))
		}
	}
	created, err := b.SaveAuthFile(r.Context(), f)
	if errors.Is(err, authfile.ErrUnresolvedLink) {
		return newError(http.StatusBadRequest, CodeInvalidAuthFile, fmt.Sprintf("auth file %q is a %v; remove it or create its target", name, authfile.ErrUnresolvedLink))
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	WriteJSON(w, status, map[string]any{"file": name, "type": f.Type, "created": created})
	return nil
}

func deleteAuthFile(w http.ResponseWriter, r *http.Request, b Backend, name string) error {
	if err := authfile.CheckFileName(name); err != nil {
		return newError(http.StatusBadRequest, CodeInvalidAuthFile, err.Error())
	}
	if err := b.DeleteAuthFile(r.Context(), name); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, map[string]any{"file": name, "deleted": true})
	return nil
}

// Binding is one session binding.
type Binding struct {
	Key        string    `json:"key"`
	Credential string    `json:"credential"`
	Expires    time.Time `json:"expires"`
}

func listSessions(w http.ResponseWriter, r *http.Request, b Backend) error {
	q := r.URL.Query()
	limit := defaultSessionLimit
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > maxSessionLimit {
			return newError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("limit must be an integer from 0 to %d", maxSessionLimit))
		}
		limit = n
	}
	only := q.Get("credential")
	count := 0
	byCred := map[string]int{}
	var list []Binding
	b.Bindings().Range(func(key, cred string, expires time.Time) bool {
		if only != "" && cred != only {
			return true
		}
		count++
		byCred[cred]++
		list = append(list, Binding{Key: key, Credential: cred, Expires: expires.UTC()})
		return true
	})
	slices.SortFunc(list, func(a, b Binding) int { return strings.Compare(a.Key, b.Key) })
	truncated := len(list) > limit
	if truncated {
		list = list[:limit]
	}
	if list == nil {
		list = []Binding{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{
		"count":         count,
		"by_credential": byCred,
		"bindings":      list,
		"truncated":     truncated,
	})
	return nil
}

// deleteSession drops the binding whose key is id, or every binding of the
// session id (as logs and {http.cliproxy.session} show it: the key holds
// it between the client's name and the model).
func deleteSession(w http.ResponseWriter, b Backend, id string) error {
	cache := b.Bindings()
	var keys []string
	inner := "::" + id + "::"
	cache.Range(func(key, _ string, _ time.Time) bool {
		if key == id || strings.Contains(key, inner) {
			keys = append(keys, key)
		}
		return true
	})
	n := 0
	for _, k := range keys {
		if cache.Delete(k) {
			n++
		}
	}
	if n == 0 {
		return newError(http.StatusNotFound, CodeSessionNotFound, fmt.Sprintf("no live binding of session %q", id))
	}
	WriteJSON(w, http.StatusOK, map[string]any{"session": id, "deleted": n})
	return nil
}

func deleteCredentialSessions(w http.ResponseWriter, r *http.Request, b Backend) error {
	name := r.URL.Query().Get("credential")
	if name == "" {
		return newError(http.StatusBadRequest, CodeBadRequest, "DELETE sessions needs ?credential=<name>, or use DELETE sessions/{id}")
	}
	n := b.Bindings().DeleteCredential(name)
	WriteJSON(w, http.StatusOK, map[string]any{"credential": name, "deleted": n})
	return nil
}

func strategy(w http.ResponseWriter, b Backend) error {
	cur, configured := b.Strategy()
	WriteJSON(w, http.StatusOK, map[string]any{"strategy": cur, "configured": configured, "affinity": b.Affinity()})
	return nil
}

// timeline answers the per-minute usage of the last ?minutes= (default 60).
func timeline(w http.ResponseWriter, r *http.Request, b Backend) error {
	minutes := defaultTimelineMinutes
	if raw := r.URL.Query().Get("minutes"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || int64(n) > timelineBuckets {
			return newError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("minutes must be an integer from 1 to %d", timelineBuckets))
		}
		minutes = n
	}
	WriteJSON(w, http.StatusOK, b.Usage().Timeline().Report(minutes))
	return nil
}

func setStrategy(w http.ResponseWriter, r *http.Request, b Backend) error {
	var in struct {
		Strategy *string `json:"strategy"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxSmallBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Strategy == nil {
		return newError(http.StatusBadRequest, CodeBadRequest, `the body must be {"strategy": "<name>"}`)
	}
	canonical, err := selector.NormalizeStrategy(*in.Strategy)
	if err != nil || strings.TrimSpace(*in.Strategy) == "" {
		return newError(http.StatusBadRequest, CodeUnknownStrategy, fmt.Sprintf("unknown strategy %q (want round-robin, fill-first or weighted-round-robin)", *in.Strategy))
	}
	if err := b.SetStrategy(canonical); err != nil {
		return err
	}
	return strategy(w, b)
}
