package telemetry

import "time"

// TimeFormat is how records write their times: RFC 3339 in UTC with
// milliseconds, always the same width, so times compare as strings (the
// shared queue trims by age with a string comparison).
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Time is a time written in TimeFormat.
type Time time.Time

// MarshalJSON writes t in TimeFormat, in UTC.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeFormat)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, TimeFormat)
	return append(b, '"'), nil
}

// UnmarshalJSON reads any RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = Time(v)
	return nil
}

// The values of Record.AuthType.
const (
	AuthTypeAPIKey = "api_key"
	AuthTypeOAuth  = "oauth"
)

// Record is one finished request (or one WebSocket turn) in the field
// names of CLIProxyAPI's usage records, plus status and attempts. It holds
// names only: never a key, a token or a body.
type Record struct {
	// Timestamp is when the request arrived.
	Timestamp Time `json:"timestamp"`
	// LatencyMS is how long the whole request took; TTFTMS how long until
	// the answer's first byte was ready for the client.
	LatencyMS int64 `json:"latency_ms"`
	TTFTMS    int64 `json:"ttft_ms"`
	// Provider and AuthIndex name what served the answer ("" when no
	// credential did, e.g. every one was cooling); AuthType is api_key or
	// oauth. AuthIndex is the credential's name.
	Provider  string `json:"provider"`
	Model     string `json:"model"`
	Endpoint  string `json:"endpoint"`
	AuthType  string `json:"auth_type"`
	AuthIndex string `json:"auth_index"`
	// Client is the member's name, never their key.
	Client    string `json:"client"`
	RequestID string `json:"request_id"`
	// Failed says the client did not get a good answer (an error status,
	// an upstream failure passed on, a stream that broke off).
	Failed bool   `json:"failed"`
	Tokens Tokens `json:"tokens"`
	// Fail is set on a failed request.
	Fail *Fail `json:"fail,omitempty"`
	// Status is the HTTP status the client got (0: it went away).
	Status int `json:"status"`
	// Attempts is how many upstream attempts the request took.
	Attempts int `json:"attempts"`
	// FinishedAt is when the request ended and the record was queued; a
	// shared queue ages records by it.
	FinishedAt Time `json:"finished_at"`
}

// Tokens are what a request cost, as its provider reported it.
type Tokens struct {
	Input         int64 `json:"input"`
	Output        int64 `json:"output"`
	Reasoning     int64 `json:"reasoning"`
	Cached        int64 `json:"cached"`
	CacheRead     int64 `json:"cache_read"`
	CacheCreation int64 `json:"cache_creation"`
	Total         int64 `json:"total"`
}

// Fail describes a failed request.
type Fail struct {
	StatusCode int `json:"status_code"`
}

// ErrorEvent is one failed upstream attempt (AuthIndex set), or an error
// the gateway answered with itself (AuthIndex empty, Code set). It never
// carries a response body: an upstream's may name its account.
type ErrorEvent struct {
	Timestamp  Time   `json:"timestamp"`
	Provider   string `json:"provider,omitempty"`
	Model      string `json:"model"`
	AuthIndex  string `json:"auth_index"`
	StatusCode int    `json:"status_code"`
	Code       string `json:"code,omitempty"`
	// Retryable says another attempt (on another credential, or later)
	// may succeed.
	Retryable  bool       `json:"retryable"`
	AuthStatus AuthStatus `json:"auth_status"`
	// Client is the member's name; Message the gateway's own words.
	Client  string `json:"client,omitempty"`
	Message string `json:"message,omitempty"`
}

// The values of AuthStatus.Status.
const (
	AuthActive   = "active"
	AuthCooldown = "cooldown"
	AuthDisabled = "disabled"
	AuthError    = "error"
)

// AuthStatus is the state of the credential after a failed attempt.
type AuthStatus struct {
	Status         string `json:"status"`
	Unavailable    bool   `json:"unavailable"`
	NextRetryAfter *Time  `json:"next_retry_after,omitempty"`
}
