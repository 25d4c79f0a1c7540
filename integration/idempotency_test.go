package integration

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Idempotency-Key is the client's: the upstream gets it byte for byte when
// the client sent one and never sees one the client did not send, in every
// body format and with session affinity on (where it must not become a
// session either).
func TestIdempotencyKeyForwardedOnlyWhenSent(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: affinityPool("")})
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			key := "idem-" + f.name + "-2b9f4c1e"
			h := f.header()
			h.Set("Idempotency-Key", key)
			res, body := g.do(http.MethodPost, f.path(f.model), h, f.body(1, 1))
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			reqs := g.mock.Requests()
			require.NotEmpty(t, reqs)
			assert.Equal(t, []string{key}, reqs[len(reqs)-1].Header.Values("Idempotency-Key"))

			res, body = g.do(http.MethodPost, f.path(f.model), f.header(), f.body(2, 1))
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			reqs = g.mock.Requests()
			assert.Empty(t, reqs[len(reqs)-1].Header.Values("Idempotency-Key"), "an Idempotency-Key the client did not send went upstream")
		})
	}
}
