package mockupstream

import (
	"net/http"
	"strconv"
	"strings"
)

// anthropicErrorType is the Messages API error type for an HTTP status, per
// Anthropic's documented table.
func anthropicErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 504:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// openAIErrorTypeCode is the OpenAI error type and code for an HTTP status.
// A nil code encodes as JSON null.
func openAIErrorTypeCode(status int) (string, any) {
	switch status {
	case 401:
		return "invalid_request_error", "invalid_api_key"
	case 403:
		return "invalid_request_error", "unsupported_country_region_territory"
	case 404:
		return "invalid_request_error", "model_not_found"
	case 429:
		return "rate_limit_exceeded", "rate_limit_exceeded"
	}
	if status >= 500 {
		return "server_error", nil
	}
	return "invalid_request_error", nil
}

// geminiStatus is the google.rpc status name for an HTTP status.
func geminiStatus(status int) string {
	switch status {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case 500:
		return "INTERNAL"
	case 501:
		return "NOT_IMPLEMENTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	if status >= 500 {
		return "INTERNAL"
	}
	return "INVALID_ARGUMENT"
}

type anthropicError struct {
	Type      string               `json:"type"`
	Error     anthropicErrorDetail `json:"error"`
	RequestID string               `json:"request_id"`
}

type anthropicErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type openAIError struct {
	Error openAIErrorDetail `json:"error"`
}

type openAIErrorDetail struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   any    `json:"param"`
	Code    any    `json:"code"`
}

type geminiError struct {
	Error geminiErrorDetail `json:"error"`
}

type geminiErrorDetail struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

// writeProviderError answers status with family's error body and request-id
// header.
func writeProviderError(w http.ResponseWriter, family string, status int, message string) {
	id := setRequestID(w, family)
	var body any
	switch family {
	case familyAnthropic:
		body = anthropicError{
			Type:      "error",
			Error:     anthropicErrorDetail{Type: anthropicErrorType(status), Message: message},
			RequestID: id,
		}
	case familyGemini:
		body = geminiError{Error: geminiErrorDetail{Code: status, Message: message, Status: geminiStatus(status)}}
	default:
		typ, code := openAIErrorTypeCode(status)
		body = openAIError{Error: openAIErrorDetail{Message: message, Type: typ, Code: code}}
	}
	if family == familyGemini {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	writeJSONStatus(w, status, body)
}

// setRequestID sets the family's request-id header and returns its value.
func setRequestID(w http.ResponseWriter, family string) string {
	switch family {
	case familyAnthropic:
		id := newID("req_", 24)
		w.Header().Set("request-id", id)
		return id
	case familyOpenAI:
		id := newID("req_", 32)
		w.Header().Set("x-request-id", id)
		return id
	}
	return ""
}

// writeNotFound answers a path no provider serves.
func writeNotFound(w http.ResponseWriter, r *http.Request) {
	writeJSONStatus(w, http.StatusNotFound, openAIError{Error: openAIErrorDetail{
		Message: "mock upstream: no API at " + r.Method + " " + r.URL.Path,
		Type:    "invalid_request_error",
		Code:    "unknown_url",
	}})
}

func noKeyMessage(family string) string {
	switch family {
	case familyAnthropic:
		return "x-api-key header is required"
	case familyGemini:
		return "Request is missing required authentication credential. Expected OAuth 2 access token, API key, or other valid authentication credential."
	}
	return "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
}

func invalidJSONMessage(family string) string {
	switch family {
	case familyAnthropic:
		return "There was an issue with the request body: invalid JSON."
	case familyGemini:
		return "Invalid JSON payload received."
	}
	return "We could not parse the JSON body of your request."
}

func missingModelMessage(family string) string {
	if family == familyAnthropic {
		return "model: Field required"
	}
	return "you must provide a model parameter"
}

// defaultMessage is the message of a fault-programmed error.
// faultMessage is the message of a programmed fault. OpenAI's 401 names the
// key it refused, masked but with its first and last characters, as the
// real API does: a gateway must not pass it on.
func faultMessage(family string, status int, key string) string {
	if family != familyAnthropic && family != familyGemini && status == http.StatusUnauthorized && len(key) > 8 {
		return "Incorrect API key provided: " + key[:3] + strings.Repeat("*", len(key)-7) + key[len(key)-4:] +
			". You can find your API key at https://platform.openai.com/account/api-keys."
	}
	return defaultMessage(family, status)
}

func defaultMessage(family string, status int) string {
	switch family {
	case familyAnthropic:
		switch status {
		case 429:
			return "This request would exceed the rate limit for your organization. Please try again later."
		case 529:
			return "Overloaded"
		case 401:
			return "invalid x-api-key"
		}
	case familyGemini:
		switch status {
		case 429:
			return "Resource has been exhausted (e.g. check quota)."
		case 503:
			return "The model is overloaded. Please try again later."
		case 400:
			// a refused key is a 400 too, told apart by its ErrorInfo:
			// see Fault.InvalidKey
			return "Request contains an invalid argument."
		}
	default:
		switch status {
		case 429:
			return "Rate limit reached for requests. Please try again later."
		case 401:
			return "Incorrect API key provided."
		}
	}
	if t := http.StatusText(status); t != "" {
		return "mock upstream fault: " + t
	}
	return "mock upstream fault: status " + strconv.Itoa(status)
}
