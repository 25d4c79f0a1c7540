package executor

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// The stable codes of the errors the gateway itself answers with. Clients
// and operators may match on them.
const (
	CodeUnauthorized        = "invalid_client_key"
	CodeModelCooldown       = "model_cooldown"
	CodeAuthUnavailable     = "auth_unavailable"
	CodeModelNotSupported   = "model_not_supported"
	CodeRequestTooLarge     = "request_too_large"
	CodeRequestTimeout      = "request_timeout"
	CodeInvalidRequest      = "invalid_request"
	CodeUpstreamUnreachable = "upstream_unreachable"
	CodeUpstreamTimeout     = "upstream_timeout"
	// CodeNoCredentialForClient: only subscription accounts serve the
	// request, and they serve their own official CLI, which the request
	// does not come from.
	CodeNoCredentialForClient = "no_credential_for_client"
)

// noCredentialForClient is the answer to a request that only subscription
// accounts of another client family could serve, or that every account
// tried refused as not coming from its own client.
func noCredentialForClient(route Route, model string) *ClientError {
	official := map[Family]string{
		FamilyAnthropic: "Claude Code",
		FamilyOpenAI:    "the Codex CLI",
		FamilyGemini:    "the Gemini CLI",
	}[route.Family]
	what := fmt.Sprintf("model %q is", model)
	if model == "" {
		what = "this API is"
	}
	return &ClientError{
		Status: http.StatusForbidden,
		Code:   CodeNoCredentialForClient,
		Message: fmt.Sprintf("%s served here only by subscription accounts, which may be used by %s alone; "+
			"this client needs an API-key credential on the gateway", what, official),
	}
}

// ClientError is an error the gateway answers itself, written in the shape
// the client's own SDK parses. Messages never name a secret.
type ClientError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	// ResetAt is when the retry delay ends; zero means now + RetryAfter.
	ResetAt time.Time
	// Model and Provider say what is cooling, for model_cooldown; empty
	// for answers that concern no model.
	Model    string
	Provider string
}

func (e *ClientError) Error() string { return e.Message }

// maxAnnouncedWait bounds the retry delay the gateway tells a client: a
// recovery further off (a revoked credential) is not announced.
const maxAnnouncedWait = 24 * time.Hour

// announces reports whether the error tells the client when to retry.
func (e *ClientError) announces() bool {
	return e.RetryAfter > 0 && e.RetryAfter <= maxAnnouncedWait
}

// resetSeconds rounds the retry delay up to whole seconds, at least 1.
func (e *ClientError) resetSeconds() int64 {
	return max(1, int64(math.Ceil(e.RetryAfter.Seconds())))
}

// resetTime is when the retry delay ends, in RFC 3339 (UTC, whole seconds).
func (e *ClientError) resetTime() string {
	at := e.ResetAt
	if at.IsZero() {
		at = time.Now().Add(time.Duration(e.resetSeconds()) * time.Second)
	}
	return at.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// details are the fields beside code that say what is out and until when;
// empty for an error that names no model and announces no delay.
type details struct {
	Model        string `json:"model,omitempty"`
	Provider     string `json:"provider,omitempty"`
	ResetSeconds int64  `json:"reset_seconds,omitempty"`
	ResetTime    string `json:"reset_time,omitempty"`
}

func (e *ClientError) details() details {
	d := details{Model: e.Model, Provider: e.Provider}
	if e.announces() {
		d.ResetSeconds = e.resetSeconds()
		d.ResetTime = e.resetTime()
	}
	return d
}

// WriteError writes e in the error shape of family, with Retry-After when e
// carries a retry delay.
func WriteError(w http.ResponseWriter, family Family, e *ClientError) error {
	var payload any
	switch family {
	case FamilyAnthropic:
		payload = anthropicError(e)
	case FamilyGemini:
		payload = geminiError(e)
	default:
		payload = openAIError(e)
	}
	out, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	if e.announces() {
		h.Set("Retry-After", strconv.FormatInt(e.resetSeconds(), 10))
	}
	if retryCannotFix(e.Status) {
		h.Set("X-Should-Retry", "false")
	}
	w.WriteHeader(e.Status)
	_, err = w.Write(out)
	return err
}

// retryCannotFix reports whether the same request sent again must get the
// same answer: a refused client key, a malformed or oversized request, a
// model no credential serves. Such answers say x-should-retry: false,
// which the Stainless-built SDKs (Anthropic's, OpenAI's, and so Claude
// Code) obey; without it Claude Code retries a 401 for minutes, silently.
func retryCannotFix(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusNotImplemented:
		return true
	}
	return false
}

func anthropicError(e *ClientError) any {
	type detail struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Code    string `json:"code"`
		details
	}
	d := detail{Type: anthropicType(e.Status), Message: e.Message, Code: e.Code, details: e.details()}
	return struct {
		Type  string `json:"type"`
		Error detail `json:"error"`
	}{"error", d}
}

func anthropicType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

func openAIError(e *ClientError) any {
	type detail struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
		details
	}
	d := detail{Message: e.Message, Type: openAIType(e.Status), Code: e.Code, details: e.details()}
	return struct {
		Error detail `json:"error"`
	}{d}
}

func openAIType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

// geminiError follows google.rpc.Status, carrying the stable code as an
// ErrorInfo reason (model, provider and reset in its metadata) and the
// delay as RetryInfo, as Google's APIs do.
func geminiError(e *ClientError) any {
	info := map[string]any{
		"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
		"reason": e.Code,
		"domain": "cliproxy",
	}
	if meta := e.details().metadata(); len(meta) > 0 {
		info["metadata"] = meta
	}
	details := []map[string]any{info}
	if e.announces() {
		details = append(details, map[string]any{
			"@type":      "type.googleapis.com/google.rpc.RetryInfo",
			"retryDelay": strconv.FormatInt(e.resetSeconds(), 10) + "s",
		})
	}
	return map[string]any{"error": map[string]any{
		"code":    e.Status,
		"message": e.Message,
		"status":  grpcStatus(e.Status),
		"details": details,
	}}
}

// metadata is d as google.rpc.ErrorInfo metadata, whose values are strings.
func (d details) metadata() map[string]string {
	meta := map[string]string{}
	for k, v := range map[string]string{"model": d.Model, "provider": d.Provider, "reset_time": d.ResetTime} {
		if v != "" {
			meta[k] = v
		}
	}
	if d.ResetSeconds > 0 {
		meta["reset_seconds"] = strconv.FormatInt(d.ResetSeconds, 10)
	}
	return meta
}

func grpcStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return "UNAVAILABLE"
	}
	return "INTERNAL"
}
