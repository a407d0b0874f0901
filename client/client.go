package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of a [Client] made without the matching option.
const (
	// DefaultTimeout bounds one introspection round trip of the default
	// HTTP client.
	DefaultTimeout = 5 * time.Second
	// DefaultCacheEntries is the default bound on cached answers.
	DefaultCacheEntries = 10_000
	// DefaultCacheMaxAge is the default revocation bound: how long an active
	// answer may be reused.
	DefaultCacheMaxAge = 5 * time.Second
	// DefaultNegativeTTL is how long an inactive answer is reused by default.
	DefaultNegativeTTL = time.Second
)

// Limits on what is read of an answer.
const (
	maxAnswerBody = 64 << 10 // a 200 answer
	maxErrorBody  = 4 << 10  // any other answer
	maxDescLen    = 200      // characters of error_description kept
	maxCodeLen    = 64       // characters of an error code kept
)

// Result is gatepass's answer about one token. An inactive token has only
// Active false; every other field is zero.
type Result struct {
	// Active reports whether the token grants access now.
	Active bool
	// Scope is the grant's "resource:level", such as "prod-db:read".
	Scope string
	// Resource and Level are the two halves of Scope.
	Resource string
	Level    string
	// Subject is the requester's Slack user ID.
	Subject string
	// Ticket is the ticket the access was requested under, such as "INC-123".
	Ticket string
	// RequestID identifies the access request in gatepass (its uuid), as
	// /access revoke and the audit log name it.
	RequestID string
	// ExpiresAt is when the token stops being active (whole seconds).
	ExpiresAt time.Time
	// IssuedAt is when the token was issued (whole seconds).
	IssuedAt time.Time
	// BreakGlass reports a grant opened without approval, to be reviewed
	// afterwards.
	BreakGlass bool
}

// Client introspects gatepass tokens. It is safe for concurrent use; create
// one per process (or one per revocation bound) and share it.
type Client struct {
	endpoint   string
	authHeader string
	hc         *http.Client
	now        func() time.Time
	onError    func(error)

	maxEntries int
	maxAge     time.Duration
	negTTL     time.Duration

	// entries holds the cached answers, a *entry by tokenHash. Reads take no
	// lock; writes happen under mu, together with order.
	entries sync.Map

	mu      sync.Mutex
	order   []tokenHash           // the keys of entries, oldest first from next once full
	next    int                   // where the next key goes in order once it is full
	flights map[tokenHash]*flight // requests in flight, by token hash
}

// Option configures a [Client]; see the With… functions.
type Option struct {
	apply func(*settings)
}

// settings collects the options before New checks them.
type settings struct {
	auth       string
	schemes    int // how many credential options were given
	errs       []error
	hc         *http.Client
	maxEntries int
	maxAge     time.Duration
	negTTL     time.Duration
	now        func() time.Time
	onError    func(error)
}

func (s *settings) fail(format string, args ...any) {
	s.errs = append(s.errs, fmt.Errorf(format, args...))
}

// WithBearerKey authenticates with "Authorization: Bearer <key>", where key is
// one of the introspection_keys of gatepass's policy file. It is the usual
// scheme, and needs no name; [WithBasic] is the other.
func WithBearerKey(key string) Option {
	return Option{func(s *settings) {
		s.schemes++
		switch {
		case key == "":
			s.fail("WithBearerKey: the key is empty")
		case strings.TrimSpace(key) != key:
			s.fail("WithBearerKey: the key starts or ends with white space")
		case hasControl(key):
			s.fail("WithBearerKey: the key holds a control character")
		default:
			s.auth = "Bearer " + key
		}
	}}
}

// WithBasic authenticates with HTTP Basic, the name and key of one of the
// introspection_keys of gatepass's policy file. As RFC 6749 §2.3.1 says, name
// and key are each application/x-www-form-urlencoded before the base64
// encoding, so either may hold any character, a colon included.
func WithBasic(name, key string) Option {
	return Option{func(s *settings) {
		s.schemes++
		switch {
		case name == "":
			s.fail("WithBasic: the name is empty")
		case key == "":
			s.fail("WithBasic: the key is empty")
		default:
			s.auth = "Basic " + base64.StdEncoding.EncodeToString(
				[]byte(url.QueryEscape(name)+":"+url.QueryEscape(key)))
		}
	}}
}

