package integration

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkRequestLogOverhead serves one successful request after another
// through Caddy with request_log off, errors and all, three rounds in
// turn, and prints each mode's best time per request as a ratio to off's.
// errors must cost nothing on a success: it copies no body and writes no
// file.
func BenchmarkRequestLogOverhead(b *testing.B) {
	g := startGateway(b, gatewayOptions{Handler: poolConfig + "\t\trequest_log off\n"})
	outer := g.t
	defer func() { g.t = outer }()
	const body = `{"model":"gpt-5","messages":[{"role":"user","content":"a question of modest length for the benchmark"}]}`
	best := map[string]float64{}
	for round := range 3 {
		for _, mode := range []string{"off", "errors", "all"} {
			b.Run(fmt.Sprintf("%s-%d", mode, round+1), func(b *testing.B) {
				g.t = b
				g.reload(gatewayOptions{Handler: poolConfig + "\t\trequest_log " + mode + "\n\t\trequest_log_max_files 20\n"})
				for b.Loop() {
					res, out := g.do(http.MethodPost, "/v1/chat/completions", bearer(), body)
					if res.StatusCode != http.StatusOK {
						b.Fatalf("status %d: %s", res.StatusCode, out)
					}
				}
				if per := float64(b.Elapsed().Nanoseconds()) / float64(b.N); best[mode] == 0 || per < best[mode] {
					best[mode] = per
				}
			})
		}
	}
	if base := best["off"]; base > 0 {
		fmt.Printf("request_log time per successful request relative to off: errors %.2f, all %.2f\n",
			best["errors"]/base, best["all"]/base)
	}
}
