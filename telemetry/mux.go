package telemetry

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// PeekTimeout bounds the wait for a connection's first byte (and, after
// tls, its TLS handshake). A connection still silent then goes to HTTP,
// whose own timeouts apply.
const PeekTimeout = 10 * time.Second

// mux is a listener that accepts in the background, peeks at each
// connection on a goroutine of its own, and returns from Accept only the
// connections that are not RESP.
type mux struct {
	net.Listener
	srv *Server

	conns  chan net.Conn
	done   chan struct{}
	failed chan struct{} // closed once err is set
	err    error         // the inner listener's permanent error
	once   sync.Once
}

// NewMux wraps ln: the connections whose first byte is a RESP type marker
// go to srv, which serves them until they end or the listener closes;
// Accept returns the others, with the bytes read ahead still to be read.
// A TLS connection is handshaken first (within PeekTimeout), and one that
// negotiated an ALPN protocol goes to Accept unpeeked; the wait for the
// first byte happens off the accept path, so a silent client holds nobody
// back.
func NewMux(ln net.Listener, srv *Server) net.Listener {
	m := &mux{
		Listener: ln, srv: srv,
		conns: make(chan net.Conn), done: make(chan struct{}), failed: make(chan struct{}),
	}
	go m.acceptLoop()
	return m
}

// Accept returns the next connection that is not RESP.
func (m *mux) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.failed:
		return nil, m.err
	case <-m.done:
		return nil, &net.OpError{Op: "accept", Net: m.Addr().Network(), Addr: m.Addr(), Err: net.ErrClosed}
	}
}

// Close stops accepting, and ends the RESP connections.
func (m *mux) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.Listener.Close()
		_ = m.srv.Close()
	})
	return err
}

func (m *mux) closed() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// acceptLoop accepts until the listener fails for good. Temporary
// failures (too many open files; the past deadline a sibling server sets
// on a shared socket during a reload) are retried after a pause, as
// net/http does.
func (m *mux) acceptLoop() {
	var pause time.Duration
	for {
		c, err := m.Listener.Accept()
		if err == nil {
			pause = 0
			go m.sort(c)
			continue
		}
		if m.closed() {
			return
		}
		var te interface{ Temporary() bool }
		var ne net.Error
		if (errors.As(err, &ne) && ne.Timeout()) || (errors.As(err, &te) && te.Temporary()) {
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(pause):
			case <-m.done:
				return
			}
			continue
		}
		m.err = err
		close(m.failed)
		return
	}
}

// sort hands c to the RESP server or to HTTP by its first byte.
func (m *mux) sort(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(PeekTimeout))
	tc, isTLS := c.(*tls.Conn)
	if isTLS {
		ctx, cancel := context.WithTimeout(context.Background(), PeekTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil || tc.ConnectionState().NegotiatedProtocol != "" {
			// HTTP's own handshake reports the error as it always does;
			// an ALPN protocol is spoken only by HTTP clients here
			_ = c.SetDeadline(time.Time{})
			m.toHTTP(c)
			return
		}
	}
	br := bufio.NewReaderSize(c, 16)
	first, err := br.Peek(1)
	var ne net.Error
	switch {
	case err != nil && errors.As(err, &ne) && ne.Timeout():
		// silent for too long: HTTP's timeouts decide; nothing was read,
		// so the connection goes as it came
		_ = c.SetDeadline(time.Time{})
		m.toHTTP(c)
		return
	case err != nil:
		_ = c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	pc := &peekedConn{Conn: c, r: br}
	if FirstByteIsRESP(first[0]) {
		if m.closed() {
			_ = c.Close()
			return
		}
		m.srv.ServeConn(pc)
		return
	}
	if isTLS {
		// Caddy takes the TLS state of a wrapped connection from
		// ConnectionState, so the request still reads as HTTPS
		m.toHTTP(&peekedTLSConn{peekedConn: pc, tls: tc})
		return
	}
	m.toHTTP(pc)
}

func (m *mux) toHTTP(c net.Conn) {
	select {
	case m.conns <- c:
	case <-m.done:
		_ = c.Close()
	}
}

// peekedConn is a connection whose first bytes were read ahead into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if c.r.Buffered() > 0 {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

// peekedTLSConn is a peeked TLS connection that still tells its TLS state.
type peekedTLSConn struct {
	*peekedConn
	tls *tls.Conn
}

// ConnectionState is the TLS connection's.
func (c *peekedTLSConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }
