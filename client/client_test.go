package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatepass/gatepass/client"
	"github.com/gatepass/gatepass/tokens"
)

func TestNew(t *testing.T) {
	const secret = "super-secret-key"
	cases := []struct {
		name string
		base string
		opts []client.Option
		want string // a part of the error; "" means success
	}{
		{name: "bearer", base: "https://gatepass.example", opts: []client.Option{client.WithBearerKey(secret)}},
		{name: "basic", base: "https://gatepass.example/prefix/", opts: []client.Option{client.WithBasic("svc", secret)}},
		{name: "all options", base: "http://127.0.0.1:8080", opts: []client.Option{client.WithBearerKey(secret),
			client.WithHTTPClient(&http.Client{}), client.WithCache(0, 0), client.WithNegativeCache(0),
			client.WithClock(time.Now), client.WithErrorHandler(func(error) {})}},
		{name: "no credentials", base: "https://gatepass.example", want: "no credentials"},
		{name: "both schemes", base: "https://gatepass.example", opts: []client.Option{client.WithBearerKey(secret), client.WithBasic("svc", secret)}, want: "use only one"},
		{name: "empty key", base: "https://gatepass.example", opts: []client.Option{client.WithBearerKey("")}, want: "key is empty"},
		{name: "key with spaces around", base: "https://gatepass.example", opts: []client.Option{client.WithBearerKey(" " + secret)}, want: "white space"},
		{name: "key with newline", base: "https://gatepass.example", opts: []client.Option{client.WithBearerKey(secret + "\r\nX: y")}, want: "control character"},
		{name: "empty basic name", base: "https://gatepass.example", opts: []client.Option{client.WithBasic("", secret)}, want: "name is empty"},
		{name: "empty basic key", base: "https://gatepass.example", opts: []client.Option{client.WithBasic("svc", "")}, want: "key is empty"},
		{name: "no scheme", base: "gatepass.example", opts: []client.Option{client.WithBearerKey(secret)}, want: "want http:// or https://"},
		{name: "other scheme", base: "ftp://gatepass.example", opts: []client.Option{client.WithBearerKey(secret)}, want: "want http:// or https://"},
		{name: "no host", base: "https://", opts: []client.Option{client.WithBearerKey(secret)}, want: "no host"},
		{name: "user info", base: "https://svc:" + secret + "@gatepass.example", opts: []client.Option{client.WithBearerKey(secret)}, want: "credentials belong"},
		{name: "query", base: "https://gatepass.example/?a=b", opts: []client.Option{client.WithBearerKey(secret)}, want: "no query"},
		{name: "unparsable", base: "https://gatepass.example/%zz", opts: []client.Option{client.WithBearerKey(secret)}, want: "base URL"},
		{name: "nil HTTP client", base: "https://gatepass.example", opts: []client.Option{client.WithBearerKey(secret), client.WithHTTPClient(nil)}, want: "nil client"},
		{name: "nil clock", base: "https://gatepass.example", opts: []client.Option{client.WithBearerKey(secret), client.WithClock(nil)}, want: "nil clock"},
		{name: "negative cache size", base: "https://gatepass.example", opts: []client.Option{client.WithBearerKey(secret), client.WithCache(-1, time.Second)}, want: "negative maxEntries"},
		{name: "negative max age", base: "https://gatepass.example", opts: []client.Option{client.WithBearerKey(secret), client.WithCache(1, -time.Second)}, want: "negative maxAge"},
		{name: "negative TTL", base: "https://gatepass.example", opts: []client.Option{client.WithBearerKey(secret), client.WithNegativeCache(-time.Second)}, want: "negative TTL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := client.New(c.base, c.opts...)
			if c.want == "" {
				if err != nil || got == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want an error with %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want %q in it", err, c.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the key", err)
			}
		})
	}
}

