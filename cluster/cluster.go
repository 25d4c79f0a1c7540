package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/session"
)

// Defaults of Options.
const (
	// DefaultUsageRetention is how many usage events the usage list keeps
	// for a consumer that is away.
	DefaultUsageRetention = 10_000
	// DefaultKeyPrefix starts every key of the shared state (the usage
	// list and the event channels keep their plain names).
	DefaultKeyPrefix = "cliproxy:"
)

// Names of the event stream, as the consumers read it.
const (
	// UsageList is the list usage events are appended to, oldest first:
	// a consumer drains it with LPOP.
	UsageList = "usage"
	// UsageChannel and ErrorChannel are where events are published.
	UsageChannel = "usage"
	ErrorChannel = "errors"
)

const (
	// opTimeout bounds a Redis call a request waits for: a Redis that is
	// slow costs a request this much once, then it is taken as down.
	opTimeout = 250 * time.Millisecond
	// writeTimeout bounds a batch of background writes.
	writeTimeout = time.Second
	// retryEvery is how often a Redis that is down is tried again.
	retryEvery = 250 * time.Millisecond
	// pingEvery is how often a Redis that is up is checked while the
	// channel is quiet.
	pingEvery = 500 * time.Millisecond
	// queueLen bounds the background queues; past it, writes and events
	// are dropped rather than make a request wait.
	queueLen = 4096
	// maxPending bounds the binding changes kept for replay while Redis
	// is down.
	maxPending = 10_000
)

// Options configure a Cluster.
type Options struct {
	// URL is redis://[user:password@]host:port/db or rediss:// for TLS.
	URL string
	// Pool names the state: processes share the state of the pools with
	// the same name.
	Pool string
	// Health and Bindings are the local state the cluster keeps coherent.
	Health   *auth.Health
	Bindings *session.Cache
	// UsageRetention bounds the usage list. Default:
	// DefaultUsageRetention.
	UsageRetention int
	// UsageMaxAge drops usage records that waited longer (see
	// SetUsageMaxAge). Default: 0, no age limit.
	UsageMaxAge time.Duration
	// OnUsageDropped, when set, is told how many usage records this
	// process dropped from the list unread (past the age or the size).
	OnUsageDropped func(n int)
	// OnUsageUnsent, when set, is given back the usage records this
	// process could not write to Redis (it was down, the queue to it was
	// full, or the cluster closed), so that the caller keeps them (the
	// telemetry hub's local queue) instead of losing them. A record whose
	// write got no answer may have reached the list all the same: it is
	// then counted twice rather than lost.
	OnUsageUnsent func(payloads [][]byte)
	// KeyPrefix starts every key. Default: DefaultKeyPrefix.
	KeyPrefix string
	// Logger gets the warning when Redis goes away and the notice when it
	// returns. Default: none.
	Logger *zap.Logger
}

