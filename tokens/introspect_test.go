package tokens

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

type mapLookup map[string]Claims

func (m mapLookup) LookupToken(ctx context.Context, tok string) (Claims, bool, error) {
	if tok == "" {
		return Claims{}, false, errors.New("empty")
	}
	if c, ok := m[tok]; ok {
		if c.Resource == "broken" {
			return Claims{}, false, errors.New("database down")
		}
		c.Ticket += "@" + ClientName(ctx)
		return c, true, nil
	}
	return Claims{}, false, nil
}

// A client whose name and key both need form-urlencoding in HTTP Basic.
const (
	oddName = "svc:eu west"
	oddKey  = "p@ss w+rd%/é:x"
)

// longKey is longer than the credentials HTTP Basic decodes on the stack.
var longKey = strings.Repeat("k", 2*basicOnStack)

// fixture is an Introspector over one active token (live), one whose lookup
// fails (broken) and one nobody knows (unknown).
type fixture struct {
	h                     *Introspector
	live, broken, unknown string
	failures              []error
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{}
	for _, p := range []*string{&f.live, &f.broken, &f.unknown} {
		tok, err := New()
		if err != nil {
			t.Fatal(err)
		}
		*p = tok
	}
	iat := time.Unix(1_795_770_000, 0)
	lookup := mapLookup{
		f.live:   {Resource: "prod-db", Level: "read", Subject: "U0ALICE", Ticket: "INC-1", RequestID: "r1", IssuedAt: iat, ExpiresAt: iat.Add(30 * time.Minute)},
		f.broken: {Resource: "broken"},
	}
	f.h = NewIntrospector(lookup, []Client{
		{Name: "payments", KeySHA256: sha256.Sum256([]byte("key-1"))},
		{Name: "ledger", KeySHA256: sha256.Sum256([]byte("key-2"))},
		{Name: oddName, KeySHA256: sha256.Sum256([]byte(oddKey))},
		{Name: "long", KeySHA256: sha256.Sum256([]byte(longKey))},
	}, func(err error) { f.failures = append(f.failures, err) })
	return f
}

// basic is an HTTP Basic Authorization value for user and password exactly
// as given (no form-urlencoding added).
func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

const (
	formType      = "application/x-www-form-urlencoded"
	liveJSON      = `{"active":true,"scope":"prod-db:read","resource":"prod-db","level":"read","sub":"U0ALICE","exp":1795771800,"iat":1795770000,"ticket":"INC-1@payments","request_id":"r1","break_glass":false,"token_type":"Bearer"}`
	inactive      = `{"active":false}`
	invalidReq    = `{"error":"invalid_request"}`
	invalidClient = `{"error":"invalid_client"}`
)

var (
	bearerOnly = []string{`Bearer realm="gatepass", error="invalid_token"`}
	basicOnly  = []string{`Basic realm="gatepass", charset="UTF-8"`}
	both       = []string{`Bearer realm="gatepass"`, `Basic realm="gatepass", charset="UTF-8"`}
)

// introspectCase is one request and what must come back. In body, the words
// LIVE, BROKEN and UNKNOWN stand for the fixture's tokens, and ESCLIVE for
// the live token with its first character percent-encoded.
type introspectCase struct {
	name        string
	method      string   // "" means POST
	auth        []string // Authorization values; nil sends none
	contentType []string // Content-Type values; nil means formType, {} sends none
	body        string
	chunked     bool // send the body without a Content-Length
	status      int
	want        string   // the exact body when it starts with "{", else a part of it
	challenges  []string // the WWW-Authenticate values a 401 must carry
}

func runIntrospectCases(t *testing.T, f *fixture, cases []introspectCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := strings.NewReplacer("ESCLIVE", "%67"+f.live[1:], "LIVE", f.live, "BROKEN", f.broken, "UNKNOWN", f.unknown).Replace(c.body)
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, "/v1/introspect", strings.NewReader(body))
			if c.chunked {
				req.ContentLength = -1
				req.Body = io.NopCloser(io.MultiReader(strings.NewReader(body)))
			}
			switch {
			case c.contentType == nil:
				req.Header.Set("Content-Type", formType)
			case len(c.contentType) > 0:
				req.Header["Content-Type"] = c.contentType
			}
			if c.auth != nil {
				req.Header["Authorization"] = c.auth
			}
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, req)
			got := strings.TrimSpace(w.Body.String())
			if w.Code != c.status {
				t.Fatalf("HTTP %d, want %d (%s)", w.Code, c.status, got)
			}
			if strings.HasPrefix(c.want, "{") && got != c.want || !strings.Contains(got, c.want) {
				t.Fatalf("body %s, want %s", got, c.want)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			challenges := w.Header().Values("WWW-Authenticate")
			if !slices.Equal(challenges, c.challenges) {
				t.Errorf("WWW-Authenticate %q, want %q", challenges, c.challenges)
			}
		})
	}
}

