package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/caddy-cliproxy/cliproxy/internal/caddyproc"
)

// streamsResult is the memory of one Caddy holding many open streams.
type streamsResult struct {
	Caddy   string
	Streams int
	// Idle is the resident set before the streams, RSS with all of them
	// open, Peak the high-water mark over the whole test.
	Idle, RSS, Peak int64
	Errors          int
}

// openStreams has p's upstream (the mock) hold n Claude Code streams open
// at once, measures p's memory while they are open, then lets them finish
// and checks every client got the whole answer.
func openStreams(ctx context.Context, p *caddyproc.Proc, m *mock, w workload, n int, heapProfile string) (streamsResult, error) {
	res := streamsResult{Caddy: p.Name, Streams: n}
	idle, err := p.Memory()
	if err != nil {
		return res, err
	}
	res.Idle = idle.RSS
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, DisableCompression: true}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	want := m.answerSize()
	opening := make(chan struct{}, 64) // uploads under way at once
	opened := make(chan error, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opening <- struct{}{}
			err := holdOne(ctx, client, p.Site, w, i, want, func(err error) {
				<-opening
				opened <- err
			})
			if err != nil {
				mu.Lock()
				res.Errors++
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case err := <-opened:
			if err != nil {
				cancel()
				wg.Wait()
				return res, fmt.Errorf("opening stream %d of %d through %s caddy: %w", i+1, n, p.Name, err)
			}
		case <-ctx.Done():
			wg.Wait()
			return res, fmt.Errorf("opening %d streams through %s caddy: %w", n, p.Name, ctx.Err())
		}
	}
	for m.held.Load() < int64(n) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second) // let the garbage collector catch up
	mem, err := p.Memory()
	if err != nil {
		return res, err
	}
	res.RSS, res.Peak = mem.RSS, mem.Peak
	if heapProfile != "" {
		if err := p.SaveProfile(ctx, "heap", heapProfile); err != nil {
			return res, err
		}
	}
	m.release()
	wg.Wait()
	return res, nil
}

// holdOne sends a request that the mock holds after its first event;
// opened is called once that event arrived (or the request failed). It
// returns once the whole answer has been read.
func holdOne(ctx context.Context, client *http.Client, site string, w workload, i, want int, opened func(error)) error {
	s := i % len(w.bodies)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, site+"/v1/messages?beta=true", bytes.NewReader(w.bodies[s]))
	if err != nil {
		opened(err)
		return err
	}
	setClaudeCodeHeaders(req.Header, w.ids[s])
	req.Header.Set(holdHeader, "1")
	resp, err := client.Do(req)
	if err != nil {
		opened(err)
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("status %d", resp.StatusCode)
		opened(err)
		return err
	}
	first := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		opened(err)
		return err
	}
	opened(nil)
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && int(n)+1 != want {
		err = errors.New("stream cut short")
	}
	return err
}
