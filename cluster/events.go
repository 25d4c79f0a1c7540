package cluster

import (
	"context"
	"encoding/json"
	"time"

	"github.com/caddy-cliproxy/cliproxy/outcome"
)

// event is one usage or error event on its way to Redis.
type event struct {
	usage   bool
	payload []byte
}

// The cluster keeps the pool's usage and error events in Redis.
var _ outcome.Recorder = (*Cluster)(nil)

// Request implements outcome.Recorder: it appends the request's usage
// event (a UsageRecord), as JSON, to the usage list (trimmed to the
// retention) and publishes it on the usage channel. It never waits for
// Redis: while Redis is down or the queue is full, the event is dropped
// (the usage log still has it).
func (c *Cluster) Request(r *outcome.Request) { c.emit(true, usageRecordOf(r)) }

// Failure implements outcome.Recorder: it publishes f, as JSON, on the
// errors channel, as Request does.
func (c *Cluster) Failure(f outcome.Failure) { c.emit(false, f) }

// Attempt implements outcome.Recorder; attempts are not published.
func (c *Cluster) Attempt(outcome.Attempt) {}

// UsageRecord is a usage event as a consumer of the Redis list reads it:
// the fields of the cliproxy.usage log entry, durations in milliseconds.
type UsageRecord struct {
	Time                time.Time `json:"time"`
	Client              string    `json:"client"`
	Provider            string    `json:"provider"`
	Model               string    `json:"model"`
	Credential          string    `json:"credential"`
	Status              int       `json:"status"`
	Attempts            int       `json:"attempts"`
	LatencyMS           float64   `json:"latency_ms"`
	TTFBMS              float64   `json:"ttfb_ms"`
	InputTokens         int64     `json:"input_tokens"`
	OutputTokens        int64     `json:"output_tokens"`
	CacheReadTokens     int64     `json:"cache_read_tokens"`
	CacheCreationTokens int64     `json:"cache_creation_tokens"`
	// QuotaWindow and QuotaUtilization are the fullest usage window the
	// answer reported for its credential; left out when it reported none.
	QuotaWindow      string  `json:"quota_window,omitempty"`
	QuotaUtilization float64 `json:"quota_utilization,omitempty"`
}

func usageRecordOf(r *outcome.Request) UsageRecord {
	return UsageRecord{
		Time: time.Now().Add(-r.Latency), Client: r.Client, Provider: r.Provider, Model: r.Model,
		Credential: r.Credential, Status: r.Status, Attempts: r.Attempts,
		LatencyMS: millis(r.Latency), TTFBMS: millis(r.FirstByte),
		InputTokens: r.Tokens.Input, OutputTokens: r.Tokens.Output,
		CacheReadTokens: r.Tokens.CacheRead, CacheCreationTokens: r.Tokens.CacheCreation,
		QuotaWindow: r.QuotaWindow, QuotaUtilization: r.QuotaUtilization,
	}
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (c *Cluster) emit(usage bool, ev any) {
	if !c.Up() {
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	select {
	case c.events <- event{usage: usage, payload: b}:
	default:
	}
}

func (c *Cluster) eventLoop() {
	defer c.wg.Done()
	batch := make([]event, 0, 256)
	for {
		select {
		case <-c.ctx.Done():
			return
		case ev := <-c.events:
			batch = append(batch, ev)
		}
	more:
		for len(batch) < cap(batch) {
			select {
			case ev := <-c.events:
				batch = append(batch, ev)
			default:
				break more
			}
		}
		c.flushEvents(batch)
		clear(batch)
		batch = batch[:0]
	}
}

// flushEvents writes batch in one pipeline: the usage events pushed to the
// tail of the list, the list trimmed to its newest retention events, and
// each event published.
func (c *Cluster) flushEvents(batch []event) {
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	p := c.rdb.Pipeline()
	var usage []any
	for _, ev := range batch {
		if ev.usage {
			usage = append(usage, ev.payload)
		}
	}
	if len(usage) > 0 {
		p.RPush(ctx, UsageList, usage...)
		p.LTrim(ctx, UsageList, -c.retention, -1)
	}
	for _, ev := range batch {
		ch := ErrorChannel
		if ev.usage {
			ch = UsageChannel
		}
		p.Publish(ctx, ch, ev.payload)
	}
	if _, err := p.Exec(ctx); err != nil {
		c.markDown(err)
	}
}
