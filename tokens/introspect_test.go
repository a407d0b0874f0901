package tokens

import (
	"context"
	"crypto/sha256"
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
