// Command soak runs the gateway as a team uses it, for minutes, while its
// surroundings break, and reports what the team would have seen: two Caddy
// instances with cliproxy on one real redis-server, eight members, a
// hundred Claude Code-like conversations (and some OpenAI Responses and
// Gemini ones) growing turn by turn, streamed, in front of mock upstreams
// whose credentials 429 in storms, open streams with error events, answer
// 529, reset mid-stream, hang and refuse their keys. Meanwhile Redis is
// killed and restarted empty, the config is reloaded every 30 s, an auth
// file is edited and another uploaded, and a credential is disabled and
// enabled through the management API.
//
//	go build -o caddy ./cmd/caddy
//	go run ./internal/cmd/soak -caddy ./caddy -duration 2m
//
// scripts/soak.sh does both. It prints a table and writes it, with the
// run's timeline, to docs/reliability.md (-out): requests, client-visible
// errors split into those no credential could have answered and those
// another could have (the goal is none), conversations that changed
// credential and why, the latency the gateway added, the instances' memory
// and goroutines at the end against the start, and the usage records lost.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config is what one run does.
type config struct {
	// Caddy is the binary under test, built from ./cmd/caddy.
	Caddy string
	// Out is the Markdown report; "" writes none.
	Out string
	// Logs is the folder of the Caddy logs.
	Logs string
	// Duration is how long conversations start turns; the run then waits
	// for the turns under way.
	Duration time.Duration
	// Claude, Responses and Gemini are the conversations of each kind
	// held open at once.
	Claude, Responses, Gemini int
	// Members is how many client keys the conversations spread over.
	Members int
	// Think is the mean pause between two turns of a conversation.
	Think time.Duration
	// ReloadEvery is how often both instances reload their config.
	ReloadEvery time.Duration
	// TurnTimeout is how long a client waits for a turn's answer.
	TurnTimeout time.Duration
	// Usage says where usage records are drained from (see usage.go).
	Usage usageSource
}

func defaults() config {
	return config{
		Out:         "docs/reliability.md",
		Logs:        ".cache/soak",
		Duration:    5 * time.Minute,
		Claude:      100,
		Responses:   10,
		Gemini:      10,
		Members:     8,
		Think:       1500 * time.Millisecond,
		ReloadEvery: 30 * time.Second,
		TurnTimeout: time.Minute,
	}
}

func main() {
	cfg := defaults()
	flag.StringVar(&cfg.Caddy, "caddy", "", "the caddy binary to test (go build ./cmd/caddy)")
	flag.StringVar(&cfg.Out, "out", cfg.Out, `the Markdown report ("" for none)`)
	flag.StringVar(&cfg.Logs, "logs", cfg.Logs, "folder for the Caddy logs")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long conversations go on")
	flag.IntVar(&cfg.Claude, "claude", cfg.Claude, "Claude Code-like conversations at once")
	flag.IntVar(&cfg.Responses, "responses", cfg.Responses, "OpenAI Responses conversations at once")
	flag.IntVar(&cfg.Gemini, "gemini", cfg.Gemini, "Gemini conversations at once")
	flag.IntVar(&cfg.Members, "members", cfg.Members, "team members (client keys)")
	flag.DurationVar(&cfg.Think, "think", cfg.Think, "mean pause between two turns of a conversation")
	flag.DurationVar(&cfg.ReloadEvery, "reload-every", cfg.ReloadEvery, "how often both instances reload their config")
	flag.DurationVar(&cfg.TurnTimeout, "turn-timeout", cfg.TurnTimeout, "how long a client waits for an answer")
	flag.StringVar(&cfg.Usage.Addr, "usage-addr", "", "RESP address usage records are popped from (default: both instances' own ports)")
	flag.StringVar(&cfg.Usage.Password, "usage-password", "", "AUTH password of -usage-addr")
	flag.StringVar(&cfg.Usage.List, "usage-list", "usage", "the list (queue) name of -usage-addr")
	flag.Parse()
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func (c config) check() error {
	switch {
	case c.Caddy == "":
		return errors.New("-caddy is required")
	case c.Duration < 10*time.Second:
		return errors.New("-duration must be at least 10s")
	case c.Claude < 1 || c.Responses < 0 || c.Gemini < 0:
		return errors.New("-claude must be positive, -responses and -gemini not negative")
	case c.Members < 1:
		return errors.New("-members must be positive")
	case c.ReloadEvery <= 0 || c.TurnTimeout <= 0 || c.Think <= 0:
		return errors.New("-reload-every, -turn-timeout and -think must be positive")
	}
	return nil
}
