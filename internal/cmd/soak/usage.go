package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"
)

// managementKey is the instances' management key: collectors AUTH with it
// on the gateway's own port.
const managementKey = "soak-management-key-5f0c"

// usageSource is a RESP server the harness pops usage records from, as a
// collector of the team's usage would: LPOP <list> <count>. By default
// these are both instances' own ports (the cliproxy_resp listener, AUTH
// with the management key, list "usage"), whose pops drain the instance's
// local queue (records kept while Redis was away or could not be written)
// and then the cluster's Redis list; -usage-addr points the count at one
// other RESP server instead.
type usageSource struct {
	Addr     string // host:port
	Password string // for AUTH, "" for none
	List     string // default "usage"
}

// usageDrain pops usage records from its sources every second and counts
// the requests they stand for (a record popped twice counts once).
type usageDrain struct {
	srcs   []usageSource
	mu     sync.Mutex
	seen   map[string]struct{} // request IDs popped
	recs   [][]byte            // every record popped, for usage.jsonl
	popped atomic.Int64        // records popped, twice-popped ones included
	errors atomic.Int64        // pops that failed (a source was down)
}

func newUsageDrain(srcs []usageSource) *usageDrain {
	return &usageDrain{srcs: srcs, seen: map[string]struct{}{}}
}

// run pops until ctx ends.
func (d *usageDrain) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.drain(ctx); err != nil {
				d.errors.Add(1)
			}
		}
	}
}

// drain pops every record the sources hold now.
func (d *usageDrain) drain(ctx context.Context) error {
	var errs []error
	for _, src := range d.srcs {
		if err := d.drainOne(ctx, src); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src.Addr, err))
		}
	}
	return errors.Join(errs...)
}

// write writes every record popped to path, one a line.
func (d *usageDrain) write(path string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b bytes.Buffer
	for _, rec := range d.recs {
		b.Write(rec)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// unique is how many requests the popped records stand for.
func (d *usageDrain) unique() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return int64(len(d.seen))
}

func (d *usageDrain) drainOne(ctx context.Context, src usageSource) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", src.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	r := bufio.NewReader(conn)
	if src.Password != "" {
		if _, err := command(conn, r, "AUTH", src.Password); err != nil {
			return err
		}
	}
	for {
		recs, err := command(conn, r, "LPOP", src.List, "500")
		if err != nil {
			return err
		}
		d.popped.Add(int64(len(recs)))
		d.mu.Lock()
		for _, rec := range recs {
			id := gjson.GetBytes(rec, "request_id").String()
			if id == "" {
				id = string(rec) // a record without an ID counts once per content
			}
			d.seen[id] = struct{}{}
			d.recs = append(d.recs, rec)
		}
		d.mu.Unlock()
		if len(recs) < 500 {
			return nil
		}
	}
}

// command sends one RESP command and returns the bulk strings of its
// reply (an array's elements, or the one bulk string; none for nil or a
// status).
func command(conn net.Conn, r *bufio.Reader, args ...string) ([][]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	return readReply(r, nil)
}

func readReply(r *bufio.Reader, out [][]byte) ([][]byte, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return out, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return out, errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return out, nil
	case '-':
		return out, errors.New("resp error: " + line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return out, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return out, err
		}
		return append(out, buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		for i := 0; i < n; i++ {
			if out, err = readReply(r, out); err != nil {
				return out, err
			}
		}
		return out, nil
	}
	return out, fmt.Errorf("unknown reply %q", line)
}