func TestIntrospectorAuthentication(t *testing.T) {
	f := newFixture(t)
	encodedOdd := basic(url.QueryEscape(oddName), url.QueryEscape(oddKey))
	runIntrospectCases(t, f, []introspectCase{
		{name: "bearer", auth: []string{"Bearer key-1"}, body: "token=LIVE", status: 200, want: liveJSON},
		{name: "bearer, any case, second client", auth: []string{"bearer key-2"}, body: "token=LIVE", status: 200, want: `"ticket":"INC-1@ledger"`},
		{name: "bearer, extra spaces", auth: []string{"Bearer   key-1"}, body: "token=LIVE", status: 200, want: liveJSON},
		{name: "basic", auth: []string{basic("payments", "key-1")}, body: "token=LIVE", status: 200, want: liveJSON},
		{name: "basic, any case", auth: []string{"bASIC " + strings.TrimPrefix(basic("ledger", "key-2"), "Basic ")}, body: "token=LIVE", status: 200, want: `"ticket":"INC-1@ledger"`},
		{name: "basic, form-urlencoded name and key", auth: []string{encodedOdd}, body: "token=LIVE", status: 200, want: `"ticket":"INC-1@svc:eu west"`},
		{name: "basic, %20 for a space", auth: []string{basic("svc%3Aeu%20west", strings.ReplaceAll(url.QueryEscape(oddKey), "+", "%20"))}, body: "token=LIVE", status: 200, want: `"ticket":"INC-1@svc:eu west"`},
		{name: "basic, unencoded colon in the name", auth: []string{basic(oddName, url.QueryEscape(oddKey))}, body: "token=LIVE", status: 401, want: invalidClient, challenges: basicOnly},
		{name: "basic, unencoded plus in the key", auth: []string{basic(url.QueryEscape(oddName), strings.ReplaceAll(url.QueryEscape(oddKey), "%2B", "+"))}, body: "token=LIVE", status: 401, want: invalidClient, challenges: basicOnly},
		{name: "basic, another client's key", auth: []string{basic("payments", "key-2")}, body: "token=LIVE", status: 401, want: invalidClient, challenges: basicOnly},
		{name: "basic, unknown name", auth: []string{basic("nobody", "key-1")}, body: "token=LIVE", status: 401, want: invalidClient, challenges: basicOnly},
		{name: "basic, key as name", auth: []string{basic("key-1", "")}, body: "token=LIVE", status: 401, want: invalidClient, challenges: basicOnly},
		{name: "basic, no colon", auth: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("payments"))}, body: "token=LIVE", status: 401, want: invalidClient, challenges: basicOnly},
		{name: "basic, not base64", auth: []string{"Basic !!!"}, body: "token=LIVE", status: 401, want: invalidClient, challenges: basicOnly},
		{name: "basic, bad escape", auth: []string{basic("payments", "key-1%")}, body: "token=LIVE", status: 401, want: invalidClient, challenges: basicOnly},
		{name: "basic, nothing", auth: []string{"Basic"}, body: "token=LIVE", status: 401, want: invalidClient, challenges: basicOnly},
		{name: "basic, long key", auth: []string{basic("long", longKey)}, body: "token=LIVE", status: 200, want: `"ticket":"INC-1@long"`},
		{name: "basic, long wrong key", auth: []string{basic("long", longKey+"k")}, body: "token=LIVE", status: 401, want: invalidClient, challenges: basicOnly},
		{name: "bearer, wrong key", auth: []string{"Bearer key-3"}, body: "token=LIVE", status: 401, want: invalidClient, challenges: bearerOnly},
		{name: "bearer, basic credentials", auth: []string{"Bearer " + strings.TrimPrefix(basic("payments", "key-1"), "Basic ")}, body: "token=LIVE", status: 401, want: invalidClient, challenges: bearerOnly},
		{name: "bearer, nothing", auth: []string{"Bearer"}, body: "token=LIVE", status: 401, want: invalidClient, challenges: bearerOnly},
		{name: "no Authorization", body: "token=LIVE", status: 401, want: invalidClient, challenges: both},
		{name: "another scheme", auth: []string{"Digest username=payments"}, body: "token=LIVE", status: 401, want: invalidClient, challenges: both},
		{name: "two Authorization headers", auth: []string{"Bearer key-1", "Bearer key-1"}, body: "token=LIVE", status: 401, want: invalidClient, challenges: both},
		{name: "bad key before a missing token", auth: []string{"Bearer key-3"}, body: "", status: 401, want: invalidClient, challenges: bearerOnly},
		{name: "bad key before a bad body", auth: []string{basic("payments", "nope")}, contentType: []string{"application/json"}, body: `{"token":"x"}`, status: 401, want: invalidClient, challenges: basicOnly},
		{name: "no key before an oversized body", body: "token=LIVE&pad=" + strings.Repeat("a", maxIntrospectBody), status: 401, want: invalidClient, challenges: both},
	})
	if got := ClientName(context.Background()); got != "" {
		t.Errorf("ClientName outside a request = %q", got)
	}
}

