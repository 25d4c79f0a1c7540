package executor

import "net/http"

// failsOver reports whether an upstream status says this credential cannot
// serve the request now while another one might: rate limits, quota and
// auth failures of the key, and transient upstream faults. The client's own
// faults (400, 404, 409, 413, 422) do not: every credential would answer
// them the same way.
func failsOver(status int) bool {
	switch status {
	case http.StatusTooManyRequests,
		http.StatusUnauthorized,
		http.StatusPaymentRequired,
		http.StatusForbidden,
		http.StatusRequestTimeout,
		529:
		return true
	}
	return status >= 500
}

// terminal reports whether an upstream status says the credential itself
// is unusable (revoked, unpaid, forbidden), not just busy: a session bound
// to it should find a new home rather than wait.
func terminal(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusPaymentRequired || status == http.StatusForbidden
}
