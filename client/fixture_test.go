package client_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatepass/gatepass/client"
	"github.com/gatepass/gatepass/tokens"
)

// Introspection keys the stand-in gatepass accepts. The second name and key
// need form-urlencoding in HTTP Basic: a colon, spaces, '+', '%', '/' and
// non-ASCII.
const (
	bearerName = "payments-api"
	bearerKey  = "a-long-random-secret"
	oddName    = "ledger:eu west"
	oddKey     = "s3cret key+/%é=="
)

// t0 is when every test starts, on the fake clock.
var t0 = time.Unix(1_795_770_000, 0)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// fakeLookup is the tokens.Lookup behind the stand-in gatepass: grants the
// test adds and revokes, an error it can make every lookup fail with, and a
// gate it can hold lookups at.
type fakeLookup struct {
	calls atomic.Int64 // lookups started

	mu     sync.Mutex
	grants map[string]tokens.Claims
	err    error
	gate   chan struct{}
	now    func() time.Time // nil: exp is not checked
}

func (g *fakeLookup) LookupToken(ctx context.Context, token string) (tokens.Claims, bool, error) {
	g.calls.Add(1)
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return tokens.Claims{}, false, ctx.Err()
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return tokens.Claims{}, false, g.err
	}
	c, ok := g.grants[token]
	if ok && g.now != nil && !g.now().Before(c.ExpiresAt) {
		return tokens.Claims{}, false, nil
	}
	return c, ok, nil
}

func (g *fakeLookup) grant(token string, c tokens.Claims) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.grants[token] = c
}

func (g *fakeLookup) revoke(token string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.grants, token)
}

func (g *fakeLookup) fail(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.err = err
}

// hold makes lookups wait until the returned function is called.
func (g *fakeLookup) hold() (release func()) {
	gate := make(chan struct{})
	g.mu.Lock()
	g.gate = gate
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.gate = nil
			g.mu.Unlock()
			close(gate)
		})
	}
}

// fixture is a real gatepass introspection endpoint (tokens.Introspector)
// over a fakeLookup, with one active prod-db:read grant, live.
type fixture struct {
	requests atomic.Int64 // HTTP requests to the introspection endpoint
	lookup   *fakeLookup
	srv      *httptest.Server
	clock    *fakeClock
	live     string
	claims   tokens.Claims
}

func liveClaims(iat time.Time) tokens.Claims {
	return tokens.Claims{Resource: "prod-db", Level: "read", Subject: "U0ALICE", Ticket: "INC-123",
		RequestID: "6f1c1f4e-9a51-4c1b-9a43-0d7f0e0c5a11", IssuedAt: iat, ExpiresAt: iat.Add(30 * time.Minute)}
}

// newFixture starts the stand-in gatepass. With wrap, requests pass through
// it on their way to the real handler.
func newFixture(tb testing.TB, wrap func(http.Handler) http.Handler) *fixture {
	tb.Helper()
	f := &fixture{clock: &fakeClock{now: t0}}
	f.lookup = &fakeLookup{grants: map[string]tokens.Claims{}, now: f.clock.Now}
	f.live = mint(tb)
	f.claims = liveClaims(t0)
	f.lookup.grant(f.live, f.claims)
	var h http.Handler = tokens.NewIntrospector(f.lookup, []tokens.Client{
		{Name: bearerName, KeySHA256: sha256.Sum256([]byte(bearerKey))},
		{Name: oddName, KeySHA256: sha256.Sum256([]byte(oddKey))},
	}, nil)
	if wrap != nil {
		h = wrap(h)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/introspect", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	f.srv = httptest.NewServer(mux)
	tb.Cleanup(f.srv.Close)
	return f
}

// client returns a client of the stand-in, authenticated with bearerKey, on
// the fake clock, with opts.
func (f *fixture) client(tb testing.TB, opts ...client.Option) *client.Client {
	tb.Helper()
	return f.clientAuth(tb, client.WithBearerKey(bearerKey), opts...)
}

// clientAuth is client with other credentials.
func (f *fixture) clientAuth(tb testing.TB, auth client.Option, opts ...client.Option) *client.Client {
	tb.Helper()
	all := append([]client.Option{auth, client.WithHTTPClient(f.srv.Client()), client.WithClock(f.clock.Now)}, opts...)
	c, err := client.New(f.srv.URL, all...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// mint returns a new well-formed token.
func mint(tb testing.TB) string {
	tb.Helper()
	tok, err := tokens.New()
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// calls is how many introspection requests the stand-in has had.
func (f *fixture) calls() int64 { return f.requests.Load() }