func TestIntrospectorRequest(t *testing.T) {
	f := newFixture(t)
	auth := []string{"Bearer key-1"}
	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString("p" + strconv.Itoa(i) + "=v&")
		}
		return b.String()
	}
	atLimit := "token=" + f.live + "&pad="
	atLimit += strings.Repeat("a", maxIntrospectBody-len(atLimit))
	overLimit := atLimit + "a"
	runIntrospectCases(t, f, []introspectCase{
		// The token parameter.
		{name: "token", auth: auth, body: "token=LIVE", status: 200, want: liveJSON},
		{name: "missing token", auth: auth, body: "token_type_hint=access_token", status: 400, want: invalidReq},
		{name: "empty token", auth: auth, body: "token=", status: 400, want: invalidReq},
		{name: "token without =", auth: auth, body: "token", status: 400, want: invalidReq},
		{name: "empty body", auth: auth, body: "", status: 400, want: invalidReq},
		{name: "escaped token", auth: auth, body: "token=ESCLIVE", status: 200, want: liveJSON},
		{name: "escaped name and token", auth: auth, body: "t%6Fken=LIVE", status: 200, want: liveJSON},
		{name: "unknown parameters ignored", auth: auth, body: "token_type_hint=access_token&client_id=payments&token=LIVE&x=", status: 200, want: liveJSON},
		{name: "empty pairs skipped", auth: auth, body: "&&token=LIVE&", status: 200, want: liveJSON},
		{name: "many parameters", auth: auth, body: many(3*maxSeenParams) + "token=LIVE", status: 200, want: liveJSON},
		// Repeated parameters (RFC 6749 §3.1).
		{name: "token twice, same value", auth: auth, body: "token=LIVE&token=LIVE", status: 400, want: invalidReq},
		{name: "token twice, other values", auth: auth, body: "token=LIVE&token=UNKNOWN", status: 400, want: invalidReq},
		{name: "token twice, second empty", auth: auth, body: "token=LIVE&token=", status: 400, want: invalidReq},
		{name: "token twice, once escaped", auth: auth, body: "token=LIVE&%74oken=LIVE", status: 400, want: invalidReq},
		{name: "token_type_hint twice", auth: auth, body: "token_type_hint=access_token&token=LIVE&token_type_hint=access_token", status: 400, want: invalidReq},
		{name: "unknown parameter twice", auth: auth, body: "client_id=a&token=LIVE&client_id=b", status: 400, want: invalidReq},
		{name: "repeat among many parameters", auth: auth, body: many(2*maxSeenParams) + "token=LIVE&p3=w", status: 400, want: invalidReq},
		{name: "repeat at the inline limit", auth: auth, body: many(maxSeenParams) + "p0=w&token=LIVE", status: 400, want: invalidReq},
		// Malformed bodies.
		{name: "bad escape in the token", auth: auth, body: "token=%zz", status: 400, want: invalidReq},
		{name: "bad escape in an ignored value", auth: auth, body: "token_type_hint=%G1&token=LIVE", status: 400, want: invalidReq},
		{name: "bad escape in a name", auth: auth, body: "%zz=1&token=LIVE", status: 400, want: invalidReq},
		{name: "truncated escape", auth: auth, body: "token=LIVE&x=%4", status: 400, want: invalidReq},
		{name: "semicolon separator", auth: auth, body: "token=LIVE;x=1", status: 400, want: invalidReq},
		// Content-Type.
		{name: "no Content-Type", auth: auth, contentType: []string{}, body: "token=LIVE", status: 400, want: invalidReq},
		{name: "JSON", auth: auth, contentType: []string{"application/json"}, body: "token=LIVE", status: 400, want: invalidReq},
		{name: "text/plain", auth: auth, contentType: []string{"text/plain"}, body: "token=LIVE", status: 400, want: invalidReq},
		{name: "multipart", auth: auth, contentType: []string{"multipart/form-data; boundary=x"}, body: "token=LIVE", status: 400, want: invalidReq},
		{name: "longer media type", auth: auth, contentType: []string{"application/x-www-form-urlencodedx"}, body: "token=LIVE", status: 400, want: invalidReq},
		{name: "two Content-Types", auth: auth, contentType: []string{formType, formType}, body: "token=LIVE", status: 400, want: invalidReq},
		{name: "charset and any case", auth: auth, contentType: []string{"Application/X-WWW-Form-URLEncoded; charset=UTF-8"}, body: "token=LIVE", status: 200, want: liveJSON},
		{name: "space before parameters", auth: auth, contentType: []string{formType + " ; charset=utf-8"}, body: "token=LIVE", status: 200, want: liveJSON},
		// Size.
		{name: "at the limit", auth: auth, body: atLimit, status: 200, want: liveJSON},
		{name: "at the limit, chunked", auth: auth, body: atLimit, chunked: true, status: 200, want: liveJSON},
		{name: "over the limit", auth: auth, body: overLimit, status: 413, want: invalidReq},
		{name: "over the limit, chunked", auth: auth, body: overLimit, chunked: true, status: 413, want: invalidReq},
		{name: "far over the limit, chunked", auth: auth, body: strings.Repeat(overLimit, 4), chunked: true, status: 413, want: invalidReq},
	})
	if len(atLimit) != maxIntrospectBody {
		t.Fatalf("the at-limit body is %d bytes", len(atLimit))
	}
}

