// Package telemetry keeps a gateway's usage telemetry the way CLIProxyAPI's
// collectors read it: one JSON record per finished request in a bounded
// in-memory queue that a collector drains, and two pub/sub channels,
// "usage" (the same records, as they happen) and "errors" (one event per
// failed upstream attempt). A RESP server (Redis protocol, on
// github.com/tidwall/redcon) serves them to any Redis client: AUTH, LPOP
// and RPOP of the queue, SUBSCRIBE to the channels.
//
// Nothing here waits on a collector: the queue drops its oldest records
// past its retention or its size (and counts them), and a subscriber that
// does not keep up is disconnected rather than allowed to hold a request
// back. A queue shared by several processes (a Redis list) plugs in as a
// SharedQueue.
//
// The package knows nothing of Caddy: the gateway wraps its listener with
// NewMux, which hands the connections whose first byte is a RESP marker
// (see FirstByteIsRESP) to the server, and gives the server an
// Authenticator.
package telemetry
