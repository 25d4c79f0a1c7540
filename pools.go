package cliproxy

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/pool"
)

// pools holds the state of each named credential pool across config
// reloads: the new handler is provisioned while the old one still runs, so
// both hold a reference and the state lives on as long as either does.
var pools = caddy.NewUsagePool()

// loadPoolState returns the shared state of the pool called name, with the
// session TTL set to ttl.
func loadPoolState(name string, ttl time.Duration) (*pool.State, error) {
	val, _, err := pools.LoadOrNew(name, func() (caddy.Destructor, error) {
		return pool.New(ttl), nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading pool %q: %w", name, err)
	}
	st := val.(*pool.State)
	st.Sessions.SetTTL(ttl)
	return st, nil
}

// logCredentials names the pool's credentials (never a secret), so an
// operator can see what an auth directory brought.
func (h *Handler) logCredentials(pool *auth.Pool, msg string) {
	names := make([]string, 0, len(pool.Credentials()))
	for _, c := range pool.Credentials() {
		names = append(names, c.String())
	}
	h.logger.Info(msg, zap.Strings("credentials", names))
}

// reloadPool rebuilds the pool when the auth directory changed or an
// operator enabled or disabled a credential; requests under way finish
// with the pool they started with. Rebuilds are serialized, so the last
// one sees the latest files and overrides.
func (h *Handler) reloadPool(msg string) {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	pool, err := h.buildPool()
	if err == nil {
		err = h.exec.SetPool(pool)
	}
	if err != nil {
		h.logger.Error("reloading credentials", zap.Error(err))
		return
	}
	if h.metrics != nil {
		h.metrics.Track(pool, h.keys.Names())
	}
	h.logCredentials(pool, msg)
}

// currentPool is the pool the handler serves from, nil before it has one.
func (h *Handler) currentPool() *auth.Pool {
	if h.exec == nil {
		return nil
	}
	return h.exec.Pool()
}
