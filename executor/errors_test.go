package executor

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

func writeErrorRecorded(t *testing.T, family Family, e *ClientError) (*httptest.ResponseRecorder, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	require.NoError(t, WriteError(rec, family, e))
	body := rec.Body.String()
	require.True(t, json.Valid([]byte(body)), "not JSON: %s", body)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, strconv.Itoa(len(body)), rec.Header().Get("Content-Length"))
	assert.Equal(t, e.Status, rec.Code)
	return rec, body
}

func TestWriteErrorRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		want       string // Retry-After header and reset_seconds; "" for none
	}{
		{"none", 0, ""},
		{"whole seconds", 30 * time.Second, "30"},
		{"rounded up", 1200 * time.Millisecond, "2"},
		{"just over", 30*time.Second + time.Nanosecond, "31"},
		{"under a second is one", 300 * time.Millisecond, "1"},
		{"a nanosecond is one", time.Nanosecond, "1"},
		{"long", 2 * time.Hour, "7200"},
	}
	for _, tt := range tests {
		for _, family := range []Family{FamilyAnthropic, FamilyOpenAI, FamilyGemini} {
			t.Run(tt.name+"/"+family.String(), func(t *testing.T) {
				rec, body := writeErrorRecorded(t, family, &ClientError{
					Status: http.StatusTooManyRequests, Code: CodeModelCooldown,
					Message: "every credential for model \"m\" is cooling down", RetryAfter: tt.retryAfter,
				})
				assert.Equal(t, tt.want, rec.Header().Get("Retry-After"))
				var reset gjson.Result
				switch family {
				case FamilyAnthropic:
					reset = gjson.Get(body, "error.reset_seconds")
				case FamilyOpenAI:
					reset = gjson.Get(body, "error.reset_seconds")
				case FamilyGemini:
					reset = gjson.Get(body, `error.details.#(@type=="type.googleapis.com/google.rpc.RetryInfo").retryDelay`)
				}
				if tt.want == "" {
					assert.False(t, reset.Exists(), "a delay without a retry: %s", body)
					return
				}
				if family == FamilyGemini {
					assert.Equal(t, tt.want+"s", reset.String(), body)
					return
				}
				assert.Equal(t, tt.want, reset.Raw, body)
			})
		}
	}
}

func TestWriteErrorAnthropic(t *testing.T) {
	tests := []struct {
		status   int
		code     string
		wantType string
	}{
		{401, CodeUnauthorized, "authentication_error"},
		{403, CodeAuthUnavailable, "permission_error"},
		{404, CodeModelNotSupported, "not_found_error"},
		{413, CodeRequestTooLarge, "request_too_large"},
		{429, CodeModelCooldown, "rate_limit_error"},
		{529, CodeAuthUnavailable, "overloaded_error"},
		{500, CodeAuthUnavailable, "api_error"},
		{502, CodeUpstreamUnreachable, "api_error"},
		{503, CodeAuthUnavailable, "api_error"},
		{400, CodeInvalidRequest, "invalid_request_error"},
		{415, CodeInvalidRequest, "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			_, body := writeErrorRecorded(t, FamilyAnthropic, &ClientError{Status: tt.status, Code: tt.code, Message: "msg <model> & \"x\""})
			assert.Equal(t, "error", gjson.Get(body, "type").String(), body)
			assert.Equal(t, tt.wantType, gjson.Get(body, "error.type").String(), body)
			assert.Equal(t, "msg <model> & \"x\"", gjson.Get(body, "error.message").String(), body)
			assert.Equal(t, tt.code, gjson.Get(body, "error.code").String(), body)
		})
	}
}

func TestWriteErrorOpenAI(t *testing.T) {
	tests := []struct {
		status   int
		code     string
		wantType string
	}{
		{401, CodeUnauthorized, "authentication_error"},
		{429, CodeModelCooldown, "rate_limit_error"},
		{500, CodeAuthUnavailable, "server_error"},
		{502, CodeUpstreamUnreachable, "server_error"},
		{503, CodeAuthUnavailable, "server_error"},
		{400, CodeInvalidRequest, "invalid_request_error"},
		{404, CodeModelNotSupported, "invalid_request_error"},
		{413, CodeRequestTooLarge, "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			_, body := writeErrorRecorded(t, FamilyOpenAI, &ClientError{Status: tt.status, Code: tt.code, Message: "no credential serves model \"gpt-4o\""})
			assert.Equal(t, tt.wantType, gjson.Get(body, "error.type").String(), body)
			assert.Equal(t, "no credential serves model \"gpt-4o\"", gjson.Get(body, "error.message").String(), body)
			assert.Equal(t, tt.code, gjson.Get(body, "error.code").String(), body)
			param := gjson.Get(body, "error.param")
			assert.True(t, param.Exists() && param.Type == gjson.Null, "OpenAI SDKs expect param: null: %s", body)
		})
	}
}

