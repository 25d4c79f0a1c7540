package management

import (
	"sync"
	"time"
)

// The shape of a Timeline.
const (
	// TimelineStep is the span one bucket of a Timeline counts.
	TimelineStep = time.Minute
	// TimelineRetention is how far back a Timeline remembers.
	TimelineRetention = 24 * time.Hour

	timelineBuckets = int64(TimelineRetention / TimelineStep)
)

// Timeline keeps the usage of each credential and member per minute, for
// the last day, in memory: what the dashboard charts. A name costs memory
// only for the minutes it was used in (at most one bucket per minute of
// the day), and a name unused for a day is forgotten. Safe for concurrent
// use.
type Timeline struct {
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu          sync.Mutex
	credentials map[string]*series
	members     map[string]*series
}

// series is one name's buckets, oldest first, one per minute that saw a
// request.
type series []bucket

type bucket struct {
	minute int64 // minutes since the Unix epoch
	Totals
}

// NewTimeline returns an empty timeline.
func NewTimeline() *Timeline {
	return &Timeline{credentials: make(map[string]*series), members: make(map[string]*series)}
}

func (t *Timeline) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func minuteOf(ts time.Time) int64 { return ts.Unix() / int64(TimelineStep/time.Second) }

// Record adds one request of member, answered by credential ("" when no
// credential answered) with status, that cost tokens, to the current
// minute.
func (t *Timeline) Record(credential, member string, status int, tokens Tokens) {
	m := minuteOf(t.now())
	t.mu.Lock()
	defer t.mu.Unlock()
	if credential != "" {
		entry(t.credentials, credential).add(m, status, tokens)
	}
	if member != "" {
		entry(t.members, member).add(m, status, tokens)
	}
}

func (s *series) add(minute int64, status int, tokens Tokens) {
	b := *s
	if n := len(b); n > 0 && minute <= b[n-1].minute {
		// this minute's bucket, or a clock that stepped back: the
		// newest bucket takes it, so the buckets stay in order
		b[n-1].add(status, tokens)
		return
	}
	// drop what is older than a day before growing
	keep := 0
	for keep < len(b) && b[keep].minute <= minute-timelineBuckets {
		keep++
	}
	if keep > 0 {
		b = b[:copy(b, b[keep:])]
	}
	nb := bucket{minute: minute}
	nb.add(status, tokens)
	*s = append(b, nb)
}

// TimelineReport is a copy of a timeline's last minutes: per name, the
// buckets that saw a request, oldest first (a minute without one is
// left out).
type TimelineReport struct {
	// BucketSeconds is the span of a bucket: 60.
	BucketSeconds int `json:"bucket_seconds"`
	// From is the start of the first minute reported, To the end of the
	// last (the current minute, still counting).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Credentials and Members hold each name's buckets.
	Credentials map[string][]TimelineBucket `json:"credentials"`
	Members     map[string][]TimelineBucket `json:"members"`
}

// TimelineBucket is one minute of one name.
type TimelineBucket struct {
	// Start is when the minute began.
	Start time.Time `json:"start"`
	Totals
}

// Report returns the last minutes of the timeline, the current one
// included; minutes is capped to the retention, and at least 1.
func (t *Timeline) Report(minutes int) TimelineReport {
	n := min(max(int64(minutes), 1), timelineBuckets)
	last := minuteOf(t.now())
	first := last - n + 1
	r := TimelineReport{
		BucketSeconds: int(TimelineStep / time.Second),
		From:          minuteStart(first),
		To:            minuteStart(last + 1),
		Credentials:   make(map[string][]TimelineBucket),
		Members:       make(map[string][]TimelineBucket),
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	report(t.credentials, r.Credentials, first, last)
	report(t.members, r.Members, first, last)
	return r
}

// report copies the buckets of each name from first on into out, and
// forgets the names unused for a day.
func report(in map[string]*series, out map[string][]TimelineBucket, first, last int64) {
	for name, s := range in {
		b := *s
		if len(b) == 0 || b[len(b)-1].minute <= last-timelineBuckets {
			delete(in, name)
			continue
		}
		var list []TimelineBucket
		for _, bk := range b {
			if bk.minute >= first {
				list = append(list, TimelineBucket{Start: minuteStart(bk.minute), Totals: bk.Totals})
			}
		}
		if list != nil {
			out[name] = list
		}
	}
}

func minuteStart(minute int64) time.Time {
	return time.Unix(minute*int64(TimelineStep/time.Second), 0).UTC()
}
