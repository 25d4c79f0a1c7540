package cliproxy

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/metrics"
	"github.com/caddy-cliproxy/cliproxy/pool"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

// poolTelemetry is the RESP backend of the pool called name.
func poolTelemetry(name string) (telemetry.Backend, error) {
	st, err := findPool(name)
	if err != nil {
		return nil, err
	}
	return respBackend{st}, nil
}

// respBackend lets RESP clients of a pool in with its management key, or
// the runtime password from loopback, under the management API's lockout.
type respBackend struct{ st *pool.State }

func (b respBackend) Hub() *telemetry.Hub { return b.st.Telemetry }

// Authenticate implements telemetry.Authenticator with the guard of the
// pool's newest member that mounts the management API (its key, its
// allow_remote), or else one that takes only the runtime password; the
// pool's lockout counts the failures of both.
func (b respBackend) Authenticate(remote netip.Addr, password string) error {
	g := b.st.ManagementGuard()
	if g == nil {
		pw := os.Getenv(ManagementPasswordEnv)
		if pw == "" {
			return errors.New("ERR this pool has no management key; set one in the cliproxy management block, or " + ManagementPasswordEnv)
		}
		g = management.NewGuard(nil, pw, false, b.st.Lockout)
	}
	e := g.Check(remote, password)
	if e == nil {
		return nil
	}
	switch e.Code {
	case management.CodeRemoteRefused:
		return errors.New("ERR usage telemetry accepts only local clients here (management allow_remote is off)")
	case management.CodeLockedOut:
		return fmt.Errorf("ERR too many failed attempts from this address; try again in %s", e.RetryAfter.Round(time.Second))
	}
	return errors.New("WRONGPASS invalid username-password pair or user is disabled.") //nolint:staticcheck // Redis's own words, period included, which clients match
}

// usageQueueMetrics reports the usage queue of every pool in use; one
// collector per process, registered into every config's registry.
var usageQueueMetrics = sync.OnceValue(func() *metrics.UsageQueues {
	return metrics.NewUsageQueues(func(yield func(string, *telemetry.Hub) bool) {
		pools.Range(func(key, val any) bool {
			name, _ := key.(string)
			st, ok := val.(*pool.State)
			return !ok || yield(name, st.Telemetry)
		})
	})
})
