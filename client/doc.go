// Package client checks gatepass tokens from a production service.
//
// gatepass hands engineers short-lived "gpass_…" tokens once a request is
// approved in Slack. A service that accepts such tokens asks gatepass whether
// each one is active, and for what, through gatepass's RFC 7662 introspection
// endpoint (POST /v1/introspect). This package is that caller: a [Client]
// that introspects tokens, caches the answers for a bounded time, and an
// [http.Handler] middleware that lets through only requests carrying an
// active token for a given scope.
//
// The package uses the standard library only, so importing it adds nothing
// else to a service's build.
//
// # Usage
//
// Create one [Client] per process, with the address of gatepass and one of
// the introspection_keys of gatepass's policy file, and share it:
//
//	gp, err := client.New("https://gatepass.internal.example",
//		client.WithBearerKey(os.Getenv("GATEPASS_INTROSPECTION_KEY")),
//		// A revoked token may be accepted for at most 5 s after its revocation.
//		client.WithCache(10_000, 5*time.Second),
//	)
//	if err != nil {
//		log.Fatal(err)
//	}
//
//	mux := http.NewServeMux()
//	// Only holders of an active prod-db:write grant may run a migration.
//	mux.Handle("POST /migrations", gp.Middleware("prod-db:write")(http.HandlerFunc(migrate)))
//	// Any level of prod-db (read or write) may list tables.
//	mux.Handle("GET /tables", gp.Middleware("prod-db")(http.HandlerFunc(tables)))
//
//	func migrate(w http.ResponseWriter, r *http.Request) {
//		grant, _ := client.FromContext(r.Context())
//		log.Printf("migration by %s under ticket %s (request %s)", grant.Subject, grant.Ticket, grant.RequestID)
//		// …
//	}
//
// A caller then sends "Authorization: Bearer gpass_…". Without a token, or
// with one that is not active, it gets 401; with an active token for another
// scope, 403; when gatepass cannot be asked, 503 (the middleware fails
// closed). Code that is not an HTTP handler calls [Client.Introspect] and
// [Result.Allows] itself.
//
// With HTTP Basic instead of a bearer key, pass the key's name too:
// client.WithBasic("payments-api", key).
//
// # Scopes
//
// A gatepass grant has the scope "resource:level", such as "prod-db:read".
// [Client.Middleware] and [Result.Allows] take either such a scope, which must
// match exactly, or a bare resource such as "prod-db", which accepts a grant
// at any level of that resource.
//
// # Caching and the revocation bound
//
// Every answer of gatepass is authoritative at the moment it is given: from
// the moment a revocation is answered, gatepass reports the token inactive.
// A cache trades that exactness for fewer calls. The rules:
//
//   - An active answer is kept until the earlier of the token's exp and the
//     time the question was sent plus maxAge ([WithCache]). A cached answer
//     never outlives exp: the token is inactive from the second exp is
//     reached, as gatepass says.
//   - A revoked token may be accepted by this client for at most maxAge after
//     the revocation; set 0 to ask gatepass every time. (That is on top of
//     gatepass's own delay for a revocation made by another gatepass process,
//     such as the admin command or another replica: at most 1 s.)
//   - An inactive answer (unknown, expired, revoked) is kept for the negative
//     TTL ([WithNegativeCache], default 1 s). It only delays the moment a token
//     becomes usable, never extends one's life.
//   - Errors are never cached; a malformed token (one whose prefix, alphabet
//     or checksum is wrong; see [WellFormed]) is inactive at once, without a
//     network call.
//   - The cache is keyed by the SHA-256 of the token and never holds the token
//     text. It holds at most maxEntries answers; when it is full, a new
//     token's answer replaces that of the token cached longest ago.
//   - Concurrent calls for the same token share one request to gatepass. A call
//     joins a request only if it was sent less than maxAge ago, so with maxAge
//     0 every call makes its own request.
//
// Picking maxAge: it is the longest a revocation can go unnoticed by this
// service, and also bounds the calls to gatepass to about one per token per
// maxAge. The default, 5 s, suits most services; a service where one more
// request after a revocation matters (deleting data, moving money) should use
// 0, at the price of one round trip to gatepass per request; a very busy
// read-only service may accept a longer bound. Two clients with different
// bounds can serve different routes of the same service.
//
// # Secrets
//
// Neither the token nor the introspection key ever appears in an error this
// package returns, and the package logs nothing.
package client
