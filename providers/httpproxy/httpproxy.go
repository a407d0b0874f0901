// Package httpproxy is the gatepass provider that puts a reverse proxy in
// front of an HTTP service: only requests carrying a gatepass token that is
// active for the resource, with a method its level allows, reach the
// upstream.
//
//	resources:
//	  billing-api:
//	    provider:
//	      http_proxy:
//	        listen: 127.0.0.1:9001
//	        upstream: http://127.0.0.1:9000
//	        upstream_headers: {Authorization: "Bearer ${BILLING_UPSTREAM_KEY}"}
//	    levels:
//	      read:  {max_duration: 2h, methods: [GET, HEAD]}
//	      write: {max_duration: 1h, methods: [GET, HEAD, POST, PUT, PATCH, DELETE]}
//
// # Requests
//
// A client sends its requests to the listen address with
// "Authorization: Bearer <gatepass token>". The proxy asks the token lookup
// once per request and answers
//
//   - 401 with `WWW-Authenticate: Bearer realm="gatepass"` when there is no
//     bearer token;
//   - 401 with `WWW-Authenticate: Bearer realm="gatepass", error="invalid_token"`
//     when the token is not active (unknown, malformed, expired, revoked);
//   - 503 when the lookup cannot tell;
//   - 403 (error="insufficient_scope") when the token belongs to another
//     resource, or its level does not allow the request's method;
//
// each with a small JSON body {"error":…,"error_description":…}. Any other
// request is forwarded to the upstream with httputil.ReverseProxy: the
// client's Authorization header is removed and replaced by
// upstream_headers (expanded from the environment once, at start), any
// X-Gatepass-* header the client sent is dropped, and X-Gatepass-User (the
// requester's Slack user ID), X-Gatepass-Ticket and X-Gatepass-Request (the
// request ID) are added, as are X-Forwarded-For, X-Forwarded-Host and
// X-Forwarded-Proto. Each forwarded request counts as one use of the grant.
//
// # Revocation of requests in flight
//
// Responses stream through unbuffered and protocol upgrades (WebSocket)
// pass. While a forwarded request is in flight, its token is looked up
// again every Options.Recheck (500 ms by default); these checks are not
// uses. Once the lookup says the token is no longer active, the request's
// context is cancelled, which ends the upstream request, and the
// connection to the client is cut: a streaming response is aborted
// mid-body, and an upgraded connection is closed on both sides. A lookup
// that fails during a check keeps the request going until the expiry the
// token had at its last good check, no longer.
package httpproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
)

// Defaults of Options.
const (
	DefaultRecheck       = 500 * time.Millisecond
	DefaultShutdownGrace = 5 * time.Second
)

// lookupTimeout bounds one re-check of a token in flight.
const lookupTimeout = 5 * time.Second

// Headers the proxy adds to every forwarded request.
const (
	HeaderUser    = "X-Gatepass-User"
	HeaderTicket  = "X-Gatepass-Ticket"
	HeaderRequest = "X-Gatepass-Request"
)

// Options tune a Proxy. The zero value is usable.
type Options struct {
	// Getenv expands ${VAR} in upstream header values, once, in New;
	// nil means os.Getenv. An unset or empty variable is an error.
	Getenv func(string) string
	// OnUse, if not nil, is called once per forwarded request, before it
	// is forwarded, with the token's claims: it counts as a use of the
	// grant. It runs on the request's goroutine and should be quick.
	OnUse func(c tokens.Claims)
	// Recheck is how often a token is looked up again while its request
	// is in flight; zero means DefaultRecheck.
	Recheck time.Duration
	// Logger hears denials, upstream failures and cut requests; nil means
	// slog.Default(). Tokens are never logged.
	Logger *slog.Logger
	// Transport carries requests to the upstream; nil means one like
	// http.DefaultTransport that keeps up to 64 idle connections to it.
	Transport http.RoundTripper
	// ShutdownGrace is how long Serve lets requests finish after its
	// context ends before it cuts them; zero means DefaultShutdownGrace.
	ShutdownGrace time.Duration
}

