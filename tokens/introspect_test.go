package tokens

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

func TestIntrospector(t *testing.T) {
	live, _ := New()
	broken, _ := New()
	unknown, _ := New()
	iat := time.Unix(1_795_770_000, 0)
	lookup := mapLookup{
		live:   {Resource: "prod-db", Level: "read", Subject: "U0ALICE", Ticket: "INC-1", RequestID: "r1", IssuedAt: iat, ExpiresAt: iat.Add(30 * time.Minute)},
		broken: {Resource: "broken"},
	}
	var failures []error
	h := NewIntrospector(lookup, []Client{{Name: "payments", KeySHA256: sha256.Sum256([]byte("key-1"))}, {Name: "ledger", KeySHA256: sha256.Sum256([]byte("key-2"))}},
		func(err error) { failures = append(failures, err) })

	cases := []struct {
		name, method, auth, token string
		status                    int
		body                      string
	}{
		{"active", "POST", "Bearer key-1", live, 200,
			`{"active":true,"scope":"prod-db:read","resource":"prod-db","level":"read","sub":"U0ALICE","exp":1795771800,"iat":1795770000,"ticket":"INC-1@payments","request_id":"r1","break_glass":false,"token_type":"Bearer"}`},
		{"second key, any case", "POST", "bearer key-2", live, 200, `"ticket":"INC-1@ledger"`},
		{"unknown", "POST", "Bearer key-1", unknown, 200, `{"active":false}`},
		{"malformed", "POST", "Bearer key-1", "gpass_nope", 200, `{"active":false}`},
		{"missing token", "POST", "Bearer key-1", "", 200, `{"active":false}`},
		{"no key", "POST", "", live, 401, `invalid_client`},
		{"wrong key", "POST", "Bearer key-3", live, 401, `invalid_client`},
		{"basic auth", "POST", "Basic a2V5LTE6", live, 401, `invalid_client`},
		{"GET", "GET", "Bearer key-1", live, 405, `invalid_request`},
		{"lookup fails", "POST", "Bearer key-1", broken, 503, `temporarily_unavailable`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "/v1/introspect", strings.NewReader(url.Values{"token": {c.token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			body, _ := io.ReadAll(w.Result().Body)
			if w.Code != c.status {
				t.Fatalf("HTTP %d, want %d (%s)", w.Code, c.status, body)
			}
			got := strings.TrimSpace(string(body))
			if strings.HasPrefix(c.body, "{") && got != c.body || !strings.Contains(got, c.body) {
				t.Fatalf("body %s, want %s", got, c.body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if c.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if len(failures) != 1 {
		t.Fatalf("onError heard %d failures, want 1", len(failures))
	}
}

// BenchmarkIntrospector is the handler's own cost per request, without the
// network or the grant lookup.
func BenchmarkIntrospector(b *testing.B) {
	tok, _ := New()
	iat := time.Unix(1_795_770_000, 0)
	h := NewIntrospector(mapLookup{tok: {Resource: "prod-db", Level: "read", Subject: "U0ALICE", Ticket: "INC-1", RequestID: "8f14e45f-ceea-4e7a-9e2b-1c4f5b7a9d01", IssuedAt: iat, ExpiresAt: iat.Add(time.Hour)}},
		[]Client{{Name: "payments", KeySHA256: sha256.Sum256([]byte("key-1"))}}, nil)
	body := url.Values{"token": {tok}}.Encode()
	req := httptest.NewRequest(http.MethodPost, "/v1/introspect", nil)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer key-1")
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

func TestFormToken(t *testing.T) {
	cases := map[string]string{
		"token=gpass_abc": "gpass_abc",
		"token_type_hint=access_token&token=x%2By+z": "x+y z",
		"a=1&b=2":                  "",
		"":                         "",
		"token=":                   "",
		"token=first&token=second": "first",
	}
	for body, want := range cases {
		got, err := formToken(strings.NewReader(body))
		if err != nil || got != want {
			t.Errorf("formToken(%q) = %q, %v; want %q", body, got, err, want)
		}
	}
	if _, err := formToken(strings.NewReader("token=%zz")); err == nil {
		t.Error("a bad escape was accepted")
	}
}