// WithHTTPClient sends introspection requests with hc instead of the default
// client, which has a 5 s timeout, follows no redirects, and keeps up to 64
// idle connections to gatepass.
func WithHTTPClient(hc *http.Client) Option {
	return Option{func(s *settings) {
		if hc == nil {
			s.fail("WithHTTPClient: nil client")
		}
		s.hc = hc
	}}
}

// WithCache sets the answer cache: at most maxEntries answers (active and
// inactive together), an active one reused for at most maxAge and never past
// its token's exp. maxAge is the revocation bound: a revoked token may be
// accepted by this client for at most maxAge after the revocation; set 0 to
// ask gatepass every time. maxEntries 0 turns all caching off, inactive
// answers included. The default is 10,000 entries and 5 s.
func WithCache(maxEntries int, maxAge time.Duration) Option {
	return Option{func(s *settings) {
		if maxEntries < 0 {
			s.fail("WithCache: negative maxEntries %d", maxEntries)
		}
		if maxAge < 0 {
			s.fail("WithCache: negative maxAge %v", maxAge)
		}
		s.maxEntries, s.maxAge = maxEntries, maxAge
	}}
}

// WithNegativeCache sets how long an inactive answer (unknown, expired,
// revoked) is reused; 0 turns it off. The default is 1 s. A longer TTL only
// delays the moment a newly issued token is accepted, never extends a
// token's life.
func WithNegativeCache(ttl time.Duration) Option {
	return Option{func(s *settings) {
		if ttl < 0 {
			s.fail("WithNegativeCache: negative TTL %v", ttl)
		}
		s.negTTL = ttl
	}}
}

// WithClock replaces time.Now, for tests. The clock decides cache expiry
// only; gatepass decides whether a token is active.
func WithClock(now func() time.Time) Option {
	return Option{func(s *settings) {
		if now == nil {
			s.fail("WithClock: nil clock")
		}
		s.now = now
	}}
}

// WithErrorHandler has f called with every error [Client.Middleware] answers
// 503 for (gatepass unreachable, key refused, …), to log or count them. The
// errors never hold the token. f may be called from several goroutines at
// once. By default the errors are dropped: the caller only sees the 503.
func WithErrorHandler(f func(error)) Option {
	return Option{func(s *settings) { s.onError = f }}
}

// New returns a client of the gatepass at baseURL (such as
// "https://gatepass.internal.example", or with a path prefix when gatepass is
// served under one); requests go to baseURL + "/v1/introspect". Credentials
// are required: exactly one of [WithBearerKey] or [WithBasic].
func New(baseURL string, opts ...Option) (*Client, error) {
	s := settings{
		maxEntries: DefaultCacheEntries,
		maxAge:     DefaultCacheMaxAge,
		negTTL:     DefaultNegativeTTL,
		now:        time.Now,
	}
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&s)
		}
	}
	endpoint, err := introspectionURL(baseURL)
	if err != nil {
		s.errs = append([]error{err}, s.errs...)
	}
	switch s.schemes {
	case 0:
		s.fail("no credentials: use WithBearerKey or WithBasic with one of gatepass's introspection_keys")
	case 1:
	default:
		s.fail("WithBearerKey and WithBasic: use only one")
	}
	if len(s.errs) > 0 {
		return nil, fmt.Errorf("gatepass client: %w", errors.Join(s.errs...))
	}
	if s.hc == nil {
		s.hc = defaultHTTPClient()
	}
	return &Client{
		endpoint:   endpoint,
		authHeader: s.auth,
		hc:         s.hc,
		now:        s.now,
		onError:    s.onError,
		maxEntries: s.maxEntries,
		maxAge:     s.maxAge,
		negTTL:     s.negTTL,
		flights:    make(map[tokenHash]*flight),
	}, nil
}

