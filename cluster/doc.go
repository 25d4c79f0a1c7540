// Package cluster lets several gateway processes act as one by sharing
// their state in Redis: credential health (cooldowns and model states),
// session bindings, OAuth refreshes (one refresh per token across the
// processes) and the stream of usage and error events.
//
// Every process keeps its own in-memory state and serves from it; Redis
// is where the processes meet. A change made by one process is written to
// Redis and announced on a pub/sub channel, and the others apply it to
// their local state at once, so the request path reads locally and makes
// at most one Redis round trip (a session binding this process has not
// seen yet). Writes leave through a background queue in order.
//
// Redis being out of reach never fails a request: the process logs one
// warning, reports Up false, serves from its local state, and keeps
// trying; when Redis answers again it subscribes again and resynchronises:
// the newest state of each credential and model wins, and so does the
// newest binding of each session, so a Redis that restarted empty gets
// every binding back from the processes' memory.
package cluster
