package auth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxHint caps any hint an upstream gives: a year is longer than any quota
// window, and the cap keeps time arithmetic far from overflow.
const maxHint = 365 * 24 * time.Hour

// ParseRetryAfter reads a Retry-After header value, either delay-seconds or
// an HTTP-date, and returns the delay from now. It returns 0 for an empty,
// malformed or past value.
func ParseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	secs, err := strconv.ParseInt(value, 10, 64)
	switch {
	case err == nil && secs <= 0:
		return 0
	case err == nil:
		// cap before multiplying so absurd values cannot overflow
		return min(time.Duration(min(secs, int64(maxHint/time.Second)))*time.Second, maxHint)
	case errors.Is(err, strconv.ErrRange) && value[0] != '-':
		return maxHint // RFC 9110 allows any number of digits
	}
	if t, err := http.ParseTime(value); err == nil && t.After(now) {
		return min(t.Sub(now), maxHint)
	}
	return 0
}