func TestWellFormed(t *testing.T) {
	live, err := tokens.New()
	if err != nil {
		t.Fatal(err)
	}
	random := live[len(tokens.Prefix) : len(live)-tokens.ChecksumLen]
	minimal := tokens.Prefix + random[:tokens.MinRandomLen] + tokens.Checksum([]byte(random[:tokens.MinRandomLen]))
	long := strings.Repeat("a", 250-len(tokens.Prefix)-tokens.ChecksumLen)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := []struct {
		name  string
		token string
	}{
		{"minted", live},
		{"shortest", minimal},
		{"long", tokens.Prefix + long + tokens.Checksum([]byte(long))},
		{"empty", ""},
		{"prefix only", tokens.Prefix},
		{"other prefix", "gpasz_" + live[len(tokens.Prefix):]},
		{"upper-case prefix", "GPASS_" + live[len(tokens.Prefix):]},
		{"random part changed", flip(live, len(tokens.Prefix))},
		{"checksum changed", flip(live, len(live)-1)},
		{"too short", tokens.Prefix + random[:tokens.MinRandomLen-1] + tokens.Checksum([]byte(random[:tokens.MinRandomLen-1]))},
		{"not base62", live[:10] + "-" + live[11:]},
		{"space after", live + " "},
		{"too long", tokens.Prefix + strings.Repeat("a", 300) + tokens.Checksum([]byte(strings.Repeat("a", 300)))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, want := client.WellFormed(c.token), tokens.Valid(c.token); got != want {
				t.Errorf("WellFormed = %v, tokens.Valid = %v", got, want)
			}
		})
	}
}

// FuzzWellFormed checks the copy of the format check against the original.
func FuzzWellFormed(f *testing.F) {
	f.Add("gpass_")
	for range 4 {
		tok, _ := tokens.New()
		f.Add(tok)
		f.Add(tok[:len(tok)-1] + "0")
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := client.WellFormed(s), tokens.Valid(s); got != want {
			t.Errorf("WellFormed(%q) = %v, tokens.Valid = %v", s, got, want)
		}
	})
}

func TestIntrospect(t *testing.T) {
	f := newFixture(t, nil)
	expired, revoked, unknown := mint(t), mint(t), mint(t)
	f.lookup.grant(expired, tokens.Claims{Resource: "prod-db", Level: "write", IssuedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(-time.Minute)})
	f.lookup.grant(revoked, liveClaims(t0))
	f.lookup.revoke(revoked)
	breakGlass := mint(t)
	bg := liveClaims(t0)
	bg.Level, bg.BreakGlass, bg.Ticket = "write", true, `INC-9 "<odd>" \ é`
	f.lookup.grant(breakGlass, bg)

	c := f.client(t)
	cases := []struct {
		name    string
		token   string
		want    client.Result
		network bool // whether gatepass is asked
	}{
		{name: "active", token: f.live, network: true, want: client.Result{Active: true, Scope: "prod-db:read", Resource: "prod-db", Level: "read",
			Subject: "U0ALICE", Ticket: "INC-123", RequestID: f.claims.RequestID, IssuedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)}},
		{name: "break-glass", token: breakGlass, network: true, want: client.Result{Active: true, Scope: "prod-db:write", Resource: "prod-db", Level: "write",
			Subject: "U0ALICE", Ticket: bg.Ticket, RequestID: f.claims.RequestID, IssuedAt: t0, ExpiresAt: t0.Add(30 * time.Minute), BreakGlass: true}},
		{name: "expired", token: expired, network: true},
		{name: "revoked", token: revoked, network: true},
		{name: "unknown", token: unknown, network: true},
		{name: "malformed checksum", token: badChecksum(f.live)},
		{name: "malformed prefix", token: "ghp_" + f.live[6:]},
		{name: "empty", token: ""},
		{name: "injection", token: f.live + "&token=" + f.live},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.calls()
			got, err := c.Introspect(context.Background(), tc.token)
			if err != nil {
				t.Fatal(err)
			}
			if !sameResult(got, tc.want) {
				t.Errorf("result\n%+v, want\n%+v", got, tc.want)
			}
			if asked := f.calls() > before; asked != tc.network {
				t.Errorf("asked gatepass: %v, want %v", asked, tc.network)
			}
		})
	}
}

