// Package webhook is the gatepass provider that tells another system about
// grants: on grant, extension, expiry and revocation it POSTs a signed JSON
// event to a URL named in the policy.
//
//	resources:
//	  vendor-portal:
//	    provider:
//	      webhook:
//	        url: https://hooks.internal.example/gatepass
//	        secret_env: VENDOR_WEBHOOK_SECRET   # env var holding the HMAC secret
//
// # Events
//
// Each event is a POST with Content-Type application/json and a body of
// exactly these keys, in this order:
//
//	{"event":"grant","request_id":"…","resource":"vendor-portal","level":"read",
//	 "sub":"U0REQUESTER","ticket":"INC-123","iat":1767225600,"exp":1767229200}
//
// event is "grant" or "revoke"; sub is the requester's Slack user ID; iat
// and exp are Unix seconds. A "grant" means "this access exists until exp":
// receivers treat it as an upsert keyed by request_id. An extension is sent
// as another "grant" for the same request_id with the later exp. A "revoke"
// ends the access at once, whether the grant expired or was revoked. Every
// event may arrive more than once (gatepass retries until it sees a 2xx),
// so receivers must be idempotent.
//
// Any 2xx answer is success. Anything else, a redirect included, is a
// failure that gatepass retries with backoff.
//
// # Signature
//
// Each request carries two headers:
//
//	X-Gatepass-Timestamp: <Unix seconds when it was sent>
//	X-Gatepass-Signature: v1=<lowercase hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// A receiver checks the signature over the raw body bytes, before parsing
// them, and refuses a timestamp too far from its own clock, so that a
// captured request cannot be replayed later. [Verify] does both; a receiver
// written in Go can call it or copy it:
//
//	func handle(w http.ResponseWriter, r *http.Request) {
//		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
//		if err != nil {
//			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
//			return
//		}
//		err = webhook.Verify(secret, r.Header.Get("X-Gatepass-Timestamp"),
//			r.Header.Get("X-Gatepass-Signature"), body, time.Now(), 5*time.Minute)
//		if err != nil {
//			http.Error(w, "bad signature", http.StatusUnauthorized)
//			return
//		}
//		var ev webhook.Event
//		if err := json.Unmarshal(body, &ev); err != nil {
//			http.Error(w, "bad event", http.StatusBadRequest)
//			return
//		}
//		switch ev.Event {
//		case "grant": // create or extend access for ev.Sub until time.Unix(ev.Exp, 0)
//		case "revoke": // remove access of ev.RequestID
//		}
//		w.WriteHeader(http.StatusNoContent)
//	}
//
// In any other language: compute HMAC-SHA256 with the shared secret over
// the timestamp header's text, a ".", and the body; hex-encode it; compare
// it in constant time with the text after "v1=" in the signature header.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatepass/gatepass/workflow"
)

// Header names of a webhook request.
const (
	HeaderTimestamp = "X-Gatepass-Timestamp"
	HeaderSignature = "X-Gatepass-Signature"
)

// Event kinds.
const (
	EventGrant  = "grant"
	EventRevoke = "revoke"
)

// DefaultTolerance is how far a timestamp may be from the receiver's clock
// when [Verify] is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// DefaultTimeout bounds one delivery when New is given no client.
const DefaultTimeout = 10 * time.Second

// excerptLen bounds how much of a failed answer's body an error quotes.
const excerptLen = 200

// Event is the JSON body of a webhook request; its fields are in the order
// they are sent.
type Event struct {
	Event     string `json:"event"` // EventGrant or EventRevoke
	RequestID string `json:"request_id"`
	Resource  string `json:"resource"`
	Level     string `json:"level"`
	Sub       string `json:"sub"` // the requester's Slack user ID
	Ticket    string `json:"ticket"`
	Iat       int64  `json:"iat"` // issue time, Unix seconds
	Exp       int64  `json:"exp"` // end of the access, Unix seconds
}

// Provider sends grant and revoke events for one resource. It implements
// workflow.Provider and is safe for concurrent use.
type Provider struct {
	// Now is the clock that stamps each request; nil means time.Now. Set
	// it, if at all, before the first call.
	Now func() time.Time

	url    string
	secret []byte
	client *http.Client
}

var _ workflow.Provider = (*Provider)(nil)

// New returns a provider for cfg. The secret is read from the environment
// variable cfg.SecretEnv through getenv (nil means os.Getenv); an unset or
// empty variable is an error naming it. cfg.URL must be an http or https
// URL. client sends the requests; nil means a client with a 10-second
// timeout. Redirects are never followed: a 3xx answer is a failed delivery.
func New(cfg workflow.WebhookConfig, getenv func(string) string, client *http.Client) (*Provider, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || cfg.URL == "" {
		return nil, fmt.Errorf("webhook: url %q is not a valid URL", redact(cfg.URL))
	}
	if s := strings.ToLower(u.Scheme); (s != "http" && s != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook: url %q must be an http or https URL", u.Redacted())
	}
	if cfg.SecretEnv == "" {
		return nil, errors.New("webhook: secret_env is not set")
	}
	secret := getenv(cfg.SecretEnv)
	if secret == "" {
		return nil, fmt.Errorf("webhook: environment variable %s (secret_env) is not set", cfg.SecretEnv)
	}
	var c http.Client
	if client != nil {
		c = *client
	} else {
		c.Timeout = DefaultTimeout
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Provider{url: u.String(), secret: []byte(secret), client: &c}, nil
}

// redact hides the password of a URL that did not parse well enough for
// url.URL.Redacted.
func redact(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "…" + s[i:]
		}
	}
	return s
}

