package httpproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
)

const resource = "billing-api"

// fakeLookup is a tokens.Lookup whose answers a test changes as it goes.
type fakeLookup struct {
	mu     sync.Mutex
	claims map[string]tokens.Claims
	err    error
	calls  int
}

func newFakeLookup() *fakeLookup { return &fakeLookup{claims: map[string]tokens.Claims{}} }

func (l *fakeLookup) LookupToken(_ context.Context, token string) (tokens.Claims, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.err != nil {
		return tokens.Claims{}, false, l.err
	}
	c, ok := l.claims[token]
	return c, ok, nil
}

func (l *fakeLookup) set(token string, c tokens.Claims) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.claims[token] = c
}

func (l *fakeLookup) revoke(token string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.claims, token)
}

func (l *fakeLookup) setErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

func (l *fakeLookup) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

func mint(t testing.TB) string {
	t.Helper()
	tok, err := tokens.New()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var levelMethods = map[string][]string{
	"read":  {"GET", "HEAD"},
	"write": {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"},
}

// rig is a proxy for resource in front of an upstream, served by an
// httptest server, with tokens of each kind in the lookup.
type rig struct {
	lookup   *fakeLookup
	proxy    *Proxy
	srv      *httptest.Server
	uses     atomic.Int64
	mu       sync.Mutex
	lastUse  tokens.Claims
	read     string // read token of resource
	write    string // write token of resource
	other    string // write token of another resource
	oddLevel string // token of resource with a level the proxy does not know
}

func newRig(t testing.TB, upstreamURL string, opts Options) *rig {
	t.Helper()
	rg := &rig{lookup: newFakeLookup()}
	now := time.Now()
	claims := func(res, level, sub string) tokens.Claims {
		return tokens.Claims{Resource: res, Level: level, Subject: sub, Ticket: "INC-" + sub,
			RequestID: "req-" + sub, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	rg.read, rg.write, rg.other, rg.oddLevel = mint(t), mint(t), mint(t), mint(t)
	rg.lookup.set(rg.read, claims(resource, "read", "U0READER"))
	rg.lookup.set(rg.write, claims(resource, "write", "U0WRITER"))
	rg.lookup.set(rg.other, claims("prod-db", "write", "U0OTHER"))
	rg.lookup.set(rg.oddLevel, claims(resource, "admin", "U0ODD"))
	env := map[string]string{"UP_KEY": "upkey123", "UP_NAME": "proxy"}
	if opts.Getenv == nil {
		opts.Getenv = func(k string) string { return env[k] }
	}
	opts.OnUse = func(c tokens.Claims) {
		rg.uses.Add(1)
		rg.mu.Lock()
		rg.lastUse = c
		rg.mu.Unlock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := workflow.HTTPProxyConfig{
		Listen:   "127.0.0.1:9001",
		Upstream: upstreamURL,
		UpstreamHeaders: map[string]string{
			"Authorization": "Bearer ${UP_KEY}",
			"X-Api-Client":  "gatepass-${UP_NAME}",
		},
	}
	p, err := New(cfg, resource, levelMethods, rg.lookup, opts)
	if err != nil {
		t.Fatal(err)
	}
	rg.proxy = p
	rg.srv = httptest.NewServer(p)
	t.Cleanup(rg.srv.Close)
	return rg
}

func (rg *rig) do(t *testing.T, method, path, token string, hdr http.Header, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, rg.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := rg.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// countingUpstream answers 200 "ok" and counts its requests.
func countingUpstream(t testing.TB) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	return up, &n
}

func checkDenied(t *testing.T, res *http.Response, status int, challenge, errCode string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status = %d, want %d", res.StatusCode, status)
	}
	if got := res.Header.Get("WWW-Authenticate"); got != challenge {
		t.Errorf("WWW-Authenticate = %q, want %q", got, challenge)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if body.Error != errCode {
		t.Errorf("error = %q, want %q", body.Error, errCode)
	}
}

func TestUnauthorizedWithoutToken(t *testing.T) {
	up, hits := countingUpstream(t)
	rg := newRig(t, up.URL, Options{})
	const challenge = `Bearer realm="gatepass"`
	checkDenied(t, rg.do(t, "GET", "/", "", nil, nil), 401, challenge, "unauthorized")
	checkDenied(t, rg.do(t, "GET", "/", "", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, nil), 401, challenge, "unauthorized")
	checkDenied(t, rg.do(t, "GET", "/", "", http.Header{"Authorization": {"Bearer "}}, nil), 401, challenge, "unauthorized")
	checkDenied(t, rg.do(t, "GET", "/", "", http.Header{"Authorization": {"Bearer " + rg.read, "Bearer " + rg.read}}, nil),
		400, `Bearer realm="gatepass", error="invalid_request"`, "invalid_request")
	if hits.Load() != 0 || rg.uses.Load() != 0 || rg.lookup.count() != 0 {
		t.Errorf("upstream hits %d, uses %d, lookups %d; want none", hits.Load(), rg.uses.Load(), rg.lookup.count())
	}
}

func TestUnauthorizedWithInactiveToken(t *testing.T) {
	up, hits := countingUpstream(t)
	rg := newRig(t, up.URL, Options{})
	const challenge = `Bearer realm="gatepass", error="invalid_token"`
	// Malformed: refused without a lookup.
	checkDenied(t, rg.do(t, "GET", "/", "gpass_nope", nil, nil), 401, challenge, "invalid_token")
	if n := rg.lookup.count(); n != 0 {
		t.Errorf("a malformed token was looked up (%d)", n)
	}
	// Well-formed but unknown.
	checkDenied(t, rg.do(t, "GET", "/", mint(t), nil, nil), 401, challenge, "invalid_token")
	// Active, then revoked.
	if res := rg.do(t, "GET", "/", rg.read, nil, nil); res.StatusCode != 200 {
		t.Fatalf("active token: status %d", res.StatusCode)
	}
	rg.lookup.revoke(rg.read)
	checkDenied(t, rg.do(t, "GET", "/", rg.read, nil, nil), 401, challenge, "invalid_token")
	// The scheme is case-insensitive.
	checkDenied(t, rg.do(t, "GET", "/", "", http.Header{"Authorization": {"bearer " + rg.read}}, nil), 401, challenge, "invalid_token")
	if hits.Load() != 1 || rg.uses.Load() != 1 {
		t.Errorf("upstream hits %d, uses %d; want 1 and 1", hits.Load(), rg.uses.Load())
	}
}

func TestLookupErrorIsUnavailable(t *testing.T) {
	up, hits := countingUpstream(t)
	rg := newRig(t, up.URL, Options{})
	rg.lookup.setErr(errors.New("database is down"))
	res := rg.do(t, "GET", "/", rg.read, nil, nil)
	checkDenied(t, res, 503, "", "temporarily_unavailable")
	if hits.Load() != 0 || rg.uses.Load() != 0 {
		t.Error("forwarded though the lookup failed")
	}
}

func TestForbidden(t *testing.T) {
	up, hits := countingUpstream(t)
	rg := newRig(t, up.URL, Options{})
	const challenge = `Bearer realm="gatepass", error="insufficient_scope"`
	checkDenied(t, rg.do(t, "GET", "/", rg.other, nil, nil), 403, challenge, "insufficient_scope")
	checkDenied(t, rg.do(t, "POST", "/", rg.read, nil, strings.NewReader("{}")), 403, challenge, "insufficient_scope")
	checkDenied(t, rg.do(t, "DELETE", "/x", rg.read, nil, nil), 403, challenge, "insufficient_scope")
	checkDenied(t, rg.do(t, "GET", "/", rg.oddLevel, nil, nil), 403, challenge, "insufficient_scope")
	if hits.Load() != 0 || rg.uses.Load() != 0 {
		t.Fatal("forwarded a forbidden request")
	}
	for _, m := range []string{"GET", "HEAD"} {
		if res := rg.do(t, m, "/", rg.read, nil, nil); res.StatusCode != 200 {
			t.Errorf("%s with a read token: %d", m, res.StatusCode)
		}
	}
	if res := rg.do(t, "POST", "/", rg.write, nil, strings.NewReader("{}")); res.StatusCode != 200 {
		t.Errorf("POST with a write token: %d", res.StatusCode)
	}
}

func TestForwardedRequest(t *testing.T) {
	type seen struct {
		method, path, query, host, body string
		header                          http.Header
	}
	got := make(chan seen, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, string(body), r.Header.Clone()}
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "created")
	}))
	defer up.Close()
	rg := newRig(t, up.URL+"/base", Options{})
	spoof := http.Header{
		"X-Gatepass-User":     {"U0EVIL"},
		"X-Gatepass-Request":  {"spoofed"},
		"X-Gatepass-Anything": {"spoofed"},
		"X-Forwarded-For":     {"6.6.6.6"},
		"X-Client":            {"kept"},
	}
	res := rg.do(t, "PUT", "/items/1?x=1", rg.write, spoof, strings.NewReader(`{"a":1}`))
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated || string(body) != "created" || res.Header.Get("X-Upstream") != "yes" {
		t.Fatalf("answer: %d %q %v", res.StatusCode, body, res.Header)
	}
	s := <-got
	if s.method != "PUT" || s.path != "/base/items/1" || s.query != "x=1" || s.body != `{"a":1}` {
		t.Errorf("upstream saw %s %s?%s %q", s.method, s.path, s.query, s.body)
	}
	if s.host != strings.TrimPrefix(up.URL, "http://") {
		t.Errorf("Host = %q", s.host)
	}
	want := map[string]string{
		"Authorization":      "Bearer upkey123",
		"X-Api-Client":       "gatepass-proxy",
		"X-Gatepass-User":    "U0WRITER",
		"X-Gatepass-Ticket":  "INC-U0WRITER",
		"X-Gatepass-Request": "req-U0WRITER",
		"X-Forwarded-For":    "127.0.0.1",
		"X-Forwarded-Proto":  "http",
		"X-Client":           "kept",
	}
	for k, v := range want {
		if vs := s.header.Values(k); len(vs) != 1 || vs[0] != v {
			t.Errorf("%s = %q, want [%q]", k, vs, v)
		}
	}
	if _, ok := s.header["X-Gatepass-Anything"]; ok {
		t.Error("a client's X-Gatepass-* header reached the upstream")
	}
	for k, vs := range s.header {
		for _, v := range vs {
			if strings.Contains(v, rg.write) {
				t.Errorf("the client's token reached the upstream in %s", k)
			}
		}
	}
	if n := rg.uses.Load(); n != 1 {
		t.Errorf("uses = %d, want 1", n)
	}
	rg.mu.Lock()
	defer rg.mu.Unlock()
	if rg.lastUse.RequestID != "req-U0WRITER" {
		t.Errorf("OnUse claims = %+v", rg.lastUse)
	}
}

func TestOnUseOncePerForwardedRequest(t *testing.T) {
	up, hits := countingUpstream(t)
	rg := newRig(t, up.URL, Options{})
	for range 3 {
		res := rg.do(t, "GET", "/", rg.read, nil, nil)
		_, _ = io.Copy(io.Discard, res.Body)
	}
	rg.do(t, "POST", "/", rg.read, nil, nil) // forbidden: no use
	rg.do(t, "GET", "/", rg.other, nil, nil) // forbidden: no use
	if hits.Load() != 3 || rg.uses.Load() != 3 {
		t.Errorf("upstream hits %d, uses %d; want 3 and 3", hits.Load(), rg.uses.Load())
	}
}

func TestUpstreamDownIsBadGateway(t *testing.T) {
	up, _ := countingUpstream(t)
	url := up.URL
	up.Close()
	rg := newRig(t, url, Options{})
	checkDenied(t, rg.do(t, "GET", "/", rg.read, nil, nil), 502, "", "bad_gateway")
}

// streamingUpstream writes a line every 50 ms until its client goes away;
// ended is closed when the upstream handler sees its request end.
func streamingUpstream(t *testing.T) (up *httptest.Server, ended chan struct{}) {
	ended = make(chan struct{})
	var once sync.Once
	up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer once.Do(func() { close(ended) })
		w.Header().Set("Content-Type", "text/plain")
		rc := http.NewResponseController(w)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 600; i++ {
			if _, err := io.WriteString(w, "chunk\n"); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	}))
	t.Cleanup(up.Close)
	return up, ended
}

