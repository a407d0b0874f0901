package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gatepass/gatepass/client"
)

func TestMiddleware(t *testing.T) {
	f := newFixture(t, nil)
	write, billing, unknown, revoked := mint(t), mint(t), mint(t), mint(t)
	w := liveClaims(t0)
	w.Level = "write"
	f.lookup.grant(write, w)
	b := liveClaims(t0)
	b.Resource = "billing-api"
	f.lookup.grant(billing, b)
	f.lookup.grant(revoked, liveClaims(t0))
	f.lookup.revoke(revoked)

	const (
		noToken      = `Bearer realm="gatepass"`
		invalidToken = `Bearer realm="gatepass", error="invalid_token"`
	)
	insufficient := func(scope string) string {
		return `Bearer realm="gatepass", error="insufficient_scope", scope="` + scope + `"`
	}
	cases := []struct {
		name      string
		scope     string
		auth      []string // Authorization values
		down      bool     // gatepass's lookup fails
		key       string   // the client's key; "" means bearerKey
		status    int
		challenge string // WWW-Authenticate
		errCode   string // "error" of the JSON body
		reached   string // the Result.Scope the handler saw; "" means not reached
		handled   bool   // the error handler heard of it
	}{
		{name: "active, exact scope", scope: "prod-db:read", auth: []string{"Bearer " + f.live}, status: 200, reached: "prod-db:read"},
		{name: "scheme in lower case", scope: "prod-db:read", auth: []string{"bearer " + f.live}, status: 200, reached: "prod-db:read"},
		{name: "resource scope, read", scope: "prod-db", auth: []string{"Bearer " + f.live}, status: 200, reached: "prod-db:read"},
		{name: "resource scope, write", scope: "prod-db", auth: []string{"Bearer " + write}, status: 200, reached: "prod-db:write"},
		{name: "no Authorization", scope: "prod-db:read", status: 401, challenge: noToken},
		{name: "Basic scheme", scope: "prod-db:read", auth: []string{"Basic dXNlcjpwYXNz"}, status: 401, challenge: noToken},
		{name: "Bearer without token", scope: "prod-db:read", auth: []string{"Bearer "}, status: 401, challenge: noToken},
		{name: "two Authorization headers", scope: "prod-db:read", auth: []string{"Bearer " + f.live, "Bearer " + f.live}, status: 400,
			challenge: `Bearer realm="gatepass", error="invalid_request"`, errCode: "invalid_request"},
		{name: "malformed", scope: "prod-db:read", auth: []string{"Bearer gpass_nottoken"}, status: 401, challenge: invalidToken, errCode: "invalid_token"},
		{name: "unknown", scope: "prod-db:read", auth: []string{"Bearer " + unknown}, status: 401, challenge: invalidToken, errCode: "invalid_token"},
		{name: "revoked", scope: "prod-db:read", auth: []string{"Bearer " + revoked}, status: 401, challenge: invalidToken, errCode: "invalid_token"},
		{name: "other level", scope: "prod-db:write", auth: []string{"Bearer " + f.live}, status: 403, challenge: insufficient("prod-db:write"), errCode: "insufficient_scope"},
		{name: "other resource", scope: "prod-db:read", auth: []string{"Bearer " + billing}, status: 403, challenge: insufficient("prod-db:read"), errCode: "insufficient_scope"},
		{name: "other resource, resource scope", scope: "prod-db", auth: []string{"Bearer " + billing}, status: 403, challenge: insufficient("prod-db"), errCode: "insufficient_scope"},
		{name: "gatepass unavailable", scope: "prod-db:read", auth: []string{"Bearer " + f.live}, down: true, status: 503, errCode: "temporarily_unavailable", handled: true},
		{name: "key refused", scope: "prod-db:read", auth: []string{"Bearer " + f.live}, key: "wrong", status: 503, errCode: "temporarily_unavailable", handled: true},
		{name: "no token, gatepass unavailable", scope: "prod-db:read", down: true, status: 401, challenge: noToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.lookup.fail(nil)
			if tc.down {
				f.lookup.fail(errors.New("database down"))
			}
			key := tc.key
			if key == "" {
				key = bearerKey
			}
			var heard []error
			c := f.clientAuth(t, client.WithBearerKey(key), client.WithCache(0, 0),
				client.WithErrorHandler(func(err error) { heard = append(heard, err) }))
			var reached *client.Result
			h := c.Middleware(tc.scope)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res, ok := client.FromContext(r.Context())
				if !ok {
					t.Error("no result in the context")
				}
				reached = &res
				w.WriteHeader(http.StatusOK)
			}))
			req := httptest.NewRequest(http.MethodGet, "/tables", nil)
			if tc.auth != nil {
				req.Header["Authorization"] = tc.auth
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tc.status {
				t.Fatalf("HTTP %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			switch {
			case tc.reached == "" && reached != nil:
				t.Errorf("the handler was reached with %+v", *reached)
			case tc.reached != "" && reached == nil:
				t.Error("the handler was not reached")
			case tc.reached != "" && (reached.Scope != tc.reached || !reached.Active || reached.Subject != "U0ALICE"):
				t.Errorf("the handler saw %+v, want scope %s", *reached, tc.reached)
			}
			if got := rec.Header().Values("WWW-Authenticate"); !slices.Equal(got, nonEmpty(tc.challenge)) {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if (len(heard) > 0) != tc.handled {
				t.Errorf("error handler heard %v", heard)
			}
			for _, err := range heard {
				for _, a := range tc.auth {
					if tok, _ := strings.CutPrefix(a, "Bearer "); strings.Contains(err.Error(), tok) {
						t.Errorf("the error shows the token: %v", err)
					}
				}
			}
			if tc.status == http.StatusOK {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if tc.status == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body["error"] != tc.errCode || body["error_description"] == "" {
				t.Errorf("body %v, want error %q and a description", body, tc.errCode)
			}
			if tc.status == http.StatusForbidden && body["scope"] != tc.scope {
				t.Errorf("body %v, want scope %q", body, tc.scope)
			}
		})
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// TestMiddlewareCaches checks that the middleware answers from the cache.
func TestMiddlewareCaches(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	h := c.Middleware("prod-db")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 10 {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+f.live)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d", rec.Code)
		}
	}
	if n := f.calls(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestMiddlewareInvalidScope(t *testing.T) {
	c, err := client.New("https://gatepass.example", client.WithBearerKey("k"))
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{"", "prod-db read", `prod-db"`, `a\b`, "prod-db:é", "a\n"} {
		t.Run(scope, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Middleware(%q) did not panic", scope)
				}
			}()
			c.Middleware(scope)
		})
	}
}

func TestContext(t *testing.T) {
	if _, ok := client.FromContext(context.Background()); ok {
		t.Error("a result in an empty context")
	}
	want := client.Result{Active: true, Scope: "prod-db:read", ExpiresAt: t0}
	got, ok := client.FromContext(client.NewContext(context.Background(), want))
	if !ok || got != want {
		t.Errorf("FromContext = %+v, %v", got, ok)
	}
}
