// Package executor carries one client request from the choice of a
// credential to the finished response: it routes the request to a provider
// family, reads and inspects the body, adapts the request for each
// credential (upstream URL, auth header, extra headers), proxies it through
// Caddy's reverse_proxy, and fails over to the next credential when an
// upstream answers with an error another credential may not have.
package executor
