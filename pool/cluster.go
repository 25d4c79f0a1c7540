package pool

import (
	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

// Cluster is what the pool shares with the other instances serving it
// (a *cluster.Cluster, on Redis): the credentials' health, the OAuth
// refreshes and the usage queue. The pool takes it as an interface so a
// program that uses the pool without a cluster links no Redis client.
type Cluster interface {
	auth.HealthSync
	authfile.Cluster
	telemetry.SharedQueue
}

// link is a linked cluster and its session bindings.
type link struct {
	cl       Cluster
	bindings management.SessionBindings
}