// readLines reads lines from r into a channel, then its final error.
func readLines(r io.Reader) (lines chan string, end chan error) {
	lines, end = make(chan string, 1000), make(chan error, 1)
	go func() {
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				end <- err
				return
			}
			lines <- line
		}
	}()
	return lines, end
}

func TestStreamingResponseCutOnRevocation(t *testing.T) {
	up, ended := streamingUpstream(t)
	rg := newRig(t, up.URL, Options{}) // default Recheck
	res := rg.do(t, "GET", "/events", rg.read, nil, nil)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	lines, end := readLines(res.Body)
	// Unbuffered: chunks arrive as the upstream writes them, across
	// several re-checks while the token stays active.
	deadline := time.After(5 * time.Second)
	for n := 0; n < 25; n++ {
		select {
		case <-lines:
		case err := <-end:
			t.Fatalf("stream ended early after %d lines: %v", n, err)
		case <-deadline:
			t.Fatalf("only %d lines in 5 s: the response is buffered", n)
		}
	}
	revokedAt := time.Now()
	rg.lookup.revoke(rg.read)
	for {
		select {
		case <-lines:
			continue
		case err := <-end:
			if err == io.EOF {
				t.Error("the stream ended cleanly; want an aborted response")
			}
			if d := time.Since(revokedAt); d > time.Second {
				t.Errorf("stream cut %v after revocation, want within 1 s", d)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("stream still open 3 s after revocation")
		}
		break
	}
	select {
	case <-ended:
		if d := time.Since(revokedAt); d > time.Second+200*time.Millisecond {
			t.Errorf("upstream request ended %v after revocation", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("upstream request still running after revocation")
	}
	if n := rg.uses.Load(); n != 1 {
		t.Errorf("uses = %d, want 1 (re-checks are not uses)", n)
	}
	if n := rg.lookup.count(); n < 3 {
		t.Errorf("lookups = %d: the token was not re-checked", n)
	}
}

func TestStreamingOutlivesFailingLookupUntilExpiry(t *testing.T) {
	up, _ := streamingUpstream(t)
	rg := newRig(t, up.URL, Options{Recheck: 50 * time.Millisecond})
	exp := time.Now().Add(800 * time.Millisecond)
	rg.lookup.set(rg.read, tokens.Claims{Resource: resource, Level: "read", Subject: "U0READER", ExpiresAt: exp})
	res := rg.do(t, "GET", "/events", rg.read, nil, nil)
	lines, end := readLines(res.Body)
	<-lines
	rg.lookup.setErr(errors.New("database is down"))
	for {
		select {
		case <-lines:
			continue
		case <-end:
			cut := time.Since(exp)
			if cut < -100*time.Millisecond || cut > 800*time.Millisecond {
				t.Errorf("cut %v from the token's expiry, want at it", cut)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("stream outlived the token's expiry")
		}
		break
	}
}

func TestRevokedBeforeUpstreamAnswers(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer up.Close()
	rg := newRig(t, up.URL, Options{Recheck: 50 * time.Millisecond})
	time.AfterFunc(100*time.Millisecond, func() { rg.lookup.revoke(rg.read) })
	start := time.Now()
	res := rg.do(t, "GET", "/slow", rg.read, nil, nil)
	checkDenied(t, res, 401, `Bearer realm="gatepass", error="invalid_token"`, "invalid_token")
	if d := time.Since(start); d > time.Second {
		t.Errorf("answered after %v", d)
	}
}

// wsUpstream echoes WebSocket messages; headers receives each handshake's
// headers and closed is told when a connection's read loop ends.
func wsUpstream(t *testing.T) (up *httptest.Server, headers chan http.Header, closed chan error) {
	headers, closed = make(chan http.Header, 4), make(chan error, 4)
	up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u websocket.Upgrader
		conn, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		headers <- r.Header.Clone()
		for {
			mt, msg, err := conn.ReadMessage()
			if err != nil {
				closed <- err
				return
			}
			if err := conn.WriteMessage(mt, msg); err != nil {
				closed <- err
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	return up, headers, closed
}

func dialWS(t *testing.T, base, token string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, res, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/socket", h)
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, res, err
}

func echo(t *testing.T, conn *websocket.Conn, msg string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_, got, err := conn.ReadMessage()
	if err != nil || string(got) != msg {
		t.Fatalf("echo: %q, %v", got, err)
	}
}

// waitClosed waits for a client WebSocket to fail a read because the
// connection closed (not because of its own deadline).
func waitClosed(t *testing.T, conn *websocket.Conn, since time.Time, within time.Duration) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(within + 2*time.Second))
	_, _, err := conn.ReadMessage()
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("connection still open %v after it should close (%v)", time.Since(since), err)
	}
	if d := time.Since(since); d > within {
		t.Errorf("connection closed after %v, want within %v", d, within)
	}
}

func TestWebSocketPassesAndClosesOnRevocation(t *testing.T) {
	up, headers, closed := wsUpstream(t)
	rg := newRig(t, up.URL, Options{})
	if _, res, err := dialWS(t, rg.srv.URL, ""); err == nil || res == nil || res.StatusCode != 401 {
		t.Fatalf("upgrade without a token: %v, %v", res, err)
	}
	conn, _, err := dialWS(t, rg.srv.URL, rg.read)
	if err != nil {
		t.Fatal(err)
	}
	h := <-headers
	if h.Get("X-Gatepass-User") != "U0READER" || h.Get("Authorization") != "Bearer upkey123" {
		t.Errorf("upstream handshake headers: %v", h)
	}
	// Several re-checks pass while the token is active.
	for range 3 {
		echo(t, conn, "hello")
		time.Sleep(300 * time.Millisecond)
	}
	revokedAt := time.Now()
	rg.lookup.revoke(rg.read)
	waitClosed(t, conn, revokedAt, time.Second)
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the upstream side of the WebSocket is still open")
	}
	if n := rg.uses.Load(); n != 1 {
		t.Errorf("uses = %d, want 1", n)
	}
}

// TestHijackedConnectionClosesWithoutTraffic covers an upgraded connection
// on which nothing is sent either way, to an upstream that never closes it.
func TestHijackedConnectionClosesWithoutTraffic(t *testing.T) {
	upstreamConn := make(chan net.Conn, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x-raw\r\n\r\n")
		_ = brw.Flush()
		upstreamConn <- conn // held open, never read
	}))
	defer up.Close()
	rg := newRig(t, up.URL, Options{Recheck: 100 * time.Millisecond})
	c, err := net.Dial("tcp", rg.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET /raw HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x-raw\r\nAuthorization: Bearer "+rg.read+"\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	uc := <-upstreamConn
	defer uc.Close()
	revokedAt := time.Now()
	rg.lookup.revoke(rg.read)
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = br.ReadByte()
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("client connection still open: %v", err)
	}
	if d := time.Since(revokedAt); d > time.Second {
		t.Errorf("closed %v after revocation", d)
	}
	_ = uc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := uc.Read(make([]byte, 1)); err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Errorf("upstream connection still open: %v", err)
	}
}