// badChecksum returns token with its last checksum character changed.
func badChecksum(token string) string {
	last := token[len(token)-1]
	if last == 'x' {
		return token[:len(token)-1] + "y"
	}
	return token[:len(token)-1] + "x"
}

// sameResult compares results, times by instant.
func sameResult(a, b client.Result) bool {
	return a.ExpiresAt.Equal(b.ExpiresAt) && a.IssuedAt.Equal(b.IssuedAt) &&
		a.Active == b.Active && a.Scope == b.Scope && a.Resource == b.Resource && a.Level == b.Level &&
		a.Subject == b.Subject && a.Ticket == b.Ticket && a.RequestID == b.RequestID && a.BreakGlass == b.BreakGlass
}

// TestAuthSchemes introspects through the real handler with each scheme,
// with a name and key that need form-urlencoding, and with wrong ones.
func TestAuthSchemes(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name    string
		auth    client.Option
		refused bool
	}{
		{"bearer", client.WithBearerKey(bearerKey), false},
		{"bearer, other key", client.WithBearerKey(oddKey), false},
		{"basic", client.WithBasic(bearerName, bearerKey), false},
		{"basic, name and key needing escapes", client.WithBasic(oddName, oddKey), false},
		{"bearer, wrong key", client.WithBearerKey("not-the-key"), true},
		{"basic, wrong key", client.WithBasic(bearerName, "not-the-key"), true},
		{"basic, key of another name", client.WithBasic(bearerName, oddKey), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := f.clientAuth(t, tc.auth, client.WithCache(0, 0))
			res, err := c.Introspect(context.Background(), f.live)
			if tc.refused {
				if !errors.Is(err, client.ErrKeyRefused) {
					t.Fatalf("got %+v, %v; want ErrKeyRefused", res, err)
				}
				return
			}
			if err != nil || !res.Active || res.Scope != "prod-db:read" {
				t.Fatalf("got %+v, %v", res, err)
			}
		})
	}
}

