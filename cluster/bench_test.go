package cluster_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-cliproxy/cliproxy/internal/redistest"
	"github.com/caddy-cliproxy/cliproxy/session"
)

// BenchmarkBindingHit compares a bound session's lookup through the
// cluster (a local hit, its Redis refresh queued) with the plain local
// cache of a single instance, and reports the ratio: the hot path must
// stay local.
func BenchmarkBindingHit(b *testing.B) {
	srv := redistest.Start(b)
	const sessions = 1024
	keys := make([]string, sessions)
	for i := range keys {
		keys[i] = "session-" + strconv.Itoa(i)
	}
	local := session.NewCache(time.Hour, 0)
	defer local.Stop()
	for _, k := range keys {
		local.Set("cred-a", k)
	}
	shared := newInstance(b, srv.URL(0))
	waitUp(b, shared)
	for _, k := range keys {
		shared.cluster.Bindings().Set("cred-a", k)
	}

	var base, clustered float64
	b.Run("local", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			local.GetAndRefresh(keys[i%sessions])
		}
		base = float64(b.Elapsed()) / float64(b.N)
	})
	b.Run("cluster", func(b *testing.B) {
		bind := shared.cluster.Bindings()
		for i := 0; b.Loop(); i++ {
			if _, ok := bind.GetAndRefresh(keys[i%sessions]); !ok {
				b.Fatal("a bound session must hit")
			}
		}
		clustered = float64(b.Elapsed()) / float64(b.N)
	})
	if base > 0 && clustered > 0 {
		fmt.Printf("BindingHit cluster/local: %.0f ns / %.0f ns = %.2fx\n", clustered, base, clustered/base)
	}
}