func TestServeShutsDownAndClosesUpgrades(t *testing.T) {
	up, _, _ := wsUpstream(t)
	lookup := newFakeLookup()
	tok := mint(t)
	lookup.set(tok, tokens.Claims{Resource: resource, Level: "read", Subject: "U0", ExpiresAt: time.Now().Add(time.Hour)})
	p, err := New(workflow.HTTPProxyConfig{Listen: "127.0.0.1:0", Upstream: up.URL}, resource, levelMethods, lookup,
		Options{ShutdownGrace: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, ln) }()
	conn, _, err := dialWS(t, "http://"+ln.Addr().String(), tok)
	if err != nil {
		t.Fatal(err)
	}
	echo(t, conn, "before shutdown")
	stopped := time.Now()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return")
	}
	waitClosed(t, conn, stopped, time.Second)
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("still accepting after shutdown")
	}
}

func TestListenAndServeReportsListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p, err := New(workflow.HTTPProxyConfig{Listen: ln.Addr().String(), Upstream: "http://127.0.0.1:1"}, resource, levelMethods, newFakeLookup(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ListenAndServe(context.Background()); err == nil || !strings.Contains(err.Error(), resource) {
		t.Fatalf("ListenAndServe on a taken address: %v", err)
	}
}

func TestProviderMethods(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.1:9001": "send requests to http://127.0.0.1:9001 with Authorization: Bearer <your token>",
		":9001":          "send requests to http://<gatepass host>:9001 with Authorization: Bearer <your token>",
	} {
		p, err := New(workflow.HTTPProxyConfig{Listen: listen, Upstream: "http://127.0.0.1:9000"}, resource, levelMethods, newFakeLookup(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		g := workflow.ProviderGrant{RequestID: "r", Resource: resource, Level: "read"}
		cred, err := p.Grant(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if cred != (workflow.Credential{Label: "Proxy", Hint: want}) {
			t.Errorf("credential = %+v", cred)
		}
		if p.Extend(ctx, g) != nil || p.Revoke(ctx, g) != nil || p.Reconcile(ctx, nil) != nil {
			t.Error("Extend, Revoke and Reconcile should do nothing")
		}
	}
}

func TestNewErrors(t *testing.T) {
	env := map[string]string{"SET": "v", "CRLF": "a\r\nX-Evil: 1"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		name     string
		cfg      workflow.HTTPProxyConfig
		want     string
		mustNot  string
		resource string
	}{
		{name: "unset variable", cfg: workflow.HTTPProxyConfig{UpstreamHeaders: map[string]string{"Authorization": "Bearer ${UNSET_KEY}"}}, want: "UNSET_KEY"},
		{name: "unterminated", cfg: workflow.HTTPProxyConfig{UpstreamHeaders: map[string]string{"A": "${SET"}}, want: "unterminated"},
		{name: "line break", cfg: workflow.HTTPProxyConfig{UpstreamHeaders: map[string]string{"A": "${CRLF}"}}, want: "line break", mustNot: "X-Evil"},
		{name: "header name", cfg: workflow.HTTPProxyConfig{UpstreamHeaders: map[string]string{"Bad Name": "x"}}, want: "header name"},
		{name: "scheme", cfg: workflow.HTTPProxyConfig{Upstream: "ftp://h/"}, want: "http"},
		{name: "no upstream", cfg: workflow.HTTPProxyConfig{Upstream: "-"}, want: "upstream"},
		{name: "password hidden", cfg: workflow.HTTPProxyConfig{Upstream: "ftp://u:hunter2@h/"}, want: "upstream", mustNot: "hunter2"},
		{name: "listen", cfg: workflow.HTTPProxyConfig{Listen: "9001"}, want: "listen"},
		{name: "resource", resource: "-", want: "resource"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.Listen == "" {
				cfg.Listen = "127.0.0.1:9001"
			}
			if cfg.Upstream == "" {
				cfg.Upstream = "http://127.0.0.1:9000"
			}
			if cfg.Upstream == "-" {
				cfg.Upstream = ""
			}
			res := resource
			if tc.resource == "-" {
				res = ""
			}
			_, err := New(cfg, res, levelMethods, newFakeLookup(), Options{Getenv: getenv})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one with %q", err, tc.want)
			}
			if tc.mustNot != "" && strings.Contains(err.Error(), tc.mustNot) {
				t.Fatalf("err shows %q: %v", tc.mustNot, err)
			}
		})
	}
	got, err := expand("a ${SET} b $HOME ${SET}${SET}", getenv)
	if err != nil || got != "a v b $HOME vv" {
		t.Errorf("expand = %q, %v", got, err)
	}
}

func TestHostUpstreamHeader(t *testing.T) {
	host := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { host <- r.Host }))
	defer up.Close()
	lookup := newFakeLookup()
	tok := mint(t)
	lookup.set(tok, tokens.Claims{Resource: resource, Level: "read", ExpiresAt: time.Now().Add(time.Hour)})
	p, err := New(workflow.HTTPProxyConfig{Listen: "127.0.0.1:9001", Upstream: up.URL,
		UpstreamHeaders: map[string]string{"host": "billing.internal"}}, resource, levelMethods, lookup, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if h := <-host; h != "billing.internal" {
		t.Errorf("upstream Host = %q", h)
	}
}

