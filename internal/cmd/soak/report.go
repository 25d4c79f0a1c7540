package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// The classes of client-visible errors.
const (
	// classNone: every credential that could serve the request was
	// failing, cooling from a failure or disabled.
	classNone = "no credential could answer"
	// classBroke: the upstream broke a stream after part of the answer
	// had reached the client; nothing can move such a stream.
	classBroke = "the upstream broke the stream after the answer began"
	// classOther: a credential was answering, yet the client got an
	// error. The goal is none.
	classOther = "another credential could have answered"
)

// lostBinding is the reason of a credential change nothing explains, and
// leftDetour that of a session leaving a detour that still answered while
// its home was out (a detour is kept until the home is back).
const (
	lostBinding = "none seen: the binding was lost"
	leftDetour  = "its home was still out and it left a detour that answered"
	outageBorn  = "begun while Redis was down: each instance placed it on its own until Redis was back"
)

type instanceFigures struct {
	Name       string
	Start, End idle
	PeakRSS    int64
}

type usageFigures struct {
	Source string
	// Popped is how many requests the popped records stand for, Twice
	// how many records were popped again (a write that failed as Redis
	// died may have reached it all the same)
	Popped, Twice int64
	// Lost is how many requests have no record popped; AtKill how many
	// records the Redis list held when Redis was killed (-1: unknown),
	// gone with it as it restarts empty
	Lost, AtKill  int64
	FinalDrainErr string
}

// lostOtherwise is how many records were lost apart from those in Redis
// when it was killed; the goal is none.
func (u usageFigures) lostOtherwise() int64 {
	return max(0, u.Lost-max(0, u.AtKill))
}

// report is what a run found.
type report struct {
	Command, Machine string
	Elapsed          time.Duration
	Config           config
	Reloads          int

	Requests, Answered int
	ByKind             map[string]int
	Conversations      int
	FailedOver         int // answered turns that tried more than one credential
	Errors             map[string]int
	failures           map[string][]turn // the failed turns, by class
	ErrorSamples       map[string][]string

	Resent        int64 // requests sent again after the gateway closed their connection
	Changed       int   // conversations that changed credential at least once
	changedConvs  []string
	Changes       int
	ChangeReasons map[string]int

	AddedP50, AddedP99, TTFBP50, TTFBP99 time.Duration

	Instances []instanceFigures
	Usage     usageFigures
	Timeline  []happened
}

func newReport(cfg config, d *driver, ch *chaos, w *watcher, up *upstream, keys *keyring, elapsed time.Duration) *report {
	r := &report{
		Command: strings.Join(os.Args, " "), Elapsed: elapsed, Config: cfg,
		ByKind: map[string]int{}, Errors: map[string]int{}, ErrorSamples: map[string][]string{}, ChangeReasons: map[string]int{},
	}
	for _, c := range []string{classNone, classBroke, classOther} {
		r.Errors[c] = 0
	}
	r.failures = map[string][]turn{}
	ch.mu.Lock()
	r.Reloads = ch.reloads
	r.Timeline = slices.Clone(ch.timeline)
	ch.mu.Unlock()
	cls := classifier{ch: ch, w: w, up: up, keys: keys, begin: ch.start}

	d.mu.Lock()
	defer d.mu.Unlock()
	r.Conversations = d.convs
	r.Resent = d.resent.Load()
	var added, ttfb []time.Duration
	for _, t := range d.turns {
		r.Requests++
		r.ByKind[t.Kind]++
		if !t.ok() {
			c := cls.failure(t)
			r.Errors[c]++
			r.failures[c] = append(r.failures[c], t)
			if len(r.ErrorSamples[c]) < 8 {
				r.ErrorSamples[c] = append(r.ErrorSamples[c], cls.describe(t))
			}
			continue
		}
		r.Answered++
		if len(t.Attempts) > 1 {
			r.FailedOver++
		}
		if n := len(t.Attempts); n > 0 {
			a := t.Attempts[n-1]
			if !a.End.IsZero() {
				added = append(added, max(0, t.Total-a.End.Sub(a.Start)))
			}
		}
		ttfb = append(ttfb, t.Answer.ttfb)
	}
	for _, ch := range changes(d.turns, cls) {
		r.Changes++
		if !slices.Contains(r.changedConvs, ch.Conv) {
			r.changedConvs = append(r.changedConvs, ch.Conv)
		}
		r.ChangeReasons[ch.Why]++
	}
	r.Changed = len(r.changedConvs)
	r.AddedP50, r.AddedP99 = quantile(added, 0.5), quantile(added, 0.99)
	r.TTFBP50, r.TTFBP99 = quantile(ttfb, 0.5), quantile(ttfb, 0.99)
	return r
}

