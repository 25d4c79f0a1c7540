package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

const (
	// lockTTL outlives a refresh attempt (oauth.DefaultRefreshTimeout) so
	// a lock is not taken over while its holder still refreshes, and
	// frees the token of a holder that died.
	lockTTL = oauth.DefaultRefreshTimeout + 5*time.Second
	// lockPoll is how often a process waiting for another's refresh looks
	// for its token.
	lockPoll = 50 * time.Millisecond
	// tokenLinger keeps a refreshed token in Redis past its expiry, so a
	// process that was away can still take the rotated refresh token.
	tokenLinger = 7 * 24 * time.Hour
)

// storedToken is a token as kept in Redis. It holds secrets: Redis must be
// as private as the auth directory (a password, rediss://).
type storedToken struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

// release deletes the lock KEYS[1] if ARGV[1] still holds it.
var release = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// OnToken makes fn the receiver of the tokens other processes refreshed,
// by the name the token was coordinated under (see Coordinate); nil stops
// it. fn installs the token and writes it to the auth file.
func (c *Cluster) OnToken(fn func(name string, t oauth.Token)) {
	if fn == nil {
		c.tokens.Store(nil)
		return
	}
	c.tokens.Store(&fn)
}

// Coordinate runs refresh for the token called name under a lock in
// Redis, so the processes refresh it once: a process that finds the lock
// taken waits for the holder's token, and one that finds a newer token
// than current in Redis takes it without a refresh. The refreshed token
// is stored and announced, so it reaches every process. While Redis is
// down each process refreshes on its own.
func (c *Cluster) Coordinate(ctx context.Context, name string, current oauth.Token, refresh func(context.Context) (oauth.Token, error)) (oauth.Token, error) {
	if !c.Up() {
		return refresh(ctx)
	}
	lock, key := c.prefix+"oauth:lock:"+name, c.prefix+"oauth:token:"+name
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	owner := hex.EncodeToString(idb[:])
	for {
		if t, ok := c.newerToken(ctx, key, current); ok {
			return t, nil
		}
		got, err := c.rdb.SetNX(ctx, lock, owner, lockTTL).Result()
		if err != nil {
			if ctx.Err() != nil {
				return oauth.Token{}, ctx.Err()
			}
			c.markDown(err)
			return refresh(ctx)
		}
		if got {
			break
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return oauth.Token{}, ctx.Err()
		}
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		_ = release.Run(rctx, c.rdb, []string{lock}, owner).Err()
	}()
	// the holder before us may have finished just before we took the lock
	if t, ok := c.newerToken(ctx, key, current); ok {
		return t, nil
	}
	t, err := refresh(ctx)
	if err != nil {
		return t, err
	}
	b, _ := json.Marshal(storedToken{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, IDToken: t.IDToken, Expiry: t.Expiry})
	ttl := tokenLinger
	if !t.Expiry.IsZero() {
		ttl += time.Until(t.Expiry)
	}
	wctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	p := c.rdb.Pipeline()
	p.Set(wctx, key, b, ttl)
	c.announce(p, announcement{Token: name})
	if _, err := p.Exec(wctx); err != nil {
		c.markDown(err)
	}
	return t, nil
}

// newerToken reads the token stored for key and reports whether it
// replaces current: another access token that lives longer.
func (c *Cluster) newerToken(ctx context.Context, key string, current oauth.Token) (oauth.Token, bool) {
	gctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	raw, err := c.rdb.Get(gctx, key).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
			c.markDown(err)
		}
		return oauth.Token{}, false
	}
	var st storedToken
	if json.Unmarshal(raw, &st) != nil || st.AccessToken == "" || st.AccessToken == current.AccessToken {
		return oauth.Token{}, false
	}
	t := oauth.Token{AccessToken: st.AccessToken, RefreshToken: st.RefreshToken, IDToken: st.IDToken, Expiry: st.Expiry}
	if !current.Expiry.IsZero() && !t.Expiry.IsZero() && !t.Expiry.After(current.Expiry) {
		return oauth.Token{}, false
	}
	return t, true
}

// adoptToken hands the token another process refreshed to the receiver.
func (c *Cluster) adoptToken(name string) {
	fn := c.tokens.Load()
	if fn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, opTimeout)
	defer cancel()
	raw, err := c.rdb.Get(ctx, c.prefix+"oauth:token:"+name).Bytes()
	if err != nil {
		return
	}
	var st storedToken
	if json.Unmarshal(raw, &st) != nil || st.AccessToken == "" {
		return
	}
	// installing writes the auth file: not on the goroutine that reads
	// the announcements
	go (*fn)(name, oauth.Token{AccessToken: st.AccessToken, RefreshToken: st.RefreshToken, IDToken: st.IDToken, Expiry: st.Expiry})
}
