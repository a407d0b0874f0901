package client

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Allows reports whether r grants scope: an active result whose scope is
// exactly scope ("prod-db:read"), or, when scope is a bare resource
// ("prod-db"), an active result for any level of that resource. An RFC 7662
// scope listing several space-separated scopes grants each of them.
func (r Result) Allows(scope string) bool {
	if !r.Active || scope == "" {
		return false
	}
	bare := !strings.Contains(scope, ":")
	for s := range strings.FieldsSeq(r.Scope) {
		if s == scope || bare && len(s) > len(scope) && s[len(scope)] == ':' && s[:len(scope)] == scope {
			return true
		}
	}
	return false
}

type contextKey struct{}

// FromContext returns the introspection result that [Client.Middleware] put
// in the context of a request it let through.
func FromContext(ctx context.Context) (Result, bool) {
	r, ok := ctx.Value(contextKey{}).(*Result)
	if !ok || r == nil {
		return Result{}, false
	}
	return *r, true
}

// NewContext returns a copy of ctx that carries r, as [Client.Middleware]
// does; for tests of handlers behind the middleware.
func NewContext(ctx context.Context, r Result) context.Context {
	return context.WithValue(ctx, contextKey{}, &r)
}

// Answers of the middleware, in the manner of RFC 6750 §3.
var (
	challengeNoToken      = []string{`Bearer realm="gatepass"`}
	challengeInvalidToken = []string{`Bearer realm="gatepass", error="invalid_token"`}
	challengeBadRequest   = []string{`Bearer realm="gatepass", error="invalid_request"`}

	bodyNoToken      = []byte(`{"error_description":"this request needs a gatepass token: Authorization: Bearer gpass_…"}` + "\n")
	bodyInvalidToken = []byte(`{"error":"invalid_token","error_description":"the token is not active"}` + "\n")
	bodyBadRequest   = []byte(`{"error":"invalid_request","error_description":"send one Authorization header"}` + "\n")
	bodyUnavailable  = []byte(`{"error":"temporarily_unavailable","error_description":"the token could not be checked; try again"}` + "\n")
)

// Middleware returns middleware that lets a request through only when its
// "Authorization: Bearer <token>" header carries a token active for scope:
// either "resource:level", which must match the grant exactly, or a bare
// "resource", which accepts a grant at any level of it (see [Result.Allows]).
// The handler behind it finds the result with [FromContext].
//
// Every refusal has a JSON body in the manner of RFC 6750 (an "error" code,
// but when no token was sent, and an "error_description"), "Cache-Control:
// no-store", and, but for 503, a WWW-Authenticate challenge (RFC 6750 §3):
//
//   - 401 `Bearer realm="gatepass"` when the request carries no bearer token;
//   - 401 `Bearer realm="gatepass", error="invalid_token"` when the token is
//     malformed, unknown, expired or revoked;
//   - 403 `…, error="insufficient_scope", scope="<scope>"` when the token is
//     active for something else;
//   - 400 `…, error="invalid_request"` when the request has several
//     Authorization headers;
//   - 503 {"error":"temporarily_unavailable"}, with "Retry-After: 1", when
//     gatepass could not be asked or refused the introspection key: the
//     middleware fails closed. [WithErrorHandler] hears why.
//
// Middleware panics if scope is empty or holds a space, '"', '\' or a
// character outside printable ASCII, as a scope never does.
func (c *Client) Middleware(scope string) func(http.Handler) http.Handler {
	if !validScope(scope) {
		panic(fmt.Sprintf("gatepass client: Middleware: invalid scope %q", scope))
	}
	insufficient := []string{`Bearer realm="gatepass", error="insufficient_scope", scope="` + scope + `"`}
	bodyInsufficient := []byte(`{"error":"insufficient_scope","error_description":"the token does not grant this scope","scope":"` + scope + `"}` + "\n")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values := r.Header["Authorization"]
			if len(values) > 1 {
				refuse(w, http.StatusBadRequest, challengeBadRequest, bodyBadRequest)
				return
			}
			token, ok := "", false
			if len(values) == 1 {
				token, ok = bearerToken(values[0])
			}
			if !ok {
				refuse(w, http.StatusUnauthorized, challengeNoToken, bodyNoToken)
				return
			}
			res, err := c.Introspect(r.Context(), token)
			switch {
			case err != nil:
				if c.onError != nil && r.Context().Err() == nil {
					c.onError(err)
				}
				w.Header()["Retry-After"] = []string{"1"}
				refuse(w, http.StatusServiceUnavailable, nil, bodyUnavailable)
			case !res.Active:
				refuse(w, http.StatusUnauthorized, challengeInvalidToken, bodyInvalidToken)
			case !res.Allows(scope):
				refuse(w, http.StatusForbidden, insufficient, bodyInsufficient)
			default:
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), contextKey{}, &res)))
			}
		})
	}
}

// refuse writes a refusal.
func refuse(w http.ResponseWriter, status int, challenge []string, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"no-store"}
	if challenge != nil {
		h["Www-Authenticate"] = challenge
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// bearerToken reads an Authorization value: the scheme Bearer, in any case,
// and a token. It reports false for another scheme or no token.
func bearerToken(value string) (string, bool) {
	scheme, token, _ := strings.Cut(value, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.Trim(token, " \t")
	return token, token != ""
}

// validScope reports whether scope is one RFC 6749 scope-token: printable
// ASCII but space, '"' and '\'.
func validScope(scope string) bool {
	if scope == "" {
		return false
	}
	for i := 0; i < len(scope); i++ {
		if c := scope[i]; c <= 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