// Grant sends a "grant" event. The requester is handed nothing beyond the
// gatepass token, so the credential is empty.
func (p *Provider) Grant(ctx context.Context, g workflow.ProviderGrant) (workflow.Credential, error) {
	return workflow.Credential{}, p.send(ctx, EventGrant, g)
}

// Extend sends another "grant" event with the new exp: receivers treat a
// grant as "this access exists until exp", an upsert by request_id.
func (p *Provider) Extend(ctx context.Context, g workflow.ProviderGrant) error {
	return p.send(ctx, EventGrant, g)
}

// Revoke sends a "revoke" event.
func (p *Provider) Revoke(ctx context.Context, g workflow.ProviderGrant) error {
	return p.send(ctx, EventRevoke, g)
}

// Reconcile does nothing: the provider keeps no state of its own, and every
// event is delivered until it succeeds.
func (p *Provider) Reconcile(context.Context, []workflow.ProviderGrant) error { return nil }

// Body returns the JSON body of an event for g, exactly as it is sent.
func Body(event string, g workflow.ProviderGrant) ([]byte, error) {
	return json.Marshal(Event{
		Event:     event,
		RequestID: g.RequestID,
		Resource:  g.Resource,
		Level:     g.Level,
		Sub:       g.Requester,
		Ticket:    g.Ticket,
		Iat:       g.IssuedAt.Unix(),
		Exp:       g.ExpiresAt.Unix(),
	})
}

// Sign returns the X-Gatepass-Signature value for body sent at timestamp
// (the X-Gatepass-Timestamp text): "v1=" and the lowercase hex
// HMAC-SHA256 of timestamp + "." + body under secret.
func Sign(secret []byte, timestamp string, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// send delivers one event, once: the caller retries with backoff.
func (p *Provider) send(ctx context.Context, event string, g workflow.ProviderGrant) error {
	body, err := Body(event, g)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", event, err)
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", event, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatepass-webhook/1")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(p.secret, ts, body))
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s for request %s: %w", event, g.RequestID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// Drain a little so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 4*excerptLen))
	msg := fmt.Sprintf("webhook %s for request %s: %s answered %s", event, g.RequestID, host(req), resp.Status)
	if ex := excerpt(head); ex != "" {
		msg += ": " + ex
	}
	return errors.New(msg)
}

// host names where the request went, without credentials or query.
func host(r *http.Request) string {
	u := *r.URL
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return u.String()
}

// excerpt makes the start of an answer's body safe to quote in an error: at
// most excerptLen characters, on one line, printable.
func excerpt(b []byte) string {
	var sb strings.Builder
	n := 0
	space := false
	for len(b) > 0 && n < excerptLen {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r == utf8.RuneError && size == 1 {
			r = '?'
		}
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			space = n > 0
			continue
		}
		if space {
			sb.WriteByte(' ')
			n++
			space = false
		}
		sb.WriteRune(r)
		n++
	}
	if len(b) > 0 && n >= excerptLen {
		sb.WriteString("…")
	}
	return sb.String()
}

// Errors of Verify.
var (
	// ErrNoSignature: the timestamp or signature header is missing.
	ErrNoSignature = errors.New("webhook: missing timestamp or signature")
	// ErrBadTimestamp: the timestamp is not Unix seconds, or too far from now.
	ErrBadTimestamp = errors.New("webhook: timestamp invalid or outside the tolerance")
	// ErrBadSignature: no v1 signature matches the body.
	ErrBadSignature = errors.New("webhook: signature does not match")
)

// Verify checks a received webhook request: timestamp and signature are
// the X-Gatepass-Timestamp and X-Gatepass-Signature headers, body the raw
// body bytes. The timestamp must be within tolerance of now (either way;
// tolerance <= 0 means DefaultTolerance), and the signature must hold a
// "v1=<hex>" entry equal, in constant time, to the HMAC-SHA256 of
// timestamp + "." + body under secret. Several comma-separated entries are
// allowed, so that a sender may sign with an old and a new secret while
// they are rotated. It returns nil, ErrNoSignature, ErrBadTimestamp or
// ErrBadSignature.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if timestamp == "" || signature == "" {
		return ErrNoSignature
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	skew := now.Sub(time.Unix(ts, 0))
	if skew > tolerance || skew < -tolerance {
		return ErrBadTimestamp
	}
	want := mac(secret, timestamp, body)
	ok := false
	for entry := range strings.SplitSeq(signature, ",") {
		hexsig, found := strings.CutPrefix(strings.TrimSpace(entry), "v1=")
		if !found {
			continue
		}
		got, err := hex.DecodeString(hexsig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}
