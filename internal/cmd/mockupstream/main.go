// Command mockupstream serves the mock Anthropic, OpenAI, OpenAI-compatible
// and Gemini APIs of package mockupstream, so the gateway can be tried
// without real provider keys:
//
//	go run ./internal/cmd/mockupstream -listen 127.0.0.1:9100 -reply "Hi there."
//
// Any non-empty key is accepted. Each request is logged to stderr with its
// method, path, provider, model and a short fingerprint of its key (never the
// key itself).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9100", "address to serve the mock upstream on")
	reply := flag.String("reply", "", "assistant text answered to every request (default: a per-provider greeting)")
	eventDelay := flag.Duration("event-delay", 0, "wait between streamed events, to watch streaming work")
	flag.Parse()

	logger := log.New(os.Stderr, "mockupstream: ", log.LstdFlags|log.Lmicroseconds)
	srv := newMock(*reply, *eventDelay, logger)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		logger.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	logger.Printf("serving on http://%s", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdown)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Fatal(err)
	}
}

// newMock builds the mock server with the command-line settings and a
// request logger.
func newMock(reply string, eventDelay time.Duration, logger *log.Logger) *mockupstream.Server {
	srv := mockupstream.New()
	if reply != "" {
		srv.SetReply("*", reply)
	}
	if eventDelay > 0 {
		srv.SetFault("*", mockupstream.Fault{EventDelay: eventDelay})
	}
	srv.OnRequest(func(r mockupstream.Recorded) {
		logger.Print(logLine(r))
	})
	return srv
}

// logLine describes one request without revealing its key.
func logLine(r mockupstream.Recorded) string {
	model := r.Model
	if model == "" {
		model = "-"
	}
	return fmt.Sprintf("%s %s provider=%s model=%s stream=%t key=%s",
		r.Method, r.Path, r.Provider, model, r.Stream, mockupstream.Fingerprint(r.Key))
}