// Proxy is a reverse proxy for one resource. It is an http.Handler and a
// workflow.Provider, and is safe for concurrent use.
type Proxy struct {
	listen   string
	resource string
	methods  map[string][]string
	headers  []upstreamHeader
	host     string // Host of upstream requests, if upstream_headers set it
	lookup   tokens.Lookup
	onUse    func(tokens.Claims)
	recheck  time.Duration
	grace    time.Duration
	log      *slog.Logger
	rp       *httputil.ReverseProxy
	cred     workflow.Credential
}

var (
	_ http.Handler      = (*Proxy)(nil)
	_ workflow.Provider = (*Proxy)(nil)
)

type upstreamHeader struct {
	key    string   // canonical
	values []string // len == cap, so an append never writes into it
}

// New returns a proxy for resource in front of cfg.Upstream. levelMethods
// lists, per level, the HTTP methods its tokens may use (a level missing
// from it may use none); lookup tells which tokens are active.
// cfg.UpstreamHeaders are expanded here: ${VAR} takes the value of the
// environment variable VAR, which must be set and not empty. A "Host" entry
// sets the Host of upstream requests.
func New(cfg workflow.HTTPProxyConfig, resource string, levelMethods map[string][]string, lookup tokens.Lookup, opts Options) (*Proxy, error) {
	if resource == "" {
		return nil, errors.New("http_proxy: no resource")
	}
	if lookup == nil {
		return nil, errors.New("http_proxy: no token lookup")
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("http_proxy: listen %q is not host:port: %w", cfg.Listen, err)
	}
	up, err := url.Parse(cfg.Upstream)
	if err != nil || cfg.Upstream == "" {
		return nil, fmt.Errorf("http_proxy: upstream %q is not a valid URL", cfg.Upstream)
	}
	up.Scheme = strings.ToLower(up.Scheme)
	if (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return nil, fmt.Errorf("http_proxy: upstream %q must be an http or https URL", up.Redacted())
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	p := &Proxy{
		listen:   cfg.Listen,
		resource: resource,
		methods:  make(map[string][]string, len(levelMethods)),
		lookup:   lookup,
		onUse:    opts.OnUse,
		recheck:  opts.Recheck,
		grace:    opts.ShutdownGrace,
		log:      opts.Logger,
	}
	if p.recheck <= 0 {
		p.recheck = DefaultRecheck
	}
	if p.grace <= 0 {
		p.grace = DefaultShutdownGrace
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.log = p.log.With("resource", resource)
	for level, ms := range levelMethods {
		p.methods[level] = append([]string(nil), ms...)
	}
	names := make([]string, 0, len(cfg.UpstreamHeaders))
	for name := range cfg.UpstreamHeaders {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("http_proxy: upstream_headers: %q is not a valid header name", name)
		}
		value, err := expand(cfg.UpstreamHeaders[name], getenv)
		if err != nil {
			return nil, fmt.Errorf("http_proxy: upstream_headers %s: %w", name, err)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, fmt.Errorf("http_proxy: upstream_headers %s: the value holds a line break or NUL", name)
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if key == "Host" {
			p.host = value
			continue
		}
		p.headers = append(p.headers, upstreamHeader{key: key, values: []string{value}})
	}
	transport := opts.Transport
	if transport == nil {
		transport = newTransport()
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:       p.rewrite(up),
		Transport:     transport,
		FlushInterval: -1,
		BufferPool:    copyBuffers,
		ErrorLog:      slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		ErrorHandler:  p.proxyError,
	}
	host, port, _ := net.SplitHostPort(cfg.Listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "<gatepass host>"
	}
	p.cred = workflow.Credential{
		Label: "Proxy",
		Hint:  "send requests to http://" + net.JoinHostPort(host, port) + " with Authorization: Bearer <your token>",
	}
	return p, nil
}

// newTransport is http.DefaultTransport with more idle connections kept to
// the one upstream.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return t
}

// copyBuffers lends the ReverseProxy its 32 KiB copy buffers, which it
// would otherwise allocate for every response.
var copyBuffers httputil.BufferPool = &bufferPool{}

type bufferPool struct{ pool sync.Pool }

// Get returns a buffer from the pool, or a new one.
func (b *bufferPool) Get() []byte {
	if v, ok := b.pool.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

// Put returns buf to the pool.
func (b *bufferPool) Put(buf []byte) { b.pool.Put(&buf) }

// expand replaces each ${VAR} in s with getenv(VAR).
func expand(s string, getenv func(string) string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errors.New("unterminated ${")
		}
		name := s[i+2 : i+end]
		if name == "" {
			return "", errors.New("empty ${}")
		}
		v := getenv(name)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Grant hands out no secret: the requester sends their gatepass token to
// the proxy, which asks the lookup about it on every request.
func (p *Proxy) Grant(context.Context, workflow.ProviderGrant) (workflow.Credential, error) {
	return p.cred, nil
}

// Extend does nothing: the proxy sees the new expiry through the lookup.
func (p *Proxy) Extend(context.Context, workflow.ProviderGrant) error { return nil }

// Revoke does nothing: once the lookup says the token is inactive, new
// requests are refused and requests in flight are cut within Recheck.
func (p *Proxy) Revoke(context.Context, workflow.ProviderGrant) error { return nil }

// Reconcile does nothing: the proxy keeps no state of its own.
func (p *Proxy) Reconcile(context.Context, []workflow.ProviderGrant) error { return nil }

// Canned answers; header values are shared, never modified.
var (
	jsonType      = []string{"application/json"}
	noStore       = []string{"no-store"}
	challengeNone = []string{`Bearer realm="gatepass"`}
	challengeBad  = []string{`Bearer realm="gatepass", error="invalid_token"`}
	challengeReq  = []string{`Bearer realm="gatepass", error="invalid_request"`}
	challengeDeny = []string{`Bearer realm="gatepass", error="insufficient_scope"`}

	bodyNoToken     = []byte(`{"error":"unauthorized","error_description":"send Authorization: Bearer <gatepass token>"}` + "\n")
	bodyBadRequest  = []byte(`{"error":"invalid_request","error_description":"send one Authorization header"}` + "\n")
	bodyInactive    = []byte(`{"error":"invalid_token","error_description":"the token is not active"}` + "\n")
	bodyResource    = []byte(`{"error":"insufficient_scope","error_description":"the token is not for this resource"}` + "\n")
	bodyMethod      = []byte(`{"error":"insufficient_scope","error_description":"the token's level does not allow this method"}` + "\n")
	bodyUnavailable = []byte(`{"error":"temporarily_unavailable","error_description":"the token could not be checked"}` + "\n")
	bodyBadGateway  = []byte(`{"error":"bad_gateway","error_description":"the upstream did not answer"}` + "\n")
)

func reply(w http.ResponseWriter, status int, challenge []string, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = noStore
	if challenge != nil {
		h["Www-Authenticate"] = challenge
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// bearer returns the token of a single "Authorization: Bearer" header.
// n is the number of Authorization headers.
func bearer(values []string) (token string, n int) {
	if len(values) != 1 {
		return "", len(values)
	}
	const scheme = "bearer "
	v := values[0]
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", 1
	}
	return strings.TrimSpace(v[len(scheme):]), 1
}

// ServeHTTP checks the request's token and forwards the request, as the
// package documentation says.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, n := bearer(r.Header["Authorization"])
	switch {
	case n > 1:
		reply(w, http.StatusBadRequest, challengeReq, bodyBadRequest)
		return
	case token == "":
		reply(w, http.StatusUnauthorized, challengeNone, bodyNoToken)
		return
	case !tokens.Valid(token):
		reply(w, http.StatusUnauthorized, challengeBad, bodyInactive)
		return
	}
	c, active, err := p.lookup.LookupToken(r.Context(), token)
	if err != nil {
		p.log.Warn("http_proxy: token lookup failed", "err", err)
		reply(w, http.StatusServiceUnavailable, nil, bodyUnavailable)
		return
	}
	if !active {
		reply(w, http.StatusUnauthorized, challengeBad, bodyInactive)
		return
	}
	if c.Resource != p.resource {
		reply(w, http.StatusForbidden, challengeDeny, bodyResource)
		return
	}
	if !allows(p.methods[c.Level], r.Method) {
		reply(w, http.StatusForbidden, challengeDeny, bodyMethod)
		return
	}
	if p.onUse != nil {
		p.onUse(c)
	}
	f := &flight{p: p, token: token, claims: c, exp: c.ExpiresAt}
	f.rw.ResponseWriter, f.rw.f = w, f
	f.Context, f.cancel = context.WithCancelCause(r.Context())
	f.hv = [3]string{c.Subject, c.Ticket, c.RequestID}
	f.mu.Lock()
	f.timer = time.AfterFunc(p.recheck, f.check)
	f.mu.Unlock()
	defer f.finish()
	p.rp.ServeHTTP(&f.rw, r.WithContext(f))
}

func allows(methods []string, m string) bool {
	for _, x := range methods {
		if x == m {
			return true
		}
	}
	return false
}

// rewrite builds the outgoing request.
func (p *Proxy) rewrite(upstream *url.URL) func(*httputil.ProxyRequest) {
	return func(pr *httputil.ProxyRequest) {
		pr.SetURL(upstream)
		pr.SetXForwarded()
		if p.host != "" {
			pr.Out.Host = p.host
		}
		h := pr.Out.Header
		delete(h, "Authorization")
		for k := range h {
			if len(k) >= len("X-Gatepass-") && strings.EqualFold(k[:len("X-Gatepass-")], "X-Gatepass-") {
				delete(h, k)
			}
		}
		for _, uh := range p.headers {
			h[uh.key] = uh.values
		}
		if f, ok := pr.Out.Context().Value(flightKey{}).(*flight); ok {
			h[HeaderUser] = f.hv[0:1:1]
			h[HeaderTicket] = f.hv[1:2:2]
			h[HeaderRequest] = f.hv[2:3:3]
		}
	}
}

// errRevoked is the cause of a flight's cancellation when its token stops
// being active.
var errRevoked = errors.New("gatepass token no longer active")

// proxyError answers when the upstream could not be reached or the request
// was cut before the upstream answered.
func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	switch {
	case errors.Is(context.Cause(ctx), errRevoked):
		reply(w, http.StatusUnauthorized, challengeBad, bodyInactive)
	case ctx.Err() != nil:
		// The client went away; nobody reads the answer.
		p.log.Debug("http_proxy: request ended before the upstream answered", "err", err)
		w.WriteHeader(http.StatusBadGateway)
	default:
		p.log.Warn("http_proxy: upstream failed", "err", err)
		reply(w, http.StatusBadGateway, nil, bodyBadGateway)
	}
}

type flightKey struct{}

// A flight is one forwarded request. It is the request's context (so the
// Rewrite hook can find it without another allocation), re-checks the token
// on a timer while the request is in flight, and cuts the request when the
// token stops being active.
type flight struct {
	context.Context
	cancel context.CancelCauseFunc
	p      *Proxy
	token  string
	claims tokens.Claims
	hv     [3]string // X-Gatepass-User, -Ticket, -Request values
	rw     hijackWriter
	timer  *time.Timer

	mu      sync.Mutex
	exp     time.Time // expiry at the last good check
	done    bool      // the handler returned
	revoked bool
	conn    net.Conn // the client connection, once hijacked for an upgrade
}

// Value makes the flight findable from the request's context.
func (f *flight) Value(key any) any {
	if key == (flightKey{}) {
		return f
	}
	return f.Context.Value(key)
}

// check runs on the timer: it looks the token up again (not a use) and
// cuts the request if it is no longer active, or schedules the next check.
func (f *flight) check() {
	ctx, cancel := context.WithTimeout(f, lookupTimeout)
	c, ok, err := f.p.lookup.LookupToken(ctx, f.token)
	cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done || f.revoked {
		return
	}
	switch {
	case err != nil && time.Now().Before(f.exp):
		f.p.log.Warn("http_proxy: token re-check failed; the request goes on until the token's expiry",
			"request_id", f.claims.RequestID, "err", err)
	case err != nil:
		f.cutLocked("token expired while its lookup failed")
		return
	case !ok:
		f.cutLocked("token no longer active")
		return
	default:
		f.exp = c.ExpiresAt
	}
	f.timer.Reset(f.p.recheck)
}

// cutLocked ends the request: its context is cancelled, which ends the
// upstream request (and, for an upgraded connection, closes both sides:
// see hijackWriter.Hijack). A request whose response has not started is
// answered 401 by proxyError. A response under way is aborted by the
// ReverseProxy (http.ErrAbortHandler, so the server drops the connection);
// the write deadline makes a write blocked on a client that does not read
// fail at once, instead of whenever the client reads again.
func (f *flight) cutLocked(why string) {
	f.revoked = true
	f.cancel(errRevoked)
	if f.conn == nil && f.rw.started.Load() {
		_ = http.NewResponseController(f.rw.ResponseWriter).SetWriteDeadline(time.Now())
	}
	f.p.log.Info("http_proxy: cut a request in flight: "+why,
		"request_id", f.claims.RequestID, "user", f.claims.Subject)
}

// finish stops the re-checks once the handler returns.
func (f *flight) finish() {
	f.mu.Lock()
	f.done = true
	f.timer.Stop()
	f.mu.Unlock()
	f.cancel(context.Canceled)
}

// hijackWriter is the ResponseWriter handed to the ReverseProxy. It sees
// the hijack of an upgraded connection, to close that connection when the
// flight's context ends; everything else reaches the server's writer
// through Unwrap (http.ResponseController).
type hijackWriter struct {
	http.ResponseWriter
	f       *flight
	started atomic.Bool // a final (non-1xx) status was written
}

// WriteHeader notes that the response has started.
func (h *hijackWriter) WriteHeader(code int) {
	if code >= 200 {
		h.started.Store(true)
	}
	h.ResponseWriter.WriteHeader(code)
}

// Unwrap returns the server's ResponseWriter.
func (h *hijackWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// Hijack takes over the client connection for a protocol upgrade. The
// ReverseProxy closes the upstream side when the request's context ends,
// but the client side only once a copy between the two fails, which a
// client that neither sends nor reads would put off for ever: so the
// client connection is closed as soon as the flight's context ends too
// (the token was revoked, or the server is shutting down).
func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return conn, brw, err
	}
	f := h.f
	f.mu.Lock()
	f.conn = conn
	f.mu.Unlock()
	context.AfterFunc(f, func() { _ = conn.Close() })
	return conn, brw, nil
}

// ListenAndServe listens on the configured listen address and serves the
// proxy until ctx ends; see Serve.
func (p *Proxy) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", p.listen)
	if err != nil {
		return fmt.Errorf("http_proxy %s: %w", p.resource, err)
	}
	return p.Serve(ctx, ln)
}

// Serve serves the proxy on ln until ctx ends, then shuts down gracefully:
// it stops accepting, lets requests in flight finish for up to
// Options.ShutdownGrace, and then cuts those left, upgraded connections
// included. It returns nil after a shutdown, or the error that stopped
// the server. The server bounds the time to read request headers and keeps
// idle connections for a while, but sets no read or write timeout, so that
// long uploads, streams and WebSockets work: revocation and expiry bound
// them instead.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	base, cutAll := context.WithCancel(context.WithoutCancel(ctx))
	defer cutAll()
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http_proxy %s: %w", p.resource, err)
	case <-ctx.Done():
	}
	grace, cancel := context.WithTimeout(context.Background(), p.grace)
	defer cancel()
	err := srv.Shutdown(grace)
	cutAll()
	if err != nil {
		_ = srv.Close()
	}
	<-errc
	return nil
}