// Cluster shares a pool's state with the other processes through Redis.
// Build one with New; Close it when done.
type Cluster struct {
	rdb       *redis.Client
	opts      Options
	id        string // tells this process's announcements apart
	prefix    string // of this pool's keys
	channel   string // of this pool's announcements
	bindings  *Bindings
	retention int64

	maxAge  atomic.Int64 // time.Duration of usage records
	state   atomic.Int32 // stateUnknown, stateUp or stateDown
	gauge   atomic.Pointer[func(bool)]
	tokens  atomic.Pointer[func(name string, t oauth.Token)]
	writes  chan write
	events  chan event
	pending pendingBindings

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const (
	stateUnknown int32 = iota
	stateUp
	stateDown
)

// New connects to the Redis at opts.URL and starts sharing. Only a URL
// that cannot be used is an error: a Redis out of reach is waited for in
// the background while the local state serves.
func New(opts Options) (*Cluster, error) {
	if opts.Health == nil || opts.Bindings == nil {
		return nil, errors.New("starting cluster state: health and bindings are required")
	}
	ro, err := parseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.UsageRetention <= 0 {
		opts.UsageRetention = DefaultUsageRetention
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	ro.DialTimeout = 500 * time.Millisecond
	ro.ReadTimeout = 500 * time.Millisecond
	ro.WriteTimeout = 500 * time.Millisecond
	ro.MaxRetries = -1 // a down Redis must not hold a request up
	ro.ContextTimeoutEnabled = true
	ro.DisableIdentity = true

	var idb [8]byte
	_, _ = rand.Read(idb[:])
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		rdb:       redis.NewClient(ro),
		opts:      opts,
		id:        hex.EncodeToString(idb[:]),
		prefix:    opts.KeyPrefix + opts.Pool + ":",
		retention: int64(opts.UsageRetention),
		writes:    make(chan write, queueLen),
		events:    make(chan event, queueLen),
		ctx:       ctx,
		cancel:    cancel,
	}
	c.channel = c.prefix + "sync"
	c.maxAge.Store(int64(opts.UsageMaxAge))
	c.bindings = &Bindings{c: c, local: opts.Bindings}
	c.pending.m = make(map[string]bindOp)

	opts.Health.SetSync(c)
	// a first try now, so a reachable Redis serves from the first request
	// (and the first token refresh is already coordinated)
	ps, err := c.connect()
	if err != nil {
		c.markDown(err)
	}
	c.wg.Add(3)
	go c.watch(ps)
	go c.writeLoop()
	go c.eventLoop()
	return c, nil
}

// parseURL reads a redis:// or rediss:// URL. Its errors never repeat the
// URL, which may hold a password.
func parseURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("parsing state url: not a valid url")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("parsing state url: scheme must be redis or rediss, got %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("parsing state url: missing host")
	}
	ro, err := redis.ParseURL(raw)
	if err != nil {
		return nil, errors.New("parsing state url: expected redis://[user:password@]host:port/db")
	}
	return ro, nil
}

// Close stops sharing: the local state carries on alone.
func (c *Cluster) Close() error {
	if s := c.opts.Health.Sync(); s == auth.HealthSync(c) {
		c.opts.Health.SetSync(nil)
	}
	c.cancel()
	c.wg.Wait()
	return c.rdb.Close()
}

// Bindings is the session binding store to give the selector: the local
// cache, kept coherent with the other processes.
func (c *Cluster) Bindings() *Bindings { return c.bindings }

// Up reports whether Redis is reachable, as last seen.
func (c *Cluster) Up() bool { return c.state.Load() == stateUp }

// OnUp makes fn the receiver of Redis' reachability: called now with the
// current state and on every change (a metric's gauge). Nil stops it.
func (c *Cluster) OnUp(fn func(up bool)) {
	if fn == nil {
		c.gauge.Store(nil)
		return
	}
	c.gauge.Store(&fn)
	fn(c.Up())
}

// markDown takes Redis as out of reach after err, warning once per outage.
func (c *Cluster) markDown(err error) {
	if c.ctx.Err() != nil {
		return
	}
	old := c.state.Swap(stateDown)
	if old == stateDown {
		return
	}
	c.opts.Logger.Warn("redis state unreachable, serving from local state until it returns",
		zap.String("pool", c.opts.Pool), zap.String("error", describe(err)))
	if fn := c.gauge.Load(); fn != nil {
		(*fn)(false)
	}
}

// markUp takes Redis as reachable again.
func (c *Cluster) markUp() {
	old := c.state.Swap(stateUp)
	if old == stateUp {
		return
	}
	if old == stateDown {
		c.opts.Logger.Info("redis state reachable again, resynchronised", zap.String("pool", c.opts.Pool))
	}
	if fn := c.gauge.Load(); fn != nil {
		(*fn)(true)
	}
}

// describe names a Redis failure without its text, which may name the
// server's address with user info.
func describe(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, new(*net.OpError)):
		return "connection failed"
	case errors.As(err, new(redis.Error)):
		return "redis error: " + err.Error()
	}
	return "connection lost"
}

