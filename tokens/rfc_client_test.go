package tokens_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rs"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/gatepass/gatepass/tokens"
)

// grants is a tokens.Lookup over fixed claims.
type grants map[string]tokens.Claims

func (g grants) LookupToken(ctx context.Context, token string) (tokens.Claims, bool, error) {
	c, ok := g[token]
	if ok {
		c.Ticket += " via " + tokens.ClientName(ctx)
	}
	return c, ok, nil
}

// TestRFC7662Client introspects with a third-party RFC 7662 client, the
// resource-server client of github.com/zitadel/oidc, which authenticates with
// HTTP Basic and form-urlencodes its client ID and secret first
// (RFC 6749 §2.3.1).
func TestRFC7662Client(t *testing.T) {
	// Both need form-urlencoding: a colon, spaces, '+', '%', '/', non-ASCII.
	const name, key = "payments:api eu", "s3cret key+/%é=="
	live, err := tokens.New()
	if err != nil {
		t.Fatal(err)
	}
	unknown, _ := tokens.New()
	iat := time.Unix(1_795_770_000, 0)
	lookup := grants{live: {Resource: "prod-db", Level: "read", Subject: "U0ALICE", Ticket: "INC-1", RequestID: "r1",
		IssuedAt: iat, ExpiresAt: iat.Add(30 * time.Minute), BreakGlass: true}}
	srv := httptest.NewServer(tokens.NewIntrospector(lookup, []tokens.Client{
		{Name: "ledger", KeySHA256: sha256.Sum256([]byte("another key"))},
		{Name: name, KeySHA256: sha256.Sum256([]byte(key))},
	}, nil))
	defer srv.Close()

	ctx := context.Background()
	resourceServer := func(t *testing.T, clientID, secret string) rs.ResourceServer {
		t.Helper()
		// Static endpoints: no discovery, so the issuer is never fetched.
		server, err := rs.NewResourceServerClientCredentials(ctx, srv.URL, clientID, secret,
			rs.WithStaticEndpoints(srv.URL+"/v1/token", srv.URL+"/v1/introspect"), rs.WithClient(srv.Client()))
		if err != nil {
			t.Fatal(err)
		}
		return server
	}

	t.Run("active", func(t *testing.T) {
		resp, err := rs.Introspect[*oidc.IntrospectionResponse](ctx, resourceServer(t, name, key), live)
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Active || resp.Subject != "U0ALICE" || !slices.Equal(resp.Scope, oidc.SpaceDelimitedArray{"prod-db:read"}) ||
			!resp.Expiration.AsTime().Equal(iat.Add(30*time.Minute)) || !resp.IssuedAt.AsTime().Equal(iat) || resp.TokenType != "Bearer" {
			t.Fatalf("introspection: %+v", resp)
		}
		for claim, want := range map[string]any{"resource": "prod-db", "level": "read", "ticket": "INC-1 via " + name, "request_id": "r1", "break_glass": true} {
			if got := resp.Claims[claim]; got != want {
				t.Errorf("claim %s = %v, want %v", claim, got, want)
			}
		}
	})
	t.Run("unknown", func(t *testing.T) {
		resp, err := rs.Introspect[*oidc.IntrospectionResponse](ctx, resourceServer(t, name, key), unknown)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Active || resp.Subject != "" || len(resp.Scope) != 0 {
			t.Fatalf("introspection of an unknown token: %+v", resp)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		_, err := rs.Introspect[*oidc.IntrospectionResponse](ctx, resourceServer(t, name, "another key"), live)
		var oidcErr *oidc.Error
		if !errors.As(err, &oidcErr) || oidcErr.ErrorType != oidc.InvalidClient {
			t.Fatalf("err = %v, want invalid_client", err)
		}
	})
}
