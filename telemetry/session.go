package telemetry

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/redcon"
)

const (
	// popTimeout bounds a pop from the shared queue.
	popTimeout = 2 * time.Second
	// writeTimeout bounds one write to a subscriber: one that reads
	// nothing for that long is disconnected.
	writeTimeout = 10 * time.Second
)

// session is one client connection.
type session struct {
	srv     *Server
	nc      *limitConn
	remote  netip.Addr
	backend Backend
	err     error // why there is no backend
	authed  bool

	// Once subscribed, the connection is detached from the server loop:
	// its own goroutines read commands and write messages, and mu orders
	// their writes.
	mu    sync.Mutex
	dconn redcon.DetachedConn
	sub   *Subscriber
	once  sync.Once
}

// exec runs one command and writes its reply to w (not flushed).
func (ss *session) exec(w redcon.Conn, args [][]byte) {
	name := strings.ToLower(string(args[0]))
	switch name {
	case "quit":
		w.WriteString("OK")
		ss.quit(w)
		return
	case "auth":
		ss.auth(w, args)
		return
	}
	if ss.err != nil {
		w.WriteError("ERR " + ss.err.Error())
		return
	}
	if !ss.authed {
		w.WriteError("NOAUTH Authentication required.")
		return
	}
	if ss.sub != nil {
		ss.execSubscribed(w, name, args)
		return
	}
	switch name {
	case "ping":
		switch len(args) {
		case 1:
			w.WriteString("PONG")
		case 2:
			w.WriteBulk(args[1])
		default:
			wrongArgs(w, name)
		}
	case "lpop", "rpop":
		ss.pop(w, name, args)
	case "subscribe":
		ss.subscribe(w, args)
	case "unsubscribe":
		// not subscribed to anything: Redis answers with no channel
		subscription(w, "unsubscribe", nil, 0)
	default:
		w.WriteError("ERR unknown command '" + string(args[0]) + "'")
	}
}

func wrongArgs(w redcon.Conn, name string) {
	w.WriteError("ERR wrong number of arguments for '" + name + "' command")
}

// auth checks AUTH <password> or AUTH <user> <password>; the user name is
// not checked.
func (ss *session) auth(w redcon.Conn, args [][]byte) {
	if len(args) != 2 && len(args) != 3 {
		wrongArgs(w, "auth")
		return
	}
	if ss.err != nil {
		w.WriteError("ERR " + ss.err.Error())
		return
	}
	if err := ss.backend.Authenticate(ss.remote, string(args[len(args)-1])); err != nil {
		w.WriteError(err.Error())
		return
	}
	ss.authed = true
	ss.nc.authed.Store(true)
	w.WriteString("OK")
}

// pop answers LPOP/RPOP usage [count]: both take the oldest records, as
// the seed does, so a collector written for either reads in order.
func (ss *session) pop(w redcon.Conn, name string, args [][]byte) {
	if len(args) != 2 && len(args) != 3 {
		wrongArgs(w, name)
		return
	}
	if string(args[1]) != ChannelUsage {
		w.WriteError("ERR no queue '" + string(args[1]) + "'; the usage records are in 'usage'")
		return
	}
	n := 1
	if len(args) == 3 {
		v, err := strconv.ParseInt(string(args[2]), 10, 64)
		switch {
		case err != nil:
			w.WriteError("ERR value is not an integer or out of range")
			return
		case v < 0:
			w.WriteError("ERR value is out of range, must be positive")
			return
		case v == 0:
			w.WriteArray(0)
			return
		}
		n = int(min(v, 1<<20))
	}
	ctx, cancel := context.WithTimeout(context.Background(), popTimeout)
	recs, err := ss.backend.Hub().Pop(ctx, n)
	cancel()
	if err != nil {
		w.WriteError("ERR the usage queue is unavailable")
		return
	}
	// kept until the reply is written (see Server.closedConn)
	ss.nc.unwritten = append(ss.nc.unwritten, recs...)
	if len(args) == 2 {
		if len(recs) == 0 {
			w.WriteNull()
		} else {
			w.WriteBulk(recs[0])
		}
		return
	}
	if len(recs) == 0 {
		w.WriteRaw([]byte("*-1\r\n"))
		return
	}
	w.WriteArray(len(recs))
	for _, r := range recs {
		w.WriteBulk(r)
	}
}

// validChannels reports whether every channel in args[1:] is one a
// collector may subscribe to, answering the error when not.
func validChannels(w redcon.Conn, args [][]byte) bool {
	if len(args) < 2 {
		wrongArgs(w, strings.ToLower(string(args[0])))
		return false
	}
	for _, a := range args[1:] {
		if c := string(a); c != ChannelUsage && c != ChannelErrors {
			w.WriteError("ERR no channel '" + c + "'; subscribe to usage or errors")
			return false
		}
	}
	return true
}