func TestIntrospectorAnswers(t *testing.T) {
	f := newFixture(t)
	auth := []string{"Bearer key-1"}
	runIntrospectCases(t, f, []introspectCase{
		{name: "active", auth: auth, body: "token=LIVE", status: 200, want: liveJSON},
		{name: "unknown", auth: auth, body: "token=UNKNOWN", status: 200, want: inactive},
		{name: "malformed", auth: auth, body: "token=gpass_nope", status: 200, want: inactive},
		{name: "lookup fails", auth: auth, body: "token=BROKEN", status: 503, want: `{"error":"temporarily_unavailable"}`},
		{name: "GET", method: http.MethodGet, auth: auth, body: "token=LIVE", status: 405, want: invalidReq},
		{name: "PUT without a key", method: http.MethodPut, body: "token=LIVE", status: 405, want: invalidReq},
	})
	if len(f.failures) != 1 {
		t.Fatalf("onError heard %d failures, want 1", len(f.failures))
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/introspect", nil))
	if allow := w.Header().Values("Allow"); !slices.Equal(allow, []string{"POST"}) {
		t.Errorf("405 with Allow %q", allow)
	}
}

// TestIntrospectorOverHTTP: over a real connection, an oversized body is
// refused with 413 and the connection is closed rather than drained.
func TestIntrospectorOverHTTP(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader("token=" + f.live + "&pad=" + strings.Repeat("a", 64<<10))
		if chunked {
			body = io.MultiReader(body)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/introspect", body)
		req.Header.Set("Content-Type", formType)
		req.SetBasicAuth("payments", "key-1")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || strings.TrimSpace(string(got)) != invalidReq || !resp.Close {
			t.Errorf("chunked=%v: HTTP %d %s (close=%v), want 413 %s and close", chunked, resp.StatusCode, got, resp.Close, invalidReq)
		}
	}
}

func TestFormToken(t *testing.T) {
	cases := []struct {
		body  string
		token string
		ok    bool
	}{
		{"token=gpass_abc", "gpass_abc", true},
		{"token_type_hint=access_token&token=x%2By+z", "x+y z", true},
		{"to%6Ben=a", "a", true},
		{"&token=a&", "a", true},
		{"a=1&b=2", "", false},
		{"", "", false},
		{"token=", "", false},
		{"token", "", false},
		{"token=first&token=second", "", false},
		{"token=a&b=1&b=1", "", false},
		{"=1&=2&token=a", "", false},
		{"token=a&a&a", "", false},
		{"token=%zz", "", false},
		{"x=%&token=a", "", false},
		{"token=a;b", "", false},
	}
	for _, c := range cases {
		token, ok := formToken([]byte(c.body))
		if string(token) != c.token || ok != c.ok {
			t.Errorf("formToken(%q) = %q, %v; want %q, %v", c.body, token, ok, c.token, c.ok)
		}
	}
}

// FuzzFormToken: formToken accepts exactly the bodies url.ParseQuery parses
// without error and without a repeated parameter, and that carry a non-empty
// token, and finds the same token.
func FuzzFormToken(f *testing.F) {
	for _, s := range []string{"token=gpass_abc", "token=a&token=b", "token=%zz", "a;b=1&token=x", "t%6Fken=1&token=2", "&&token=+%20&x", "=&=", "token=a&" + strings.Repeat("p=1&", 20)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		values, err := url.ParseQuery(body)
		wantOK := err == nil && values.Get("token") != ""
		for _, v := range values {
			wantOK = wantOK && len(v) == 1
		}
		token, ok := formToken([]byte(body))
		if ok != wantOK || ok && string(token) != values.Get("token") {
			t.Fatalf("formToken(%q) = %q, %v; url.ParseQuery: %q, %v", body, token, ok, values, err)
		}
	})
}

