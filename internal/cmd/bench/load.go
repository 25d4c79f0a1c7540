package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// sample is one measured request.
type sample struct {
	latency, ttfb time.Duration
}

// loadResult is what one run of the load generator measured.
type loadResult struct {
	Requests int
	Errors   int
	Elapsed  time.Duration
	samples  []sample
}

// newClient is the load generator's HTTP client: HTTP/1.1 as the CLIs
// speak it to a local gateway, one idle connection per worker, no
// compression so both Caddys move the same bytes.
func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}}
}

// drive sends w's requests to url from conc workers in a closed loop for
// warmup plus measure, and keeps the requests that ended within the
// measurement (counting by start would leave out the slow ones when a
// request takes a good part of the window). Each request goes to the next
// session in turn. An answer that is not the mock's whole event stream is
// an error.
func drive(ctx context.Context, url string, w workload, conc int, warmup, measure time.Duration, wantSize int) loadResult {
	client := newClient(conc)
	defer client.CloseIdleConnections()
	var next atomic.Uint64
	start := time.Now()
	from, until := start.Add(warmup), start.Add(warmup+measure)
	var (
		mu     sync.Mutex
		all    []sample
		errors int
		wg     sync.WaitGroup
	)
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []sample
			bad := 0
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(until) {
					break
				}
				s := int(next.Add(1) % uint64(len(w.bodies)))
				sm, err := oneRequest(ctx, client, url, w.bodies[s], w.ids[s], wantSize)
				end := time.Now()
				if end.Before(from) || end.After(until) {
					continue
				}
				if err != nil {
					bad++
					continue
				}
				mine = append(mine, sm)
			}
			mu.Lock()
			all = append(all, mine...)
			errors += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	return loadResult{Requests: len(all), Errors: errors, Elapsed: measure, samples: all}
}

// oneRequest sends one Claude Code request and reads the whole answer.
func oneRequest(ctx context.Context, client *http.Client, url string, body []byte, session string, wantSize int) (sample, error) {
	var first time.Time
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, url+"/v1/messages?beta=true", bytes.NewReader(body))
	if err != nil {
		return sample{}, err
	}
	setClaudeCodeHeaders(req.Header, session)
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return sample{}, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	end := time.Now()
	if err != nil {
		return sample{}, err
	}
	if resp.StatusCode != http.StatusOK || int(n) != wantSize {
		return sample{}, fmt.Errorf("answer %d of %d bytes, want 200 of %d", resp.StatusCode, n, wantSize)
	}
	return sample{latency: end.Sub(t0), ttfb: first.Sub(t0)}, nil
}

// quantile returns the q-quantile (0..1) of the durations picked by f.
func quantile(ss []sample, q float64, f func(sample) time.Duration) time.Duration {
	if len(ss) == 0 {
		return 0
	}
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = f(s)
	}
	slices.Sort(ds)
	i := int(q * float64(len(ds)-1))
	return ds[i]
}

func latencyOf(s sample) time.Duration { return s.latency }
func ttfbOf(s sample) time.Duration    { return s.ttfb }