// TestErrors checks that every answer but 200 is an error saying what
// gatepass said, never an inactive result, and that no error shows the token.
func TestErrors(t *testing.T) {
	// plainForm makes the real handler see a body that is not a form: 400.
	plainForm := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set("Content-Type", "text/plain")
			h.ServeHTTP(w, r)
		})
	}
	// replace answers with status and body instead of the real handler,
	// where TOKEN stands for the token asked about, and SPLIT for it with a
	// control character after the prefix.
	replace := func(status int, contentType, body string) func(http.Handler) http.Handler {
		return func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				w.Header().Set("Content-Type", contentType)
				w.WriteHeader(status)
				token := r.PostForm.Get("token")
				split := token[:len(tokens.Prefix)] + `\u0001` + token[len(tokens.Prefix):]
				_, _ = io.WriteString(w, strings.NewReplacer("TOKEN", token, "SPLIT", split).Replace(body))
			})
		}
	}
	cases := []struct {
		name       string
		wrap       func(http.Handler) http.Handler
		auth       []client.Option // credentials; nil means bearerKey
		lookupErr  error
		status     int    // 0: no *StatusError
		code       string // StatusError.Code
		want       string // a part of the message
		keyRefused bool
	}{
		{name: "401 invalid_client", auth: []client.Option{client.WithBearerKey("wrong")}, status: 401, code: "invalid_client",
			want: "gatepass introspection key refused", keyRefused: true},
		{name: "401 basic", auth: []client.Option{client.WithBasic(oddName, "wrong")}, status: 401, code: "invalid_client",
			want: "introspection key refused", keyRefused: true},
		{name: "400 invalid_request", wrap: plainForm, status: 400, code: "invalid_request", want: "request refused as invalid (HTTP 400 invalid_request)"},
		{name: "503 temporarily_unavailable", lookupErr: errors.New("database down"), status: 503, code: "temporarily_unavailable",
			want: "temporarily unavailable (HTTP 503 temporarily_unavailable)"},
		{name: "502 from a proxy", wrap: replace(502, "text/html", "<html>Bad Gateway TOKEN</html>"), status: 502, want: "unexpected answer (HTTP 502 Bad Gateway)"},
		{name: "echoed token", wrap: replace(400, "application/json", `{"error":"TOKEN","error_description":"bad token TOKEN\n"}`), status: 400,
			want: "bad token [token]"},
		{name: "echoed token split by a control character", wrap: replace(400, "application/json", `{"error":"invalid_request","error_description":"SPLIT"}`),
			status: 400, code: "invalid_request", want: "[token]"},
		{name: "redirect", wrap: replace(307, "text/plain", ""), status: 307, want: "HTTP 307"},
		{name: "200 not JSON", wrap: replace(200, "text/html", "<html>TOKEN</html>"), want: "malformed answer"},
		{name: "200 without active", wrap: replace(200, "application/json", `{"scope":"prod-db:read"}`), want: `no "active" member`},
		{name: "200 bad exp", wrap: replace(200, "application/json", `{"active":true,"exp":"soon"}`), want: "malformed answer"},
		{name: "200 too large", wrap: replace(200, "application/json", `{"active":false,"x":"`+strings.Repeat("x", 70<<10)+`"}`), want: "answer over"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.wrap)
			if tc.lookupErr != nil {
				f.lookup.fail(tc.lookupErr)
			}
			auth := client.WithBearerKey(bearerKey)
			if tc.auth != nil {
				auth = tc.auth[0]
			}
			c := f.clientAuth(t, auth)
			for range 2 { // errors are not cached: each call asks
				before := f.calls()
				res, err := c.Introspect(context.Background(), f.live)
				if err == nil {
					t.Fatalf("no error, result %+v", res)
				}
				if res != (client.Result{}) {
					t.Errorf("result %+v with the error", res)
				}
				if f.calls() != before+1 {
					t.Errorf("%d requests, want 1", f.calls()-before)
				}
				noToken(t, err, f.live)
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q, want %q in it", err, tc.want)
				}
				if got := errors.Is(err, client.ErrKeyRefused); got != tc.keyRefused {
					t.Errorf("errors.Is(err, ErrKeyRefused) = %v", got)
				}
				var se *client.StatusError
				switch {
				case tc.status == 0 && errors.As(err, &se):
					t.Errorf("a StatusError: %#v", se)
				case tc.status != 0 && !errors.As(err, &se):
					t.Errorf("not a StatusError: %#v", err)
				case tc.status != 0 && (se.StatusCode != tc.status || se.Code != tc.code):
					t.Errorf("StatusError %d %q, want %d %q", se.StatusCode, se.Code, tc.status, tc.code)
				}
			}
		})
	}
}

// TestTransportErrors covers gatepass gone, slow, and the caller giving up.
func TestTransportErrors(t *testing.T) {
	f := newFixture(t, nil)
	token := f.live

	t.Run("unreachable", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		c, err := client.New(down.URL, client.WithBearerKey(bearerKey))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Introspect(context.Background(), token)
		if err == nil {
			t.Fatal("no error")
		}
		noToken(t, err, token)
	})
	t.Run("timeout", func(t *testing.T) {
		release := f.lookup.hold()
		defer release()
		hc := *f.srv.Client()
		hc.Timeout = 50 * time.Millisecond
		c := f.client(t, client.WithHTTPClient(&hc))
		_, err := c.Introspect(context.Background(), token)
		if err == nil {
			t.Fatal("no error")
		}
		noToken(t, err, token)
	})
	t.Run("cancelled", func(t *testing.T) {
		release := f.lookup.hold()
		defer release()
		c := f.client(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Introspect(ctx, token)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want DeadlineExceeded", err)
		}
		noToken(t, err, token)
	})
}