// subscribe enters subscriber mode: the connection leaves the server loop
// and is served by its own reader and writer.
func (ss *session) subscribe(w redcon.Conn, args [][]byte) {
	if !validChannels(w, args) {
		return
	}
	if !ss.srv.detach(ss) {
		w.WriteError("ERR server closing")
		return
	}
	ss.dconn = w.Detach()
	ss.sub = ss.backend.Hub().Broker().NewSubscriber()
	ss.subscribeTo(ss.dconn, args[1:])
	if err := ss.dconn.Flush(); err != nil {
		ss.close()
		return
	}
	go ss.deliver()
	go ss.read()
	go func() {
		// a subscriber dropped for falling behind is disconnected at
		// once, which also ends a write that waits for it
		<-ss.sub.Gone()
		ss.close()
	}()
}

func (ss *session) subscribeTo(w redcon.Conn, channels [][]byte) {
	for _, c := range channels {
		subscription(w, "subscribe", c, ss.sub.Subscribe(string(c)))
	}
}

// subscription writes the reply to (un)subscribing from channel (nil: none),
// with the count of channels left.
func subscription(w redcon.Conn, kind string, channel []byte, n int) {
	w.WriteArray(3)
	w.WriteBulkString(kind)
	if channel == nil {
		w.WriteNull()
	} else {
		w.WriteBulk(channel)
	}
	w.WriteInt(n)
}

// execSubscribed runs a command of a subscribed connection: only
// SUBSCRIBE, UNSUBSCRIBE and PING (QUIT and AUTH came before).
func (ss *session) execSubscribed(w redcon.Conn, name string, args [][]byte) {
	switch name {
	case "subscribe":
		if validChannels(w, args) {
			ss.subscribeTo(w, args[1:])
		}
	case "unsubscribe":
		channels := args[1:]
		if len(channels) == 0 {
			for _, c := range ss.sub.Channels() {
				channels = append(channels, []byte(c))
			}
		}
		if len(channels) == 0 {
			subscription(w, "unsubscribe", nil, 0)
		}
		for _, c := range channels {
			subscription(w, "unsubscribe", c, ss.sub.Unsubscribe(string(c)))
		}
	case "ping":
		if len(args) > 2 {
			wrongArgs(w, name)
			return
		}
		w.WriteArray(2)
		w.WriteBulkString("pong")
		if len(args) == 2 {
			w.WriteBulk(args[1])
		} else {
			w.WriteBulkString("")
		}
	default:
		w.WriteError("ERR Can't execute '" + name + "': only SUBSCRIBE / UNSUBSCRIBE / PING / QUIT are allowed in this context")
	}
}

// read serves the commands of a subscribed connection.
func (ss *session) read() {
	defer ss.close()
	for {
		cmd, err := ss.dconn.ReadCommand()
		if err != nil || ss.closing() {
			return
		}
		if len(cmd.Args) == 0 {
			continue
		}
		ss.mu.Lock()
		ss.exec(ss.dconn, cmd.Args)
		err = ss.flush()
		ss.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// deliver writes the subscriber's messages until it is dropped: for
// falling behind (its buffer filled while a write waited) or because the
// connection ended.
func (ss *session) deliver() {
	defer ss.close()
	for {
		select {
		case m := <-ss.sub.C:
			ss.mu.Lock()
			ss.dconn.WriteArray(3)
			ss.dconn.WriteBulkString("message")
			ss.dconn.WriteBulkString(m.Channel)
			ss.dconn.WriteBulk(m.Payload)
			err := ss.flush()
			ss.mu.Unlock()
			if err != nil {
				return
			}
		case <-ss.sub.Gone():
			return
		}
	}
}

func (ss *session) flush() error {
	_ = ss.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return ss.dconn.Flush()
}

// quit ends the connection after the reply in w is written.
func (ss *session) quit(w redcon.Conn) {
	if ss.dconn == nil {
		w.Close() // redcon flushes, then closes
		return
	}
	_ = ss.flush()
	ss.close()
}

func (ss *session) closing() bool {
	select {
	case <-ss.sub.Gone():
		return true
	default:
		return false
	}
}

// close ends a subscribed connection. It closes the network connection
// itself rather than the detached one, which would flush the buffer that
// another goroutine may be writing.
func (ss *session) close() {
	ss.once.Do(func() {
		ss.sub.Close()
		_ = ss.nc.Close()
		ss.srv.forget(ss)
	})
}