// classifier tells why a turn failed or a conversation moved, from what
// the chaos did, what the upstream answered and what the instances showed.
type classifier struct {
	ch    *chaos
	w     *watcher
	up    *upstream
	keys  *keyring
	begin time.Time
}

// failure classifies a failed turn.
func (c classifier) failure(t turn) string {
	if n := len(t.Attempts); n > 0 && t.Answer.began {
		last := t.Attempts[n-1]
		if last.Fault == faultReset || c.up.faultNear(last.Key, last.Start, time.Second) == faultReset {
			return classBroke
		}
	}
	p := map[string]string{kindClaude: "claude", kindResponses: "openai", kindGemini: "gemini"}[t.Kind]
	for name, key := range c.keys.byName {
		if provider(name) != p || (name == authFile2 && !c.ch.uploadedBy(t.Start)) {
			continue
		}
		if c.up.faultAt(key, t.Start) == "" && !c.ch.disabledAt(name, t.Start) && c.w.unavailable(name, t.Start) == "" {
			return classOther
		}
	}
	return classNone
}

// describe is one line about a failed turn, for the report's samples.
func (c classifier) describe(t turn) string {
	var tried []string
	for _, a := range t.Attempts {
		s := c.keys.byKey[a.Key]
		if a.Fault != "" {
			s += " (" + a.Fault + ")"
		}
		tried = append(tried, s)
	}
	if len(tried) == 0 {
		tried = []string{"no upstream request"}
	}
	return fmt.Sprintf("at %s, %s turn %d via %s after %s: %s; tried %s",
		t.Start.Sub(c.begin).Round(time.Second), t.Kind, t.N, t.Instance, t.Total.Round(time.Millisecond), t.Answer.failure, strings.Join(tried, ", "))
}

// change is a conversation going on with another credential than its last
// turn's, and why.
type change struct {
	Conv, From, To, Why string
	At                  time.Time
}

// changes walks each conversation's answered turns in order and explains
// every change of credential. The harness follows the conversation's home
// (the credential it is bound to) as the gateway would: a detour leaves
// the home in place, a rebind (the home disabled or refused for good) or
// a change nothing explains moves it.
func changes(turns []turn, cls classifier) []change {
	byConv := map[string][]turn{}
	var order []string
	for _, t := range turns {
		if !t.ok() {
			continue
		}
		if _, ok := byConv[t.Conv]; !ok {
			order = append(order, t.Conv)
		}
		byConv[t.Conv] = append(byConv[t.Conv], t)
	}
	var out []change
	for _, conv := range order {
		ts := byConv[conv]
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].Start.Before(ts[j].Start) })
		home := ts[0].Served
		for i := 1; i < len(ts); i++ {
			prev, t := ts[i-1].Served, ts[i]
			if t.Served == prev {
				continue
			}
			why, rebind := cls.change(prev, home, ts[0].Start, t)
			if rebind {
				home = t.Served
			}
			out = append(out, change{Conv: conv, From: prev, To: t.Served, Why: why, At: t.Start})
		}
	}
	return out
}

