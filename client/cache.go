package client

import (
	"context"
	"fmt"
	"time"
)

// entry is a cached answer. It is never changed once stored.
type entry struct {
	result Result
	// until is when the answer stops being reused: the time the question was
	// sent plus maxAge (or the negative TTL), on the client's clock.
	until time.Time
	// exp is the token's expiry, zero for an inactive answer. It is a wall
	// clock time, so checking it apart from until keeps a cached answer from
	// outliving exp even if the monotonic and wall clocks drift apart.
	exp time.Time
}

// fresh reports whether the entry may still answer at now.
func (e *entry) fresh(now time.Time) bool {
	return now.Before(e.until) && (e.exp.IsZero() || now.Before(e.exp))
}

// cached returns the cached answer for key, fresh or not, or nil.
func (c *Client) cached(key tokenHash) *entry {
	if c.maxEntries <= 0 {
		return nil
	}
	if v, ok := c.entries.Load(key); ok {
		return v.(*entry)
	}
	return nil
}

// flight is one introspection request that concurrent calls for the same
// token share.
type flight struct {
	done    chan struct{}      // closed once res and err are set
	sent    time.Time          // when the request started, on the client's clock
	waiters int                // calls waiting for it; guarded by Client.mu
	cancel  context.CancelFunc // ends the request once nobody waits
	res     Result
	err     error
}

// fetch answers a cache miss: it joins the request in flight for the token if
// there is a recent one, or starts one, and waits for it or for ctx.
func (c *Client) fetch(ctx context.Context, key tokenHash, token string, now time.Time) (Result, error) {
	c.mu.Lock()
	if e := c.cached(key); e != nil && e.fresh(now) {
		// Stored while this call waited for the lock.
		c.mu.Unlock()
		return e.result, nil
	}
	f := c.flights[key]
	if f == nil || !now.Before(f.sent.Add(c.maxAge)) {
		// Sharing an answer is reusing it: only a request sent less than
		// maxAge ago may be joined. A later one replaces it here; the older
		// one still answers its own waiters.
		f = c.start(ctx, key, token, now)
	}
	f.waiters++
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.res, f.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	select {
	case <-f.done:
		// Answered meanwhile: the answer is as good as the error.
		c.mu.Unlock()
		return f.res, f.err
	default:
	}
	f.waiters--
	if f.waiters == 0 {
		// Nobody wants the answer any more: end the request, and let the
		// next call start afresh rather than join a cancelled one.
		f.cancel()
		if c.flights[key] == f {
			delete(c.flights, key)
		}
	}
	c.mu.Unlock()
	return Result{}, fmt.Errorf("gatepass introspection: %w", context.Cause(ctx))
}

// start registers and launches a request for token. c.mu must be held.
//
// The request runs under its own context, which keeps the values of ctx but
// not its cancellation: it is cancelled once every call waiting for it has
// given up, so one caller's deadline does not fail the others.
func (c *Client) start(ctx context.Context, key tokenHash, token string, now time.Time) *flight {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &flight{done: make(chan struct{}), sent: now, cancel: cancel}
	c.flights[key] = f
	go func() {
		res, err := c.ask(rctx, token)
		c.mu.Lock()
		f.res, f.err = res, err
		if c.flights[key] == f {
			// Only the newest request for a token is cached: an older one
			// may carry an older answer.
			delete(c.flights, key)
			if err == nil {
				c.store(key, res, f.sent)
			}
		}
		close(f.done)
		c.mu.Unlock()
		cancel()
	}()
	return f
}

// store caches an answer to a question sent at sent. c.mu must be held.
//
// The cache holds at most maxEntries answers. A new token's answer pushes out
// the answer of the token first cached longest ago (whether or not it is
// still fresh); a newer answer for a cached token takes its place.
func (c *Client) store(key tokenHash, res Result, sent time.Time) {
	if c.maxEntries <= 0 {
		return
	}
	e := &entry{result: res}
	switch {
	case res.Active && c.maxAge > 0:
		e.until = sent.Add(c.maxAge)
		e.exp = res.ExpiresAt
	case !res.Active && c.negTTL > 0:
		e.until = sent.Add(c.negTTL)
	default:
		return
	}
	if !e.fresh(c.now()) {
		return
	}
	if _, ok := c.entries.Load(key); ok {
		c.entries.Store(key, e)
		return
	}
	if len(c.order) < c.maxEntries {
		c.order = append(c.order, key)
	} else {
		c.entries.Delete(c.order[c.next])
		c.order[c.next] = key
		c.next = (c.next + 1) % c.maxEntries
	}
	c.entries.Store(key, e)
}
