package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// usageSource is where the harness pops the gateway's usage records, as a
// consumer of the team's usage would: a RESP server that answers
// LPOP <list> <count>. Today that is the cluster's Redis and its list
// "usage"; the gateway's own RESP listener (AUTH with the management key,
// list "usage") answers the same commands, so pointing Addr and Password
// at it switches the measurement.
type usageSource struct {
	Addr     string // host:port; "" is the run's redis-server
	Password string // for AUTH, "" for none
	List     string // default "usage"
}

// usageDrain pops usage records every second and counts them.
type usageDrain struct {
	src    usageSource
	popped atomic.Int64
	errors atomic.Int64 // pops that failed (the source was down)
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
			if _, err := d.drain(ctx); err != nil {
				d.errors.Add(1)
			}
		}
	}
}

// drain pops every record the source holds now and returns how many.
func (d *usageDrain) drain(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", d.src.Addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	r := bufio.NewReader(conn)
	if d.src.Password != "" {
		if _, err := command(conn, r, "AUTH", d.src.Password); err != nil {
			return 0, err
		}
	}
	total := 0
	for {
		n, err := command(conn, r, "LPOP", d.src.List, "500")
		if err != nil {
			return total, err
		}
		total += n
		d.popped.Add(int64(n))
		if n < 500 {
			return total, nil
		}
	}
}

// command sends one RESP command and returns how many elements its reply
// has (an array's length, 1 for a bulk string, 0 for nil or a status).
func command(conn net.Conn, r *bufio.Reader, args ...string) (int, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return 0, err
	}
	return readElements(r)
}

func readElements(r *bufio.Reader) (int, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return 0, errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return 0, nil
	case '-':
		return 0, errors.New("resp error: " + line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return 0, nil
		}
		if _, err := r.Discard(n + 2); err != nil {
			return 0, err
		}
		return 1, nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return 0, nil
		}
		for i := 0; i < n; i++ {
			if _, err := readElements(r); err != nil {
				return 0, err
			}
		}
		return n, nil
	}
	return 0, fmt.Errorf("unknown reply %q", line)
}