// change tells why turn t went to another credential than prev, the
// conversation (begun at began) being at home on home, and whether the
// home moved with it.
func (c classifier) change(prev, home string, began time.Time, t turn) (why string, rebind bool) {
	if t.Served == home {
		return "back to its home credential after a detour", false
	}
	// what happened to the credential the turn left: the home, or the
	// detour it was on
	left := "its credential"
	if prev != home {
		left = "its detour credential"
	}
	for _, a := range t.Attempts {
		if c.keys.byKey[a.Key] == prev {
			if a.Fault != "" {
				return left + " failed: " + a.Fault, prev == home && a.Fault == faultRefused
			}
			if f := c.up.faultNear(a.Key, a.Start, time.Second); f != "" {
				// the mock took the fault a moment before the harness
				// noted it, or the other way round
				return left + " failed: " + f, false
			}
			return left + " was tried and failed without a fault", false
		}
	}
	key := c.keys.byName[prev]
	switch {
	case c.ch.disabledAt(prev, t.Start):
		return "an operator disabled " + left, prev == home
	case c.up.faultAt(key, t.Start) != "":
		f := c.up.faultAt(key, t.Start)
		return left + " was out: " + f, prev == home && f == faultRefused
	case c.w.unavailable(prev, t.Start) != "":
		return left + " was cooling from an earlier failure", false
	}
	if prev != home && (c.up.faultAt(c.keys.byName[home], t.Start) != "" || c.w.unavailable(home, t.Start) != "" || c.ch.disabledAt(home, t.Start)) {
		return leftDetour, false
	}
	if c.ch.redisDown(t.Start) {
		if c.ch.redisDown(began) {
			// the instances could not share its binding: each placed
			// it, and the write-back merged their choices
			return outageBorn, true
		}
		return lostBinding + " (during the Redis outage)", true
	}
	return lostBinding, true
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// goroutineSlack is how many more goroutines than at the start an idle
// instance may run without being said to leak (timers, pools that grew).
const goroutineSlack = 20

// markdown is the run's table.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| figure | value | goal |\n|---|---|---|\n")
	kinds := fmt.Sprintf("%s %d, %s %d, %s %d", kindClaude, r.ByKind[kindClaude], kindResponses, r.ByKind[kindResponses], kindGemini, r.ByKind[kindGemini])
	fmt.Fprintf(&b, "| requests (turns) | %d (%s) | |\n", r.Requests, kinds)
	fmt.Fprintf(&b, "| answered | %d, of which %d after failing over | |\n", r.Answered, r.FailedOver)
	fmt.Fprintf(&b, "| requests the client sent again because the gateway closed the idle connection they went out on (config reloads; SDKs retry these) | %d | |\n", r.Resent)
	fmt.Fprintf(&b, "| client-visible errors: %s | %d | |\n", classNone, r.Errors[classNone])
	fmt.Fprintf(&b, "| client-visible errors: %s | %d | (no gateway can move a stream the client has begun reading) |\n", classBroke, r.Errors[classBroke])
	fmt.Fprintf(&b, "| client-visible errors: %s | %d | 0: %s |\n", classOther, r.Errors[classOther], verdict(r.Errors[classOther] == 0))
	lost := r.ChangeReasons[lostBinding] + r.ChangeReasons[lostBinding+" (during the Redis outage)"] + r.ChangeReasons[leftDetour]
	fmt.Fprintf(&b, "| conversations that changed credential | %d of %d (%d changes; %d with no reason seen) | no change without a reason: %s |\n",
		r.Changed, r.Conversations, r.Changes, lost, verdict(lost == 0))
	fmt.Fprintf(&b, "| added latency p50 / p99 | %s / %s | |\n", ms(r.AddedP50), ms(r.AddedP99))
	fmt.Fprintf(&b, "| client time to first byte p50 / p99 | %s / %s | |\n", ms(r.TTFBP50), ms(r.TTFBP99))
	for _, in := range r.Instances {
		grew := in.End.Goroutines - in.Start.Goroutines
		fmt.Fprintf(&b, "| instance %s: goroutines idle at start → end | %d → %d | no leak (≤ +%d): %s |\n",
			in.Name, in.Start.Goroutines, in.End.Goroutines, goroutineSlack, verdict(grew <= goroutineSlack))
		fmt.Fprintf(&b, "| instance %s: RSS idle at start → end (peak) | %s → %s (%s) | |\n", in.Name, mib(in.Start.RSS), mib(in.End.RSS), mib(in.PeakRSS))
	}
	u := r.Usage
	fmt.Fprintf(&b, "| usage records popped (from %s) | of %d requests, %d had a record (%d records popped twice) | |\n",
		u.Source, r.Requests, u.Popped, u.Twice)
	if u.AtKill >= 0 {
		fmt.Fprintf(&b, "| usage records lost with the Redis that restarted empty (in the list at the kill) | %d | (a Redis without persistence: the operator's choice) |\n", min(max(0, u.Lost), u.AtKill))
	} else {
		b.WriteString("| usage records lost with the Redis that restarted empty (in the list at the kill) | unknown | |\n")
	}
	fmt.Fprintf(&b, "| usage records lost otherwise | %d | 0: %s |\n", u.lostOtherwise(), verdict(u.lostOtherwise() == 0))
	b.WriteString("\n")

	if len(r.ChangeReasons) > 0 {
		b.WriteString("| why a conversation changed credential | changes |\n|---|---|\n")
		reasons := make([]string, 0, len(r.ChangeReasons))
		for k := range r.ChangeReasons {
			reasons = append(reasons, k)
		}
		sort.Slice(reasons, func(i, j int) bool {
			if r.ChangeReasons[reasons[i]] != r.ChangeReasons[reasons[j]] {
				return r.ChangeReasons[reasons[i]] > r.ChangeReasons[reasons[j]]
			}
			return reasons[i] < reasons[j]
		})
		for _, k := range reasons {
			fmt.Fprintf(&b, "| %s | %d |\n", k, r.ChangeReasons[k])
		}
		b.WriteString("\n")
	}
	for _, c := range []string{classOther, classNone, classBroke} {
		if len(r.ErrorSamples[c]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "Errors where %s (first %d):\n\n", c, len(r.ErrorSamples[c]))
		for _, s := range r.ErrorSamples[c] {
			fmt.Fprintf(&b, "- %s\n", s)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// document is docs/reliability.md: what the run did and what it found.
func (r *report) document(table string) string {
	var b strings.Builder
	b.WriteString(`# Reliability: the soak run

` + "`scripts/soak.sh`" + ` runs the gateway as a team uses it, while its surroundings break, and counts what the
team would have seen. Two Caddy instances built from ` + "`./cmd/caddy`" + ` share one real ` + "`redis-server`" + `
(` + "`state redis://…`" + `, ` + "`session_affinity on`" + `, one pool, a shared ` + "`auth_dir`" + `); each turn of a conversation
goes to either instance at random, as a load balancer without stickiness sends it. Members hold
Claude Code-like conversations (Claude Code's headers, system prompt blocks with cache breakpoints, tools,
the session in ` + "`metadata.user_id`" + ` and ` + "`X-Claude-Code-Session-Id`" + `), OpenAI Responses conversations
(` + "`prompt_cache_key`" + `) and Gemini conversations (known to the gateway only by the hash of their opening),
each growing by a message and its answer every turn and streamed. A member whose turn failed asks again
after a pause. The upstreams are the project's mock providers; every credential has its own key, and the
chaos gives keys faults for stretches of the run, always leaving most credentials of a provider answering:

- 429 storms (with and without ` + "`Retry-After`" + `), streams that open with an error event, 529s,
  streams reset mid-answer, upstreams that hang before answering, keys refused with 401;
- ` + "`redis-server`" + ` killed and started again, empty (no persistence);
- both instances' config reloaded every ` + r.Config.ReloadEvery.String() + `;
- an auth file edited, another uploaded through the management API;
- a credential disabled and enabled again through the management API.

A client-visible error counts as **another credential could have answered** when, at the time of the
request, some credential of its provider had no fault, was not disabled, and was not shown cooling or
blocked by either instance's management API; the goal for these is none. A conversation's change of
credential is explained by its old credential failing during the turn, being failed, cooling or
disabled at the time; a change nothing explains is a lost binding. A request that went out on a
keep-alive connection the gateway closed at that moment (each config reload closes the idle connections,
as every Go server does when it shuts down) got no answer and reached no upstream: the client sends it
again (at most twice, after about 0.5 s and 1 s), as the providers' SDKs retry a connection error, and
the table counts these apart. The added latency is the client's time
for a turn less the upstream's time for the answer it got (failed attempts before it count as added). A
usage record is lost when the gateway served a request and no record of it could be popped; the harness
pops as a collector does, from both instances' own ports (RESP, which drains the instance's local
queue and then the cluster's Redis list). Records that were in the Redis list when Redis was killed
are gone with it, as it restarts empty: the harness pauses Redis' writes, reads the list's length and
then kills it, and the table counts these apart.

`)
	b.WriteString(r.lastRun(table))
	b.WriteString(`
## Running it

` + "```sh" + `
./scripts/soak.sh                     # 5 minutes
./scripts/soak.sh -duration 2m        # shorter
go run ./internal/cmd/soak -h         # every option
` + "```" + `

It needs ` + "`redis-server`" + ` (` + "`scripts/install-redis.sh`" + `). The Caddy logs go to ` + "`.cache/soak`" + `.
Usage records are popped with ` + "`LPOP usage 500`" + ` from both instances' own ports (the ` + "`cliproxy_resp`" + `
listener, ` + "`AUTH`" + ` with the management key); ` + "`-usage-addr`" + `, ` + "`-usage-password`" + ` and ` + "`-usage-list`" + ` point the
count at one other RESP queue (the cluster's Redis, say).
` + "`internal/cmd/soak`" + `'s test runs the harness for 20 seconds in the test suite, so it keeps working.
`)
	return b.String()
}

// writeDetails writes every turn and every change of credential, one JSON
// object a line, for looking into what the table counts.
func writeDetails(path string, d *driver, cls classifier) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range d.turns {
		var tried []string
		for _, a := range t.Attempts {
			tried = append(tried, cls.keys.byKey[a.Key]+":"+a.Fault)
		}
		if err := enc.Encode(map[string]any{
			"at": t.Start.Sub(cls.begin).Seconds(), "conv": t.Conv, "turn": t.N, "via": t.Instance,
			"served": t.Served, "tried": tried, "failure": t.Answer.failure, "ms": t.Total.Milliseconds(),
		}); err != nil {
			return err
		}
	}
	for _, c := range changes(d.turns, cls) {
		if err := enc.Encode(map[string]any{
			"at": c.At.Sub(cls.begin).Seconds(), "conv": c.Conv, "change": c.From + " -> " + c.To, "why": c.Why,
		}); err != nil {
			return err
		}
	}
	return nil
}

// The markers around the generated part of the report: a report that has
// them keeps what is around them (findings written by hand).
const (
	beginRun = "<!-- soak: last run, written by internal/cmd/soak -->\n"
	endRun   = "<!-- soak: end of the last run -->\n"
)

// lastRun is the generated part of the report: the run, its table and its
// timeline, between the markers.
func (r *report) lastRun(table string) string {
	var b strings.Builder
	b.WriteString(beginRun)
	fmt.Fprintf(&b, "## Last run\n\n`%s` on %s: %s of conversations (%d %s, %d %s, %d %s at once, %d members), %d config reloads.\n\n",
		r.Command, r.Machine, r.Elapsed.Round(time.Second), r.Config.Claude, kindClaude, r.Config.Responses, kindResponses,
		r.Config.Gemini, kindGemini, r.Config.Members, r.Reloads)
	b.WriteString(table)
	b.WriteString("What happened when:\n\n| at | what |\n|---|---|\n")
	for _, h := range r.Timeline {
		what := h.What
		if h.Err != "" {
			what += " (failed: " + h.Err + ")"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", h.At, what)
	}
	b.WriteString(endRun)
	return b.String()
}

// writeReport writes the report to path: into the markers of the file
// there, if it has them, else the whole document.
func (r *report) writeReport(path, table string) error {
	doc := r.document(table)
	if old, err := os.ReadFile(path); err == nil {
		s := string(old)
		i, j := strings.Index(s, beginRun), strings.Index(s, endRun)
		if i >= 0 && j > i {
			doc = s[:i] + r.lastRun(table) + s[j+len(endRun):]
		}
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