// FuzzUnescapeForm: in-place decoding is url.QueryUnescape.
func FuzzUnescapeForm(f *testing.F) {
	for _, s := range []string{"", "plain", "a+b", "%41%2b%2B", "%", "%4", "%zz", "100%", "é%C3%A9", "+%20+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := url.QueryUnescape(s)
		got, ok := unescapeForm([]byte(s))
		if ok != (err == nil) || ok && string(got) != want {
			t.Fatalf("unescapeForm(%q) = %q, %v; url.QueryUnescape: %q, %v", s, got, ok, want, err)
		}
	})
}

// FuzzAppendJSONString: the hand-written quoting matches encoding/json.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "INC-123", `"quoted" \ back`, "<script>&</script>", "tab\tnl\ncr\r\x00\x1f", "\u2028\u2029", "\xff\xfe bad utf8", "émoji 🔑"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

// FuzzAppendActive: the hand-written answer is what encoding/json writes for
// the same fields in the contract's order.
func FuzzAppendActive(f *testing.F) {
	f.Add("prod-db", "read", "U0ALICE", "INC-1", int64(1_795_770_000), false)
	f.Add("db\xe2\x80", "\x80<w>", "", "\u2028", int64(-1), true)
	f.Fuzz(func(t *testing.T, resource, level, sub, ticket string, iat int64, breakGlass bool) {
		c := Claims{Resource: resource, Level: level, Subject: sub, Ticket: ticket, RequestID: ticket + sub,
			IssuedAt: time.Unix(iat, 0), ExpiresAt: time.Unix(iat, 0).Add(time.Hour), BreakGlass: breakGlass}
		want, err := json.Marshal(struct {
			Active     bool   `json:"active"`
			Scope      string `json:"scope"`
			Resource   string `json:"resource"`
			Level      string `json:"level"`
			Sub        string `json:"sub"`
			Exp        int64  `json:"exp"`
			Iat        int64  `json:"iat"`
			Ticket     string `json:"ticket"`
			RequestID  string `json:"request_id"`
			BreakGlass bool   `json:"break_glass"`
			TokenType  string `json:"token_type"`
		}{true, c.Scope(), resource, level, sub, c.ExpiresAt.Unix(), iat, ticket, c.RequestID, breakGlass, "Bearer"})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendActive(nil, &c); !bytes.Equal(got, append(want, '\n')) {
			t.Fatalf("appendActive = %s, want %s", got, want)
		}
	})
}

// BenchmarkIntrospector is the handler's own cost per request, without the
// network or the grant lookup.
func BenchmarkIntrospector(b *testing.B) {
	benchmarkIntrospector(b, "payments", "key-1", "Bearer key-1")
}

// BenchmarkIntrospectorBasic is the same with HTTP Basic and a key of
// realistic length.
func BenchmarkIntrospectorBasic(b *testing.B) {
	const key = "Yq3Zr8Xk2Wm9Vb4Nt7Lp1Hd6Gs5Fj0Ce3Ua8Io2Ry7"
	benchmarkIntrospector(b, "payments-api", key, basic("payments-api", key))
}

func benchmarkIntrospector(b *testing.B, name, key, auth string) {
	tok, _ := New()
	iat := time.Unix(1_795_770_000, 0)
	h := NewIntrospector(mapLookup{tok: {Resource: "prod-db", Level: "read", Subject: "U0ALICE", Ticket: "INC-1", RequestID: "8f14e45f-ceea-4e7a-9e2b-1c4f5b7a9d01", IssuedAt: iat, ExpiresAt: iat.Add(time.Hour)}},
		[]Client{{Name: name, KeySHA256: sha256.Sum256([]byte(key))}}, nil)
	body := url.Values{"token": {tok}}.Encode()
	req := httptest.NewRequest(http.MethodPost, "/v1/introspect", nil)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", auth)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for range b.N {
		req.Body = io.NopCloser(strings.NewReader(body))
		req.Form, req.PostForm = nil, nil
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.code != 0 && w.code != http.StatusOK {
			b.Fatal(w.code)
		}
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
