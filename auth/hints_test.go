package auth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// hintCap is the longest delay a Retry-After hint may ask for.
const hintCap = 365 * 24 * time.Hour

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{"seconds", "120", 120 * time.Second},
		{"one second", "1", time.Second},
		{"seconds with spaces", "  30 ", 30 * time.Second},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"empty", "", 0},
		{"blank", "   ", 0},
		{"garbage", "soon", 0},
		{"fraction", "1.5", 0},
		{"number with unit", "30s", 0},
		{"date in the future", date(90 * time.Second), 90 * time.Second},
		{"date an hour ahead", date(time.Hour), time.Hour},
		{"date in the past", date(-time.Hour), 0},
		{"date now", date(0), 0},
		{"RFC 850 date", now.Add(10 * time.Second).Format("Monday, 02-Jan-06 15:04:05 GMT"), 10 * time.Second},
		{"asctime date", now.Add(10 * time.Second).Format(time.ANSIC), 10 * time.Second},
		{"a year and a day of seconds is capped", "31622400", hintCap},
		{"max int64 seconds is capped", "9223372036854775807", hintCap},
		// delay-seconds is 1*DIGIT (RFC 9110 §10.2.3): a value too long for
		// an int64 is still a (very long) delay, not a missing hint.
		{"seconds beyond int64 are capped", "99999999999999999999999", hintCap},
		{"far-future date is capped like seconds", "Fri, 31 Dec 9999 23:59:59 GMT", hintCap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, auth.ParseRetryAfter(tt.value, now), "ParseRetryAfter(%q)", tt.value)
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, seed := range []string{
		"", "0", "1", "-1", "120", " 30 ", "1.5", "+7", "9223372036854775807",
		"99999999999999999999999", "-9223372036854775808",
		"Sun, 01 Jun 2025 12:01:00 GMT", "Sun, 01 Jun 2025 11:00:00 GMT",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
		"Sunday, 01-Jun-25 12:01:00 GMT", "Sun Jun  1 12:01:00 2025", "soon",
	} {
		f.Add(seed, int64(0))
	}
	f.Fuzz(func(t *testing.T, value string, offset int64) {
		d := auth.ParseRetryAfter(value, now.Add(time.Duration(offset)))
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, negative", value, d)
		}
	})
}
