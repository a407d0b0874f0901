package fakeslack

import (
	"math"
	"net/url"
	"time"
)

// rateLimits are the configured rate limits and their token buckets.
// Guarded by Server.mu; the zero value limits nothing.
type rateLimits struct {
	channel        tokenRate
	channelBuckets map[string]*bucket // by conversation ID
	methods        map[string]tokenRate
	methodBuckets  map[string]*bucket
}

// tokenRate is a token bucket's refill rate (tokens per second) and
// capacity. The zero value means no limit.
type tokenRate struct {
	perSecond float64
	burst     float64
}

type bucket struct {
	tokens float64
	last   time.Time
}

// take removes a token from b if one is available at now and returns 0,
// or returns how long until one will be.
func (b *bucket) take(r tokenRate, now time.Time) time.Duration {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(r.burst, b.tokens+elapsed*r.perSecond)
	}
	if now.After(b.last) {
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / r.perSecond * float64(time.Second))
}

// takeToken takes a token from the bucket for key, creating it full.
func takeToken(buckets map[string]*bucket, key string, r tokenRate, now time.Time) time.Duration {
	b, ok := buckets[key]
	if !ok {
		b = &bucket{tokens: r.burst, last: now}
		buckets[key] = b
	}
	return b.take(r, now)
}

// SetChannelRateLimit limits chat.postMessage per conversation the way Slack
// does (about one message per second per channel, with short bursts): each
// conversation has a token bucket holding up to burst messages and refilled
// at perSecond. A post to a conversation whose bucket is empty gets HTTP 429
// with a Retry-After header (whole seconds until a token is back, at least
// 1) and Slack's {"ok":false,"error":"ratelimited"} body, changes no state
// and is recorded with Status 429. Direct messages count against the DM
// conversation ("D"+userID) whether they are addressed by user or channel
// ID. Other methods, chat.postEphemeral included, are not limited by it.
// The clock is Options.Now. perSecond <= 0 removes the limit; burst < 1 is
// treated as 1. Changing the limit refills every bucket; [Server.Reset]
// removes it.
func (s *Server) SetChannelRateLimit(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits.channelBuckets = nil
	if perSecond <= 0 {
		s.limits.channel = tokenRate{}
		return
	}
	s.limits.channel = tokenRate{perSecond: perSecond, burst: float64(max(burst, 1))}
	s.limits.channelBuckets = make(map[string]*bucket)
}

// SetMethodRateLimit limits calls to a Web API method (or to response URLs,
// with [MethodResponseURL]) to perMinute, like Slack's per-method tiers
// (Tier 3, which includes chat.update, allows about 50 per minute): a token
// bucket holding perMinute calls, refilled at perMinute per minute, so a
// burst of perMinute calls passes and the next waits. Calls over the limit
// get HTTP 429 with Retry-After and Slack's ratelimited body, change no
// state and are recorded with Status 429. For chat.postMessage it applies on
// top of [Server.SetChannelRateLimit]. perMinute <= 0 removes the limit;
// [Server.Reset] removes all.
func (s *Server) SetMethodRateLimit(method string, perMinute int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limits.methods == nil {
		s.limits.methods = make(map[string]tokenRate)
		s.limits.methodBuckets = make(map[string]*bucket)
	}
	delete(s.limits.methodBuckets, method)
	if perMinute <= 0 {
		delete(s.limits.methods, method)
		return
	}
	s.limits.methods[method] = tokenRate{perSecond: float64(perMinute) / 60, burst: float64(perMinute)}
}

// rateLimitedLocked applies the rate limits to a call and returns how long
// the caller must wait, or 0 if the call may proceed.
func (s *Server) rateLimitedLocked(method string, p url.Values) time.Duration {
	now := s.now()
	if r, ok := s.limits.methods[method]; ok {
		if wait := takeToken(s.limits.methodBuckets, method, r, now); wait > 0 {
			return wait
		}
	}
	if method == "chat.postMessage" && s.limits.channel.perSecond > 0 {
		if ch := p.Get("channel"); ch != "" {
			return takeToken(s.limits.channelBuckets, s.canonicalLocked(ch), s.limits.channel, now)
		}
	}
	return 0
}