// TestNoRedirects checks that the default HTTP client does not follow a
// redirect, which would carry the token and key elsewhere.
func TestNoRedirects(t *testing.T) {
	var followed atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/introspect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		_, _ = io.WriteString(w, `{"active":true,"scope":"prod-db:read"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithBearerKey(bearerKey))
	if err != nil {
		t.Fatal(err)
	}
	token := mint(t)
	res, err := c.Introspect(context.Background(), token)
	var se *client.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("got %+v, %v; want a 307 StatusError", res, err)
	}
	if followed.Load() != 0 {
		t.Error("the redirect was followed")
	}
	noToken(t, err, token)
}

// noToken fails if any rendering of err shows the token.
func noToken(t *testing.T, err error, token string) {
	t.Helper()
	for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, token) || strings.Contains(s, token[len(tokens.Prefix):]) {
			t.Errorf("the error shows the token: %s", s)
		}
	}
}

func TestCacheHit(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	ctx := context.Background()
	for i := range 5 {
		res, err := c.Introspect(ctx, f.live)
		if err != nil || !res.Active {
			t.Fatalf("call %d: %+v, %v", i, res, err)
		}
		f.clock.Add(time.Second) // 4 s in all: under the default 5 s
	}
	if n := f.calls(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestCacheEndsAtExp checks that a cached answer never outlives exp, with
// maxAge far longer than the token's life: at exp, gatepass is asked again.
func TestCacheEndsAtExp(t *testing.T) {
	for _, gatepassChecksExp := range []bool{true, false} {
		t.Run(fmt.Sprintf("gatepass checks exp: %v", gatepassChecksExp), func(t *testing.T) {
			f := newFixture(t, nil)
			if !gatepassChecksExp {
				f.lookup.now = nil // a gatepass whose clock lags: only the client cuts at exp
			}
			tok := mint(t)
			exp := t0.Add(10 * time.Second)
			f.lookup.grant(tok, tokens.Claims{Resource: "prod-db", Level: "read", IssuedAt: t0, ExpiresAt: exp})
			c := f.client(t, client.WithCache(100, time.Hour))
			ctx := context.Background()
			steps := []struct {
				at       time.Time
				active   bool
				requests int64
			}{
				{at: t0, active: true, requests: 1},
				{at: exp.Add(-time.Nanosecond), active: true, requests: 1},
				{at: exp, active: !gatepassChecksExp, requests: 2},
			}
			for _, s := range steps {
				f.clock.Set(s.at)
				res, err := c.Introspect(ctx, tok)
				if err != nil {
					t.Fatal(err)
				}
				if res.Active != s.active || f.calls() != s.requests {
					t.Fatalf("at exp%+v: active %v after %d requests, want %v after %d", s.at.Sub(exp), res.Active, f.calls(), s.active, s.requests)
				}
			}
		})
	}
}

// TestRevocationBound checks that a revoked token is accepted for at most
// maxAge after the revocation, and not at all with maxAge 0.
func TestRevocationBound(t *testing.T) {
	for _, maxAge := range []time.Duration{0, time.Second, 5 * time.Second, time.Minute} {
		t.Run(maxAge.String(), func(t *testing.T) {
			f := newFixture(t, nil)
			c := f.client(t, client.WithCache(100, maxAge))
			ctx := context.Background()
			if res, err := c.Introspect(ctx, f.live); err != nil || !res.Active {
				t.Fatalf("before revocation: %+v, %v", res, err)
			}
			f.lookup.revoke(f.live) // at t0, the time the answer was asked for
			if maxAge > 0 {
				f.clock.Set(t0.Add(maxAge - time.Nanosecond))
				if res, err := c.Introspect(ctx, f.live); err != nil || !res.Active {
					t.Fatalf("within maxAge: %+v, %v; want the cached answer", res, err)
				}
			}
			f.clock.Set(t0.Add(maxAge))
			if res, err := c.Introspect(ctx, f.live); err != nil || res.Active {
				t.Fatalf("maxAge after the revocation: %+v, %v; want inactive", res, err)
			}
			if n := f.calls(); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
		})
	}
}

func TestNegativeCache(t *testing.T) {
	cases := []struct {
		name string
		opts []client.Option
		ttl  time.Duration // 0: not cached
	}{
		{name: "default", ttl: client.DefaultNegativeTTL},
		{name: "3s", opts: []client.Option{client.WithNegativeCache(3 * time.Second)}, ttl: 3 * time.Second},
		{name: "off", opts: []client.Option{client.WithNegativeCache(0)}},
		{name: "cache off", opts: []client.Option{client.WithCache(0, time.Minute)}},
		{name: "positive cache off", opts: []client.Option{client.WithCache(10, 0)}, ttl: client.DefaultNegativeTTL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			c := f.client(t, tc.opts...)
			ctx := context.Background()
			tok := mint(t)
			check := func(wantActive bool, wantRequests int64) {
				t.Helper()
				res, err := c.Introspect(ctx, tok)
				if err != nil {
					t.Fatal(err)
				}
				if res.Active != wantActive || f.calls() != wantRequests {
					t.Fatalf("active %v after %d requests, want %v after %d", res.Active, f.calls(), wantActive, wantRequests)
				}
			}
			check(false, 1)
			f.lookup.grant(tok, liveClaims(t0)) // the unknown token is issued
			if tc.ttl == 0 {
				check(true, 2)
				return
			}
			f.clock.Set(t0.Add(tc.ttl - time.Nanosecond))
			check(false, 1)
			f.clock.Set(t0.Add(tc.ttl))
			check(true, 2)
		})
	}
}

// TestEvictionBound fills a small cache far past its size: it keeps the
// answers of the tokens cached last.
func TestEvictionBound(t *testing.T) {
	const size = 8
	f := newFixture(t, nil)
	c := f.client(t, client.WithCache(size, time.Minute), client.WithNegativeCache(time.Minute))
	ctx := context.Background()
	var all []string
	for i := range 100 {
		tok := mint(t)
		all = append(all, tok)
		if i%3 != 0 { // some active, some unknown
			f.lookup.grant(tok, liveClaims(f.clock.Now()))
		}
		for range 2 { // the second answer, once the first is stale, takes its place
			if _, err := c.Introspect(ctx, tok); err != nil {
				t.Fatal(err)
			}
			if n := c.CacheLen(); n > size {
				t.Fatalf("after %d tokens, %d cached answers; want at most %d", i+1, n, size)
			}
			f.clock.Add(time.Minute)
		}
	}
	if n := f.calls(); n != 200 {
		t.Errorf("%d requests, want 200", n)
	}
	if n := c.CacheLen(); n != size {
		t.Errorf("%d cached answers, want %d", n, size)
	}
	for i, tok := range all {
		if want := i >= len(all)-size; c.Holds(tok) != want {
			t.Errorf("token %d: cached %v, want %v", i, !want, want)
		}
	}
}

// TestCoalescing checks that concurrent calls for one token make one request,
// that a caller giving up does not fail the others, and that a request
// nobody waits for any more is abandoned.
func TestCoalescing(t *testing.T) {
	const n = 32
	t.Run("one request", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.client(t)
		release := f.lookup.hold()
		defer release()
		results := make([]client.Result, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { results[i], errs[i] = c.Introspect(context.Background(), f.live) })
		}
		waitFor(t, func() bool { return c.Waiters(f.live) == n })
		release()
		wg.Wait()
		for i := range n {
			if errs[i] != nil || !sameResult(results[i], results[0]) || !results[i].Active {
				t.Fatalf("call %d: %+v, %v", i, results[i], errs[i])
			}
		}
		if got := f.calls(); got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
		// Another token is another request.
		other := mint(t)
		if _, err := c.Introspect(context.Background(), other); err != nil || f.calls() != 2 {
			t.Errorf("another token: %v, %d requests", err, f.calls())
		}
	})
	t.Run("a caller gives up", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.client(t)
		release := f.lookup.hold()
		defer release()
		ctx, cancel := context.WithCancel(context.Background())
		impatient := make(chan error, 1)
		go func() {
			_, err := c.Introspect(ctx, f.live)
			impatient <- err
		}()
		waitFor(t, func() bool { return c.Waiters(f.live) == 1 })
		patient := make(chan client.Result, 1)
		go func() {
			res, _ := c.Introspect(context.Background(), f.live)
			patient <- res
		}()
		waitFor(t, func() bool { return c.Waiters(f.live) == 2 })
		cancel()
		if err := <-impatient; !errors.Is(err, context.Canceled) {
			t.Fatalf("the impatient caller got %v", err)
		}
		release()
		if res := <-patient; !res.Active {
			t.Fatalf("the patient caller got %+v", res)
		}
		if got := f.calls(); got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
	})
	t.Run("everyone gives up", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.client(t)
		release := f.lookup.hold()
		defer release()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if _, err := c.Introspect(ctx, f.live); !errors.Is(err, context.Canceled) {
					t.Errorf("got %v", err)
				}
			})
		}
		// All wait, and gatepass has the request.
		waitFor(t, func() bool { return c.Waiters(f.live) == 3 && f.lookup.calls.Load() == 1 })
		cancel()
		wg.Wait()
		if c.Waiters(f.live) != 0 {
			t.Fatal("the abandoned request is still joinable")
		}
		release()
		if res, err := c.Introspect(context.Background(), f.live); err != nil || !res.Active {
			t.Fatalf("next call: %+v, %v", res, err)
		}
		if got := f.calls(); got != 2 {
			t.Errorf("%d requests, want 2", got)
		}
	})
	t.Run("maxAge 0 asks every time", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.client(t, client.WithCache(100, 0))
		release := f.lookup.hold()
		defer release()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { _, _ = c.Introspect(context.Background(), f.live) })
		}
		waitFor(t, func() bool { return f.lookup.calls.Load() == 3 })
		release()
		wg.Wait()
	})
	t.Run("an old request is not joined", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.client(t, client.WithCache(100, time.Second))
		release := f.lookup.hold()
		defer release()
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = c.Introspect(context.Background(), f.live) })
		waitFor(t, func() bool { return f.lookup.calls.Load() == 1 })
		f.clock.Add(time.Second) // the request in flight is now as old as maxAge
		wg.Go(func() { _, _ = c.Introspect(context.Background(), f.live) })
		waitFor(t, func() bool { return f.lookup.calls.Load() == 2 })
		release()
		wg.Wait()
	})
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestResultAllows(t *testing.T) {
	read := client.Result{Active: true, Scope: "prod-db:read", Resource: "prod-db", Level: "read"}
	cases := []struct {
		name   string
		result client.Result
		scope  string
		want   bool
	}{
		{"exact", read, "prod-db:read", true},
		{"other level", read, "prod-db:write", false},
		{"resource", read, "prod-db", true},
		{"other resource", read, "billing-api", false},
		{"other resource:level", read, "billing-api:read", false},
		{"resource prefix", read, "prod", false},
		{"resource with colon", read, "prod-db:", false},
		{"longer resource", client.Result{Active: true, Scope: "prod-db2:read"}, "prod-db", false},
		{"level only", read, "read", false},
		{"empty scope", read, "", false},
		{"inactive", client.Result{Scope: "prod-db:read"}, "prod-db:read", false},
		{"several scopes", client.Result{Active: true, Scope: "a:x prod-db:read"}, "prod-db:read", true},
		{"several scopes, resource", client.Result{Active: true, Scope: "a:x prod-db:read"}, "prod-db", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.result.Allows(tc.scope); got != tc.want {
				t.Errorf("Allows(%q) = %v, want %v", tc.scope, got, tc.want)
			}
		})
	}
}

// TestForeignAnswers reads answers gatepass itself does not give but RFC 7662
// allows: fractional times, no exp, extra members.
func TestForeignAnswers(t *testing.T) {
	cases := []struct {
		name string
		body string
		want client.Result
		err  string
	}{
		{name: "fractional exp", body: `{"active":true,"scope":"prod-db:read","exp":1795771800.7,"iat":1795770000.2,"extra":[1,2]}`,
			want: client.Result{Active: true, Scope: "prod-db:read", ExpiresAt: time.Unix(1795771800, 0), IssuedAt: time.Unix(1795770000, 0)}},
		{name: "exponent", body: `{"active":true,"exp":1.7957718e9}`, want: client.Result{Active: true, ExpiresAt: time.Unix(1795771800, 0)}},
		{name: "no exp", body: `{"active":true,"scope":"prod-db:read"}`, want: client.Result{Active: true, Scope: "prod-db:read"}},
		{name: "inactive with members", body: `{"active":false,"scope":"prod-db:read","sub":"U0ALICE"}`, want: client.Result{}},
		{name: "active not a bool", body: `{"active":"true"}`, err: "malformed answer"},
		{name: "huge exp", body: `{"active":true,"exp":1e300}`, err: `"exp"`},
		{name: "bad iat", body: `{"active":true,"exp":1795771800,"iat":"x"}`, err: "malformed answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			clock := &fakeClock{now: t0}
			c, err := client.New(srv.URL, client.WithBearerKey(bearerKey), client.WithClock(clock.Now), client.WithCache(10, time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			token := mint(t)
			res, err := c.Introspect(context.Background(), token)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %+v, %v; want an error with %q", res, err, tc.err)
				}
				noToken(t, err, token)
				return
			}
			if err != nil || !sameResult(res, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", res, err, tc.want)
			}
			if tc.want.Active && tc.want.ExpiresAt.IsZero() {
				// Without exp, maxAge alone bounds the cache.
				clock.Set(t0.Add(time.Minute - time.Nanosecond))
				_, _ = c.Introspect(context.Background(), token)
				clock.Set(t0.Add(time.Minute))
				_, _ = c.Introspect(context.Background(), token)
				if n := requests.Load(); n != 2 {
					t.Errorf("%d requests, want 2", n)
				}
			}
		})
	}
}

func TestStatusError(t *testing.T) {
	cases := []struct {
		err       client.StatusError
		message   string
		temporary bool
	}{
		{client.StatusError{StatusCode: 401, Code: "invalid_client"},
			"gatepass introspection key refused: check the key (and, with HTTP Basic, its name) against introspection_keys (HTTP 401 invalid_client)", false},
		{client.StatusError{StatusCode: 400, Code: "invalid_request", Description: "no token"},
			"gatepass introspection: request refused as invalid (HTTP 400 invalid_request): no token", false},
		{client.StatusError{StatusCode: 503, Code: "temporarily_unavailable"},
			"gatepass introspection: gatepass is temporarily unavailable (HTTP 503 temporarily_unavailable)", true},
		{client.StatusError{StatusCode: 429}, "gatepass introspection: unexpected answer (HTTP 429 Too Many Requests)", true},
		{client.StatusError{StatusCode: 599}, "gatepass introspection: unexpected answer (HTTP 599)", true},
		{client.StatusError{StatusCode: 404}, "gatepass introspection: unexpected answer (HTTP 404 Not Found)", false},
	}
	for _, tc := range cases {
		t.Run(tc.message, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.message {
				t.Errorf("Error() = %q", got)
			}
			if got := tc.err.Temporary(); got != tc.temporary {
				t.Errorf("Temporary() = %v", got)
			}
			if got := errors.Is(&tc.err, client.ErrKeyRefused); got != (tc.err.StatusCode == 401) {
				t.Errorf("errors.Is(ErrKeyRefused) = %v", got)
			}
		})
	}
}

// TestErrorDescription checks what is kept of a server's error_description.
func TestErrorDescription(t *testing.T) {
	token := mint(t)
	cases := []struct{ name, code, desc, wantCode, wantDesc string }{
		{"plain", "invalid_request", "missing token", "invalid_request", "missing token"},
		{"control characters", "invalid_request", "a\nb\u0000c\u2028", "invalid_request", "abc"},
		{"long", "invalid_request", strings.Repeat("é", 300), "invalid_request", strings.Repeat("é", 200) + "…"},
		{"odd code", "bad \"code\"", "", "", ""},
		{"long code", strings.Repeat("x", 65), "", "", ""},
		{"token", token, "about " + token, "", "about [token]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": tc.code, "error_description": tc.desc})
			}))
			defer srv.Close()
			c, err := client.New(srv.URL, client.WithBearerKey(bearerKey))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Introspect(context.Background(), token)
			var se *client.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("error %v", err)
			}
			if se.Code != tc.wantCode || se.Description != tc.wantDesc {
				t.Errorf("code %q, description %q; want %q, %q", se.Code, se.Description, tc.wantCode, tc.wantDesc)
			}
			noToken(t, err, token)
		})
	}
}
