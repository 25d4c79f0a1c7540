package telemetry

import (
	"testing"
	"time"
)

// BenchmarkHubUsage is the cost a request pays for its usage record with
// no collector reading: the record waits in the queue unencoded.
func BenchmarkHubUsage(b *testing.B) {
	h := NewHub(0, 0)
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		h.Usage(&Record{
			Timestamp: Time(start), LatencyMS: 812, TTFTMS: 95, Provider: "claude", Model: "claude-sonnet-4-5",
			Endpoint: "/v1/messages", AuthIndex: "claude-a", Client: "alice", RequestID: "req_01", Status: 200, Attempts: 1,
			FinishedAt: Time(start), Tokens: Tokens{Input: 1200, Output: 300, CacheRead: 50000, Total: 51500},
		})
	}
}
