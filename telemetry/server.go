package telemetry

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/tidwall/redcon"
	"go.uber.org/zap"
)

// Authenticator decides who may read the telemetry.
type Authenticator interface {
	// Authenticate admits the client at remote that presents password,
	// or returns why not. The error's text is sent to the client as a
	// RESP error, so it starts with an error code such as WRONGPASS or
	// ERR, and never names a secret.
	Authenticate(remote netip.Addr, password string) error
}

// Backend is what one connection reads: who may, and the pool's hub.
type Backend interface {
	Authenticator
	Hub() *Hub
}

// ServerOptions configure a Server.
type ServerOptions struct {
	// Backend returns the backend of a new connection, or an error the
	// connection's commands are answered with (e.g. its pool is gone).
	// Required.
	Backend func() (Backend, error)
	// Addr is the address the server reports (the listener's). Optional.
	Addr net.Addr
	// Logger gets one debug entry per connection. Default: none.
	Logger *zap.Logger
}

// preAuthLimit bounds what a client may send before it authenticated, so
// a stranger cannot make the server buffer a command without end.
const preAuthLimit = 64 << 10

// Server serves the telemetry over RESP to the connections handed to it
// with ServeConn. Close it when done.
type Server struct {
	opts ServerOptions
	ln   *connListener
	done chan struct{}

	mu       sync.Mutex
	detached map[*session]struct{} // connections in subscriber mode
	closed   bool
}

// NewServer starts a server; it serves no connection until given one.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Backend == nil {
		return nil, errors.New("starting resp server: a backend is required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	addr := opts.Addr
	if addr == nil {
		addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	}
	s := &Server{
		opts:     opts,
		ln:       newConnListener(addr),
		done:     make(chan struct{}),
		detached: make(map[*session]struct{}),
	}
	go func() {
		defer close(s.done)
		_ = redcon.Serve(s.ln, s.handle, s.accept, s.closedConn)
	}()
	return s, nil
}

// ServeConn serves c, whose first bytes are a RESP command, until the
// client leaves or the server closes. It does not wait.
func (s *Server) ServeConn(c net.Conn) {
	if !s.ln.push(&limitConn{Conn: c}) {
		_ = c.Close()
	}
}

// Serve hands each connection ln accepts to ServeConn, for a port that
// serves only RESP, until ln fails; it returns ln's error (net.ErrClosed
// once ln was closed). Close ln and the server when done.
func (s *Server) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		s.ServeConn(c)
	}
}

// Close stops the server and closes its connections.
func (s *Server) Close() error {
	s.ln.Close()
	<-s.done
	s.mu.Lock()
	s.closed = true
	sessions := make([]*session, 0, len(s.detached))
	for ss := range s.detached {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.close()
	}
	return nil
}

// accept sets up a new connection's session.
func (s *Server) accept(conn redcon.Conn) bool {
	ss := &session{srv: s, nc: conn.NetConn().(*limitConn)}
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr()); err == nil {
		ss.remote = ap.Addr().Unmap()
	}
	ss.backend, ss.err = s.opts.Backend()
	conn.SetContext(ss)
	if ce := s.opts.Logger.Check(zap.DebugLevel, "resp connection"); ce != nil {
		ce.Write(zap.String("remote", conn.RemoteAddr()))
	}
	return true
}

// closedConn gives back to the hub the records popped for a connection
// that closed before their reply was written (the server closing for a
// config reload, or the client gone), so that a collector's pop at that
// moment loses none: they are popped again, at worst twice.
func (s *Server) closedConn(conn redcon.Conn, _ error) {
	ss, _ := conn.Context().(*session)
	if ss == nil || ss.dconn != nil || len(ss.nc.unwritten) == 0 {
		return
	}
	ss.backend.Hub().KeepUnsent(ss.nc.unwritten)
	ss.nc.unwritten = nil
}

// handle runs one command of a connection in normal mode.
func (s *Server) handle(conn redcon.Conn, cmd redcon.Command) {
	ss, _ := conn.Context().(*session)
	if ss == nil || len(cmd.Args) == 0 {
		return
	}
	ss.exec(conn, cmd.Args)
}

// detach moves ss to subscriber mode, where the server no longer reads
// its commands: ss does. It reports false when the server is closing.
func (s *Server) detach(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.detached[ss] = struct{}{}
	return true
}

func (s *Server) forget(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.detached, ss)
}

// limitConn is a client connection that may read only preAuthLimit bytes
// until it is authenticated.
type limitConn struct {
	net.Conn
	authed atomic.Bool
	read   int
	// unwritten are the records popped for the reply being buffered,
	// until a write of the connection succeeds. Only the server's
	// goroutine of the connection sets them, before it is detached.
	unwritten [][]byte
}

func (c *limitConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err == nil && c.unwritten != nil {
		c.unwritten = nil
	}
	return n, err
}

var errPreAuthLimit = errors.New("resp: too much data before authentication")

func (c *limitConn) Read(p []byte) (int, error) {
	if c.authed.Load() {
		return c.Conn.Read(p)
	}
	if c.read >= preAuthLimit {
		return 0, errPreAuthLimit
	}
	if len(p) > preAuthLimit-c.read {
		p = p[:preAuthLimit-c.read]
	}
	n, err := c.Conn.Read(p)
	c.read += n
	return n, err
}

// connListener is a listener whose connections are pushed to it.
type connListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// FirstByteIsRESP reports whether a connection whose first byte is b
// speaks RESP: it opens with a type marker (a command is an array, "*";
// the others are accepted as a client may send them). No HTTP request, TLS
// handshake or HTTP/2 preface starts with one.
func FirstByteIsRESP(b byte) bool {
	switch b {
	case '*', '$', '+', '-', ':':
		return true
	}
	return false
}
