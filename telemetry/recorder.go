package telemetry

import "github.com/caddy-cliproxy/cliproxy/outcome"

// The hub keeps the records of the requests the executor reports.
var _ outcome.Recorder = (*Hub)(nil)

// Request implements outcome.Recorder: r's usage record goes to the
// queue and the usage channel.
func (h *Hub) Request(r *outcome.Request) { h.Usage(UsageRecord(r)) }

// Failure implements outcome.Recorder: f's error event goes to the errors
// channel.
func (h *Hub) Failure(f outcome.Failure) { h.Error(ErrorEventOf(f)) }

// Attempt implements outcome.Recorder; attempts make no record of their
// own (a failed one is a Failure).
func (h *Hub) Attempt(outcome.Attempt) {}

// UsageRecord is r in the seed's field names. Names only: the client's
// principal, the credential's name.
func UsageRecord(r *outcome.Request) *Record {
	rec := &Record{
		Timestamp:  Time(r.Start),
		LatencyMS:  r.Latency.Milliseconds(),
		TTFTMS:     r.FirstByte.Milliseconds(),
		Provider:   r.Provider,
		Model:      r.Model,
		Endpoint:   r.Endpoint,
		AuthIndex:  r.Credential,
		Client:     r.Client,
		RequestID:  r.RequestID,
		Failed:     r.Failed,
		Status:     r.Status,
		Attempts:   r.Attempts,
		FinishedAt: Time(r.Start.Add(r.Latency)),
		Tokens: Tokens{
			Input:         r.Tokens.Input,
			Output:        r.Tokens.Output,
			Reasoning:     r.Tokens.Reasoning,
			Cached:        r.Tokens.CacheRead,
			CacheRead:     r.Tokens.CacheRead,
			CacheCreation: r.Tokens.CacheCreation,
			Total:         r.Tokens.Total(r.Family),
		},
	}
	if r.Credential != "" {
		rec.AuthType = AuthTypeAPIKey
		if r.OAuth {
			rec.AuthType = AuthTypeOAuth
		}
	}
	if r.Failed {
		rec.Fail = &Fail{StatusCode: r.Status}
	}
	return rec
}

// authStatuses are the AuthStatus.Status values, by outcome.Failure.Blocked
// (auth.BlockReason).
var authStatuses = map[string]string{
	"cooldown": AuthCooldown,
	"disabled": AuthDisabled,
	"other":    AuthError,
}

// ErrorEventOf is f in the seed's field names.
func ErrorEventOf(f outcome.Failure) *ErrorEvent {
	ev := &ErrorEvent{
		Timestamp:  Time(f.Time),
		Provider:   f.Provider,
		Model:      f.Model,
		AuthIndex:  f.Credential,
		StatusCode: f.Status,
		Code:       f.Code,
		Retryable:  f.Retryable,
		Client:     f.Client,
		Message:    f.Message,
	}
	if f.Credential == "" {
		return ev
	}
	ev.AuthStatus.Status = AuthActive
	if st, ok := authStatuses[f.Blocked]; ok {
		ev.AuthStatus.Status = st
	}
	ev.AuthStatus.Unavailable = f.Blocked != ""
	if !f.Until.IsZero() {
		until := Time(f.Until)
		ev.AuthStatus.NextRetryAfter = &until
	}
	return ev
}
