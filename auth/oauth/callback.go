package oauth

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// CallbackListener catches the browser's redirect back from the
// authorization server on a local port, as the Codex and Gemini CLIs do.
// Create it with [LoginFlow.ListenCallback] before showing the flow's URL;
// it is safe for concurrent use.
type CallbackListener struct {
	flow *LoginFlow
	base url.URL // the redirect URI; its query is replaced by the callback's
	path string
	ln   net.Listener
	srv  *http.Server
	got  chan string // the first accepted callback URL

	mu   sync.Mutex
	done bool
}

// ListenCallback binds addr and serves the path of the flow's redirect URI
// there. addr "" means 127.0.0.1 on the redirect URI's port (an ephemeral
// port when it names none); a port 0 picks a free one. When the redirect
// URI's host is a loopback name (localhost, 127.0.0.1, ::1), its port
// becomes the one bound, so call ListenCallback before [LoginFlow.URL].
// Only a request carrying this flow's state ends the wait; others are
// answered with an error page and ignored.
func (f *LoginFlow) ListenCallback(addr string) (*CallbackListener, error) {
	ru, err := url.Parse(f.RedirectURI)
	if err != nil || ru.Host == "" {
		return nil, fmt.Errorf("oauth login: redirect URI %q: want an absolute URL", f.RedirectURI)
	}
	if addr == "" {
		port := ru.Port()
		if port == "" {
			port = "0"
		}
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("oauth login: callback listener: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && isLoopbackName(ru.Hostname()) {
		port := strconv.Itoa(tcp.Port)
		if ru.Port() != port {
			ru.Host = net.JoinHostPort(ru.Hostname(), port)
			f.RedirectURI = ru.String()
		}
	}
	l := &CallbackListener{
		flow: f,
		base: *ru,
		path: ru.EscapedPath(),
		ln:   ln,
		got:  make(chan string, 1),
	}
	if l.path == "" {
		l.path = "/"
	}
	l.base.RawQuery, l.base.Fragment = "", ""
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       10 * time.Second,
	}
	l.srv.SetKeepAlivesEnabled(false)
	go func() { _ = l.srv.Serve(ln) }()
	return l, nil
}

// isLoopbackName reports whether host names this machine's loopback.
func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr is the address the listener bound.
func (l *CallbackListener) Addr() net.Addr { return l.ln.Addr() }

// Wait returns the first callback URL that carried this flow's state (with
// a code, or with an OAuth error for Exchange to report), or ctx's error.
func (l *CallbackListener) Wait(ctx context.Context) (string, error) {
	select {
	case cb := <-l.got:
		return cb, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Close stops the listener, giving the browser's last page a moment to be
// sent.
func (l *CallbackListener) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := l.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = l.srv.Close()
	}
	return err
}

// ServeHTTP answers the browser's redirect.
func (l *CallbackListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.EscapedPath() != l.path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	cb := l.base
	cb.RawQuery = r.URL.RawQuery
	cbURL := cb.String()

	_, err := l.flow.ParseCallback(cbURL)
	var aerr *AuthorizationError
	if err != nil && !errors.As(err, &aerr) {
		// Not this sign-in's callback: keep waiting for the right one.
		callbackPage(w, http.StatusBadRequest, "Sign-in not completed",
			"This page was not the answer to the sign-in in progress ("+err.Error()+"). Return to the terminal.")
		return
	}

	l.mu.Lock()
	first := !l.done
	l.done = true
	l.mu.Unlock()
	switch {
	case !first:
		callbackPage(w, http.StatusOK, "Sign-in already completed",
			"The terminal already received this sign-in. You can close this tab.")
	case aerr != nil:
		l.got <- cbURL
		callbackPage(w, http.StatusOK, "Sign-in refused", aerr.Error()+". You can close this tab.")
	default:
		l.got <- cbURL
		callbackPage(w, http.StatusOK, "Signed in",
			"The terminal has the authorization. You can close this tab.")
	}
}

// callbackPage writes a small HTML page; msg is escaped.
func callbackPage(w http.ResponseWriter, status int, title, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Connection", "close")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>"+
		html.EscapeString(title)+"</title></head><body style=\"font-family:sans-serif;margin:3em\"><h1>"+
		html.EscapeString(title)+"</h1><p>"+html.EscapeString(msg)+"</p></body></html>\n")
}