func TestWriteErrorGemini(t *testing.T) {
	tests := []struct {
		status     int
		code       string
		wantStatus string
	}{
		{400, CodeInvalidRequest, "INVALID_ARGUMENT"},
		{413, CodeRequestTooLarge, "INVALID_ARGUMENT"},
		{415, CodeInvalidRequest, "INVALID_ARGUMENT"},
		{401, CodeUnauthorized, "UNAUTHENTICATED"},
		{403, CodeAuthUnavailable, "PERMISSION_DENIED"},
		{404, CodeModelNotSupported, "NOT_FOUND"},
		{429, CodeModelCooldown, "RESOURCE_EXHAUSTED"},
		{502, CodeUpstreamUnreachable, "UNAVAILABLE"},
		{503, CodeAuthUnavailable, "UNAVAILABLE"},
		{504, CodeUpstreamUnreachable, "UNAVAILABLE"},
		{500, CodeAuthUnavailable, "INTERNAL"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			_, body := writeErrorRecorded(t, FamilyGemini, &ClientError{Status: tt.status, Code: tt.code, Message: "model gemini-2.5-pro"})
			assert.Equal(t, int64(tt.status), gjson.Get(body, "error.code").Int(), body)
			assert.Equal(t, tt.wantStatus, gjson.Get(body, "error.status").String(), body)
			assert.Equal(t, "model gemini-2.5-pro", gjson.Get(body, "error.message").String(), body)
			info := gjson.Get(body, `error.details.#(@type=="type.googleapis.com/google.rpc.ErrorInfo")`)
			require.True(t, info.Exists(), "no ErrorInfo: %s", body)
			assert.Equal(t, tt.code, info.Get("reason").String())
			assert.NotEmpty(t, info.Get("domain").String())
			assert.False(t, gjson.Get(body, `error.details.#(@type=="type.googleapis.com/google.rpc.RetryInfo")`).Exists())
		})
	}
}

func TestWriteErrorGeminiCooldown(t *testing.T) {
	rec, body := writeErrorRecorded(t, FamilyGemini, &ClientError{
		Status: http.StatusTooManyRequests, Code: CodeModelCooldown, Message: "cooling", RetryAfter: 42 * time.Second,
	})
	assert.Equal(t, "42", rec.Header().Get("Retry-After"))
	assert.Equal(t, "RESOURCE_EXHAUSTED", gjson.Get(body, "error.status").String())
	assert.Equal(t, 2, int(gjson.Get(body, "error.details.#").Int()), body)
	assert.Equal(t, CodeModelCooldown, gjson.Get(body, `error.details.#(@type=="type.googleapis.com/google.rpc.ErrorInfo").reason`).String())
	assert.Equal(t, "42s", gjson.Get(body, `error.details.#(@type=="type.googleapis.com/google.rpc.RetryInfo").retryDelay`).String())
}

// Unknown families fall back to the OpenAI shape, the most widely parsed.
func TestWriteErrorUnknownFamily(t *testing.T) {
	_, body := writeErrorRecorded(t, Family(0), &ClientError{Status: 503, Code: CodeAuthUnavailable, Message: "m"})
	assert.Equal(t, CodeAuthUnavailable, gjson.Get(body, "error.code").String(), body)
	assert.Equal(t, "server_error", gjson.Get(body, "error.type").String(), body)
}

func TestClientErrorError(t *testing.T) {
	var err error = &ClientError{Status: 404, Code: CodeModelNotSupported, Message: "no such model"}
	assert.Equal(t, "no such model", err.Error())
}

// An answer no retry can change says so, for the SDKs that retry on their
// own; one a retry may fix says nothing.
func TestWriteErrorSaysWhetherARetryHelps(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   string
	}{
		{http.StatusBadRequest, CodeInvalidRequest, "false"},
		{http.StatusUnauthorized, CodeUnauthorized, "false"},
		{http.StatusForbidden, CodeInvalidRequest, "false"},
		{http.StatusNotFound, CodeModelNotSupported, "false"},
		{http.StatusRequestEntityTooLarge, CodeRequestTooLarge, "false"},
		{http.StatusUnsupportedMediaType, CodeInvalidRequest, "false"},
		{http.StatusNotImplemented, CodeInvalidRequest, "false"},
		{http.StatusTooManyRequests, CodeModelCooldown, ""},
		{http.StatusServiceUnavailable, CodeAuthUnavailable, ""},
		{http.StatusBadGateway, CodeUpstreamUnreachable, ""},
	}
	for _, tt := range tests {
		for _, family := range []Family{FamilyAnthropic, FamilyOpenAI, FamilyGemini} {
			rec, _ := writeErrorRecorded(t, family, &ClientError{Status: tt.status, Code: tt.code, Message: "m"})
			assert.Equal(t, tt.want, rec.Header().Get("X-Should-Retry"), "%d %s", tt.status, family)
		}
	}
}

// A cooldown names its model and provider and says when it ends, in every
// shape; an error without a delay carries no reset fields.
func TestWriteErrorCooldownDetails(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ce := &ClientError{
		Status: http.StatusTooManyRequests, Code: CodeModelCooldown, Message: "cooling",
		RetryAfter: 42 * time.Second, ResetAt: at, Model: "m-1", Provider: "claude",
	}
	for _, fam := range []Family{FamilyAnthropic, FamilyOpenAI} {
		_, body := writeErrorRecorded(t, fam, ce)
		assert.Equal(t, "m-1", gjson.Get(body, "error.model").String(), body)
		assert.Equal(t, "claude", gjson.Get(body, "error.provider").String(), body)
		assert.EqualValues(t, 42, gjson.Get(body, "error.reset_seconds").Int(), body)
		assert.Equal(t, "2030-01-02T03:04:05Z", gjson.Get(body, "error.reset_time").String(), body)
	}
	_, body := writeErrorRecorded(t, FamilyGemini, ce)
	meta := gjson.Get(body, `error.details.#(@type=="type.googleapis.com/google.rpc.ErrorInfo").metadata`)
	assert.Equal(t, "m-1", meta.Get("model").String(), body)
	assert.Equal(t, "claude", meta.Get("provider").String(), body)
	assert.Equal(t, "42", meta.Get("reset_seconds").String(), body)
	assert.Equal(t, "2030-01-02T03:04:05Z", meta.Get("reset_time").String(), body)

	_, body = writeErrorRecorded(t, FamilyOpenAI, &ClientError{Status: 503, Code: CodeAuthUnavailable, Message: "m"})
	assert.False(t, gjson.Get(body, "error.reset_time").Exists(), body)
	assert.False(t, gjson.Get(body, "error.model").Exists(), body)
}
