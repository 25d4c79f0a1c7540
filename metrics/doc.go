// Package metrics holds cliproxy's Prometheus collectors (see
// docs/metrics.md): the [Recorder] each handler's executor reports
// finished requests to (requests, attempts, time to first byte, tokens,
// session affinity), the credentials' health read at scrape time, the
// pools' usage queues and the Redis link. The collectors are made once per
// process and registered into the registry of every config that loads, so
// the counters carry on across reloads. It has no dependency on Caddy.
package metrics