// watch keeps the subscription to the pool's announcements (starting
// with ps, if not nil), checks Redis while it is quiet, and subscribes and
// resynchronises again after every failure.
func (c *Cluster) watch(ps *redis.PubSub) {
	defer c.wg.Done()
	for c.ctx.Err() == nil {
		if ps == nil {
			var err error
			if ps, err = c.connect(); err != nil {
				c.markDown(err)
				c.sleep(retryEvery)
				continue
			}
		}
		c.listen(ps)
		ps.Close()
		ps = nil
	}
}

// connect subscribes to the announcements, resynchronises with Redis and
// takes it as up.
func (c *Cluster) connect() (*redis.PubSub, error) {
	ps := c.rdb.Subscribe(c.ctx, c.channel)
	ctx, cancel := context.WithTimeout(c.ctx, time.Second)
	_, err := ps.Receive(ctx)
	cancel()
	if err != nil {
		ps.Close()
		return nil, err
	}
	// subscribed first, so nothing announced during the resync is missed
	ctx, cancel = context.WithTimeout(c.ctx, 5*writeTimeout)
	err = c.resyncHealth(ctx)
	cancel()
	if err != nil {
		ps.Close()
		return nil, err
	}
	wasDown := c.state.Load() == stateDown
	c.markUp()
	c.replayPending()
	if wasDown {
		// Redis may have restarted empty, and bindings other processes
		// changed meanwhile went unannounced: the newer binding of each
		// session wins, here and there. A failure takes Redis as down
		// again, and the next connection merges again.
		_ = c.writeBackBindings()
	}
	return ps, nil
}

// listen applies announcements until Redis fails or the cluster closes.
func (c *Cluster) listen(ps *redis.PubSub) {
	for c.ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(c.ctx, pingEvery)
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if err := c.ping(ps); err != nil {
					c.markDown(err)
					return
				}
				if !c.Up() {
					// a request saw Redis fail: subscribe and resync
					return
				}
				continue
			}
			c.markDown(err)
			return
		}
		if m, ok := msg.(*redis.Message); ok {
			c.apply([]byte(m.Payload))
		}
	}
}

// ping checks both the subscription's connection and the pool's.
func (c *Cluster) ping(ps *redis.PubSub) error {
	ctx, cancel := context.WithTimeout(c.ctx, opTimeout)
	defer cancel()
	if err := ps.Ping(ctx); err != nil {
		return err
	}
	return c.rdb.Ping(ctx).Err()
}

func (c *Cluster) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.ctx.Done():
	}
}

// announcement is what the processes tell each other on the channel.
type announcement struct {
	From   string            `json:"from"`
	Health *auth.SharedState `json:"health,omitempty"`
	Forgot string            `json:"forgot,omitempty"`
	Bind   *bindOp           `json:"bind,omitempty"`
	Token  string            `json:"token,omitempty"`
}

// apply takes an announcement into the local state. A binding change is
// applied by every process, its writer too: the announcements arrive in
// the order Redis took the writes (each batch writes and announces in one
// transaction), so every cache ends with the binding Redis holds even when
// two processes bound a session at the same moment. Other announcements
// are another process's news.
func (c *Cluster) apply(payload []byte) {
	var a announcement
	if err := json.Unmarshal(payload, &a); err != nil {
		return
	}
	if a.Bind != nil {
		c.bindings.applyRemote(*a.Bind)
		return
	}
	if a.From == c.id {
		return
	}
	switch {
	case a.Health != nil:
		c.opts.Health.Apply(*a.Health)
	case a.Forgot != "":
		c.opts.Health.Forget(a.Forgot)
	case a.Token != "":
		c.adoptToken(a.Token)
	}
}

func (c *Cluster) announce(p redis.Pipeliner, a announcement) {
	a.From = c.id
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	p.Publish(c.ctx, c.channel, b)
}

// ValidateURL reports whether raw is a URL New accepts, without repeating
// it in the error.
func ValidateURL(raw string) error {
	_, err := parseURL(raw)
	return err
}