// closeWatcher is a listener whose connections report when the server
// closes them.
type closeWatcher struct {
	net.Listener
	closed chan struct{} // closed when the first accepted connection is
}

func (l *closeWatcher) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &watchedConn{Conn: c, closed: l.closed}, nil
}

type watchedConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *watchedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// stalledClientRig serves a proxy whose server-side client connections
// report their closing, in front of an upstream that sends as fast as it
// can, and opens a raw client connection that sends request and never
// reads.
func stalledClientRig(t *testing.T, upstream http.HandlerFunc, request func(token string) string) (rg *rig, closed chan struct{}) {
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	rg = newRig(t, up.URL, Options{Recheck: 100 * time.Millisecond})
	rg.srv.Close()
	closed = make(chan struct{})
	rg.srv = httptest.NewUnstartedServer(rg.proxy)
	rg.srv.Listener = &closeWatcher{Listener: rg.srv.Listener, closed: closed}
	rg.srv.Start()
	t.Cleanup(rg.srv.Close)
	c, err := net.Dial("tcp", rg.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, request(rg.read)); err != nil {
		t.Fatal(err)
	}
	// Let the upstream fill every buffer between it and the client.
	time.Sleep(500 * time.Millisecond)
	select {
	case <-closed:
		t.Fatal("connection closed before revocation")
	default:
	}
	return rg, closed
}

