package management

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTimelineCountsPerMinutePerName(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 18, 0, 10, 0, time.UTC)}
	tl := NewTimeline()
	tl.Now = clk.Now

	tl.Record("claude-a", "alice", 200, Tokens{Input: 10, Output: 2, CacheRead: 5})
	tl.Record("claude-a", "bob", 429, Tokens{})
	clk.Advance(40 * time.Second) // 18:00:50, same minute
	tl.Record("claude-b", "alice", 200, Tokens{Input: 1})
	clk.Advance(2 * time.Minute) // 18:02:50; 18:01 stays empty
	tl.Record("claude-a", "alice", 200, Tokens{Output: 7})
	tl.Record("", "carol", 503, Tokens{}) // no credential answered

	r := tl.Report(60)
	assert.Equal(t, 60, r.BucketSeconds)
	assert.Equal(t, time.Date(2026, 12, 1, 17, 3, 0, 0, time.UTC), r.From, "60 minutes, the current one last")
	assert.Equal(t, time.Date(2026, 12, 1, 18, 3, 0, 0, time.UTC), r.To)
	min0 := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	assert.Equal(t, []TimelineBucket{
		{Start: min0, Totals: Totals{Requests: 2, Errors: 1, Tokens: Tokens{Input: 10, Output: 2, CacheRead: 5}}},
		{Start: min0.Add(2 * time.Minute), Totals: Totals{Requests: 1, Tokens: Tokens{Output: 7}}},
	}, r.Credentials["claude-a"], "a minute without requests is left out")
	assert.Equal(t, []TimelineBucket{{Start: min0, Totals: Totals{Requests: 1, Tokens: Tokens{Input: 1}}}}, r.Credentials["claude-b"])
	assert.Len(t, r.Credentials, 2, "a request no credential answered counts for its member only")
	assert.Equal(t, int64(2), r.Members["alice"][0].Requests)
	assert.Equal(t, int64(1), r.Members["alice"][1].Requests)
	assert.Equal(t, []TimelineBucket{{Start: min0.Add(2 * time.Minute), Totals: Totals{Requests: 1, Errors: 1}}}, r.Members["carol"])

	one := tl.Report(1)
	assert.Equal(t, min0.Add(2*time.Minute), one.From)
	assert.NotContains(t, one.Credentials, "claude-b", "older minutes are outside the window")
	assert.Len(t, one.Credentials["claude-a"], 1)

	assert.Equal(t, one, tl.Report(0), "at least one minute")
	assert.Equal(t, min0.Add(3*time.Minute-TimelineRetention), tl.Report(1<<30).From, "at most the retention")
}

func TestTimelineKeepsOneDay(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	tl := NewTimeline()
	tl.Now = clk.Now
	tl.Record("once", "", 200, Tokens{})
	// two days of one request a minute
	for range 2 * 24 * 60 {
		tl.Record("busy", "alice", 200, Tokens{Input: 1})
		clk.Advance(time.Minute)
	}
	tl.mu.Lock()
	kept := len(*tl.credentials["busy"])
	tl.mu.Unlock()
	assert.Equal(t, 24*60, kept, "memory holds a day of buckets, no more")

	r := tl.Report(24 * 60)
	require.Len(t, r.Credentials["busy"], 24*60-1, "the current minute has had no request yet")
	assert.Equal(t, r.From, r.Credentials["busy"][0].Start)
	assert.NotContains(t, r.Credentials, "once")
	tl.mu.Lock()
	_, remembered := tl.credentials["once"]
	tl.mu.Unlock()
	assert.False(t, remembered, "a name unused for a day is forgotten")
}

func TestTimelineClockSteppingBack(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)}
	tl := NewTimeline()
	tl.Now = clk.Now
	tl.Record("a", "", 200, Tokens{})
	clk.Advance(-5 * time.Minute)
	tl.Record("a", "", 200, Tokens{})
	clk.Advance(5 * time.Minute)
	got := tl.Report(60).Credentials["a"]
	require.Len(t, got, 1, "buckets stay in order: the newest takes a request from the past")
	assert.Equal(t, int64(2), got[0].Requests)
}

func TestUsageStatsFeedTheTimeline(t *testing.T) {
	u := NewUsageStats()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			u.Record("a", "alice", 200, Tokens{Input: 3})
			_ = u.Timeline().Report(5)
		})
	}
	wg.Wait()
	var requests, input int64
	for _, b := range u.Timeline().Report(2).Credentials["a"] {
		requests += b.Requests
		input += b.Tokens.Input
	}
	assert.Equal(t, int64(50), requests)
	assert.Equal(t, int64(150), input)
}
