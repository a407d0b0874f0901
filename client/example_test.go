package client_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatepass/gatepass/client"
	"github.com/gatepass/gatepass/tokens"
)

// standIn starts a stand-in for gatepass (its real introspection handler)
// that knows one active prod-db:read grant, and returns its URL and token.
func standIn() (srv *httptest.Server, token string) {
	token, err := tokens.New()
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	grants := staticLookup{token: {Resource: "prod-db", Level: "read", Subject: "U0ALICE", Ticket: "INC-123",
		RequestID: "6f1c1f4e-9a51-4c1b-9a43-0d7f0e0c5a11", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}}
	keys := []tokens.Client{{Name: "payments-api", KeySHA256: sha256.Sum256([]byte("a-long-random-secret"))}}
	mux := http.NewServeMux()
	mux.Handle("/v1/introspect", tokens.NewIntrospector(grants, keys, nil))
	return httptest.NewServer(mux), token
}

type staticLookup map[string]tokens.Claims

func (s staticLookup) LookupToken(_ context.Context, token string) (tokens.Claims, bool, error) {
	c, ok := s[token]
	return c, ok, nil
}

// A service that lets holders of a prod-db grant list tables, and only
// holders of prod-db:write run migrations.
func Example() {
	gatepass, token := standIn() // in production: gatepass's own address
	defer gatepass.Close()

	gp, err := client.New(gatepass.URL,
		client.WithBearerKey("a-long-random-secret"), // one of gatepass's introspection_keys
		// The revocation bound: a revoked token may be accepted for at most
		// 5 s after its revocation. 0 asks gatepass on every request.
		client.WithCache(10_000, 5*time.Second),
		client.WithErrorHandler(func(err error) { log.Print(err) }), // why a request got 503
	)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /tables", gp.Middleware("prod-db")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grant, _ := client.FromContext(r.Context())
		fmt.Fprintf(w, "tables for %s (%s, ticket %s)", grant.Subject, grant.Scope, grant.Ticket)
	})))
	mux.Handle("POST /migrations", gp.Middleware("prod-db:write")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "migrated")
	})))

	for _, call := range []struct{ method, path, auth string }{
		{"GET", "/tables", "Bearer " + token},
		{"POST", "/migrations", "Bearer " + token},
		{"GET", "/tables", ""},
		{"GET", "/tables", "Bearer gpass_0000000000000000000000000000000000"},
	} {
		req := httptest.NewRequest(call.method, call.path, nil)
		if call.auth != "" {
			req.Header.Set("Authorization", call.auth)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(call.method, call.path, rec.Code)
		if challenge := rec.Header().Get("WWW-Authenticate"); challenge != "" {
			fmt.Println("   WWW-Authenticate:", challenge)
		}
		if rec.Code == http.StatusOK {
			fmt.Println("  ", rec.Body)
		}
	}
	// Output:
	// GET /tables 200
	//    tables for U0ALICE (prod-db:read, ticket INC-123)
	// POST /migrations 403
	//    WWW-Authenticate: Bearer realm="gatepass", error="insufficient_scope", scope="prod-db:write"
	// GET /tables 401
	//    WWW-Authenticate: Bearer realm="gatepass"
	// GET /tables 401
	//    WWW-Authenticate: Bearer realm="gatepass", error="invalid_token"
}

// Checking a token outside an HTTP handler, such as in a gRPC interceptor or
// a job runner.
func ExampleClient_Introspect() {
	gatepass, token := standIn()
	defer gatepass.Close()

	gp, err := client.New(gatepass.URL, client.WithBasic("payments-api", "a-long-random-secret"))
	if err != nil {
		log.Fatal(err)
	}
	grant, err := gp.Introspect(context.Background(), token)
	if err != nil {
		// gatepass could not be asked, or refused the key
		// (errors.Is(err, client.ErrKeyRefused)): fail closed.
		log.Fatal(err)
	}
	if !grant.Allows("prod-db:read") {
		fmt.Println("refused")
		return
	}
	fmt.Println(grant.Subject, grant.Scope, grant.Ticket, time.Until(grant.ExpiresAt).Round(time.Hour))
	// Output: U0ALICE prod-db:read INC-123 1h0m0s
}