func flood(w io.Writer) {
	chunk := []byte(strings.Repeat("x", 64<<10))
	for {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// TestStalledClientStreamIsCut: a client that stops reading a streaming
// response leaves the proxy blocked writing to it; revocation must still
// close the connection.
func TestStalledClientStreamIsCut(t *testing.T) {
	rg, closed := stalledClientRig(t, func(w http.ResponseWriter, r *http.Request) {
		flood(w)
	}, func(tok string) string {
		return "GET /stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "\r\n\r\n"
	})
	revokedAt := time.Now()
	rg.lookup.revoke(rg.read)
	select {
	case <-closed:
		if d := time.Since(revokedAt); d > time.Second {
			t.Errorf("closed %v after revocation", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the connection of a stalled client stays open after revocation")
	}
}

// TestStalledClientWebSocketIsClosed: the same for an upgraded connection,
// where the ReverseProxy alone would wait on its blocked copy for ever.
func TestStalledClientWebSocketIsClosed(t *testing.T) {
	rg, closed := stalledClientRig(t, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x-raw\r\n\r\n")
		_ = brw.Flush()
		flood(conn)
	}, func(tok string) string {
		return "GET /raw HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x-raw\r\nAuthorization: Bearer " + tok + "\r\n\r\n"
	})
	revokedAt := time.Now()
	rg.lookup.revoke(rg.read)
	select {
	case <-closed:
		if d := time.Since(revokedAt); d > time.Second {
			t.Errorf("closed %v after revocation", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the upgraded connection of a stalled client stays open after revocation")
	}
}
