package management

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// The codes of the API's errors. They are stable: scripts may match them.
const (
	CodeNotFound           = "not_found"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeBadRequest         = "bad_request"
	CodeCredentialNotFound = "credential_not_found"
	CodeSessionNotFound    = "session_not_found"
	CodeUnknownStrategy    = "unknown_strategy"
	CodeInvalidAuthFile    = "invalid_auth_file"
	CodeAuthFileNotFound   = "auth_file_not_found"
	CodeNoAuthDir          = "no_auth_dir"
	CodePoolNotFound       = "pool_not_found"
	CodePoolRequired       = "pool_required"
	CodeUnauthorized       = "unauthorized"
	CodeRemoteRefused      = "remote_refused"
	CodeLockedOut          = "locked_out"
	CodeInternal           = "internal_error"
)

// Error is an API error: the HTTP status, a stable code and a message for
// people. Messages name credentials and files, never a secret.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"error"`
	// RetryAfter, when positive, is sent as Retry-After and as
	// retry_after_seconds.
	RetryAfter time.Duration `json:"-"`
	// RetryAfterSeconds is RetryAfter rounded up, for the JSON body.
	RetryAfterSeconds int64 `json:"retry_after_seconds,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// newError builds an *Error.
func newError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// WriteError answers with err as JSON: an *Error as it is, anything else
// as a 500 with its message.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = newError(http.StatusInternalServerError, CodeInternal, err.Error())
	}
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		c := *e
		c.RetryAfterSeconds = secs
		e = &c
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	WriteJSON(w, e.Status, e)
}

// WriteJSON answers with v as indented JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