// introspectionURL checks baseURL and returns the introspection endpoint
// under it.
func introspectionURL(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("base URL %q: want http:// or https://", u.Redacted())
	case u.Host == "":
		return "", fmt.Errorf("base URL %q: no host", u.Redacted())
	case u.User != nil:
		return "", fmt.Errorf("base URL %q: credentials belong in WithBearerKey or WithBasic", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("base URL %q: no query or fragment allowed", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/v1/introspect"
	u.RawPath = ""
	return u.String(), nil
}

// defaultHTTPClient has a timeout, keeps enough idle connections for a busy
// service, and does not follow redirects, which would carry the token and key
// elsewhere.
func defaultHTTPClient() *http.Client {
	var rt http.RoundTripper = http.DefaultTransport
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t = t.Clone()
		t.MaxIdleConnsPerHost = 64
		rt = t
	}
	return &http.Client{
		Transport: rt,
		Timeout:   DefaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Introspect asks gatepass about token, or answers from the cache (see the
// package documentation for its rules). A malformed token is inactive at
// once, without a network call. An answer other than 200 from gatepass is an
// error, never an inactive result: a [*StatusError], which matches
// [ErrKeyRefused] under errors.Is when gatepass refused the introspection
// key. No error holds the token.
//
// An answer fetched from gatepass is returned as gatepass gave it; the
// client's clock decides only how long a cached answer is reused.
func (c *Client) Introspect(ctx context.Context, token string) (Result, error) {
	if len(token) > maxTokenLen || len(token) < minTokenLen || token[:len(tokenPrefix)] != tokenPrefix {
		return Result{}, nil // not well-formed
	}
	key := hashToken(token)
	now := c.now()
	// Only answers about well-formed tokens are cached, so a hit needs no
	// format check: the same hash means the same token.
	if e := c.cached(key); e != nil && e.fresh(now) {
		return e.result, nil
	}
	if !WellFormed(token) {
		return Result{}, nil
	}
	return c.fetch(ctx, key, token, now)
}

// ask makes one introspection request.
func (c *Client) ask(ctx context.Context, token string) (Result, error) {
	// A well-formed token is base62 only: nothing to escape.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader("token="+token))
	if err != nil {
		return Result{}, fmt.Errorf("gatepass introspection: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", c.authHeader)
	resp, err := c.hc.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("gatepass introspection: %w", err)
	}
	defer func() {
		// Read a little of what is left so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return Result{}, statusError(resp, token)
	}
	return decodeAnswer(io.LimitReader(resp.Body, maxAnswerBody+1))
}

// answer is the JSON of an RFC 7662 introspection response as gatepass
// writes it.
type answer struct {
	Active     *bool       `json:"active"`
	Scope      string      `json:"scope"`
	Resource   string      `json:"resource"`
	Level      string      `json:"level"`
	Subject    string      `json:"sub"`
	ExpiresAt  json.Number `json:"exp"`
	IssuedAt   json.Number `json:"iat"`
	Ticket     string      `json:"ticket"`
	RequestID  string      `json:"request_id"`
	BreakGlass bool        `json:"break_glass"`
}

// decodeAnswer reads a 200 answer.
func decodeAnswer(body io.Reader) (Result, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return Result{}, fmt.Errorf("gatepass introspection: reading the answer: %w", err)
	}
	if len(data) > maxAnswerBody {
		return Result{}, fmt.Errorf("gatepass introspection: answer over %d bytes", maxAnswerBody)
	}
	var a answer
	if err := json.Unmarshal(data, &a); err != nil {
		return Result{}, fmt.Errorf("gatepass introspection: malformed answer: %w", err)
	}
	if a.Active == nil {
		return Result{}, errors.New(`gatepass introspection: malformed answer: no "active" member`)
	}
	if !*a.Active {
		return Result{}, nil
	}
	exp, err := unixTime(a.ExpiresAt)
	if err != nil {
		return Result{}, fmt.Errorf(`gatepass introspection: malformed answer: "exp": %w`, err)
	}
	iat, err := unixTime(a.IssuedAt)
	if err != nil {
		return Result{}, fmt.Errorf(`gatepass introspection: malformed answer: "iat": %w`, err)
	}
	return Result{
		Active:     true,
		Scope:      a.Scope,
		Resource:   a.Resource,
		Level:      a.Level,
		Subject:    a.Subject,
		Ticket:     a.Ticket,
		RequestID:  a.RequestID,
		ExpiresAt:  exp,
		IssuedAt:   iat,
		BreakGlass: a.BreakGlass,
	}, nil
}

// unixTime reads a NumericDate (RFC 7519): seconds since the epoch, possibly
// with a fraction, which is dropped. An absent one is the zero time.
func unixTime(n json.Number) (time.Time, error) {
	if n == "" {
		return time.Time{}, nil
	}
	if s, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return time.Unix(s, 0), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) > 1<<53 {
		return time.Time{}, errors.New("not a number of seconds")
	}
	return time.Unix(int64(math.Floor(f)), 0), nil
}

// ErrKeyRefused matches, under errors.Is, the error of an introspection that
// gatepass refused with 401: the key (or, with HTTP Basic, its name) is not
// one of gatepass's introspection_keys. Retrying will not help.
var ErrKeyRefused = errors.New("gatepass introspection key refused")

// StatusError is an answer of gatepass other than 200.
type StatusError struct {
	// StatusCode is the HTTP status, such as 401, 400 or 503.
	StatusCode int
	// Code is the OAuth error code of the JSON body ("invalid_client",
	// "invalid_request", "temporarily_unavailable"), or "" when there was
	// none.
	Code string
	// Description is the body's error_description, if any, shortened.
	Description string
}

// Error says what gatepass answered.
func (e *StatusError) Error() string {
	var b strings.Builder
	switch e.StatusCode {
	case http.StatusUnauthorized:
		b.WriteString("gatepass introspection key refused: check the key (and, with HTTP Basic, its name) against introspection_keys")
	case http.StatusBadRequest:
		b.WriteString("gatepass introspection: request refused as invalid")
	case http.StatusServiceUnavailable:
		b.WriteString("gatepass introspection: gatepass is temporarily unavailable")
	default:
		b.WriteString("gatepass introspection: unexpected answer")
	}
	b.WriteString(" (HTTP ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	} else if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteString(" ")
		b.WriteString(text)
	}
	b.WriteString(")")
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	return b.String()
}

// Is reports whether a 401 is matched against [ErrKeyRefused].
func (e *StatusError) Is(target error) bool {
	return target == ErrKeyRefused && e.StatusCode == http.StatusUnauthorized
}

// Temporary reports whether asking again later may succeed: a 429 or a
// 5xx answer.
func (e *StatusError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// statusError reads the error code of a non-200 answer, keeping only what is
// safe to show: the token, should a server echo it, is cut out.
func statusError(resp *http.Response, token string) *StatusError {
	e := &StatusError{StatusCode: resp.StatusCode}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(data, &body) != nil {
		return e
	}
	if len(body.Error) <= maxCodeLen && isErrorCode(body.Error) && !strings.Contains(body.Error, token) {
		e.Code = body.Error
	}
	e.Description = cleanDescription(body.Description, token)
	return e
}

// isErrorCode reports whether s is an OAuth error code: printable ASCII but
// '"' and '\' (RFC 6749 §5.2).
func isErrorCode(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// cleanDescription keeps printable characters of an error description, cuts
// out the token and shortens the rest.
func cleanDescription(s, token string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s) // also replaces invalid UTF-8 with U+FFFD
	s = strings.TrimSpace(strings.ReplaceAll(s, token, "[token]"))
	if r := []rune(s); len(r) > maxDescLen {
		s = string(r[:maxDescLen]) + "…"
	}
	return s
}

// hasControl reports whether s holds an ASCII control character.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// tokenHash is the SHA-256 of a token, the cache's key.
type tokenHash [sha256.Size]byte

// hashToken hashes a well-formed token, which is at most maxTokenLen bytes,
// from a copy on the stack rather than one on the heap.
func hashToken(token string) tokenHash {
	var buf [maxTokenLen]byte
	return sha256.Sum256(buf[:copy(buf[:], token)])
}
