package workflow

import (
	"context"
	"time"
)

// A Provider opens a real door for the grants of a resource: a database
// role, a place behind a proxy, a call to another system. The workflow
// decides; a provider only acts. Every method is idempotent and may be
// called again after a crash, a retry, or by another replica: the workflow
// calls them from its outbox, which delivers each action at least once.
//
// Adapters live in packages of their own (providers/postgres,
// providers/httpproxy, providers/webhook) and import workflow, never the
// reverse.
type Provider interface {
	// Grant creates access for g and returns what the requester must be
	// told to use it (shown once, in their direct message). Called again
	// for the same grant (a retry, or after a crash) it must leave one
	// working credential behind, which may replace the first.
	Grant(ctx context.Context, g ProviderGrant) (Credential, error)
	// Extend moves an existing credential's end to g.ExpiresAt.
	Extend(ctx context.Context, g ProviderGrant) error
	// Revoke ends access for g and removes everything Grant made. A grant
	// with nothing left to remove is not an error.
	Revoke(ctx context.Context, g ProviderGrant) error
	// Reconcile removes whatever a crash may have left behind: anything of
	// this provider's that belongs to none of the live grants.
	Reconcile(ctx context.Context, live []ProviderGrant) error
}

// ProviderGrant is what a provider is told about a grant.
type ProviderGrant struct {
	RequestID  string
	Resource   string
	Level      string
	Requester  string // Slack user ID
	Ticket     string
	BreakGlass bool
	IssuedAt   time.Time
	ExpiresAt  time.Time
	// Roles are the level's database roles (postgres), Methods the HTTP
	// methods it allows (http_proxy).
	Roles   []string
	Methods []string
}

// Credential is what a provider hands the requester. Its text is secret:
// it appears only in the requester's direct message.
type Credential struct {
	// Label names the credential in the message ("Connection URL").
	Label string
	// Secret is the credential itself (a URL with a password, …); empty
	// when the provider hands out nothing beyond the gatepass token.
	Secret string
	// Hint is a ready-to-run line that uses it (a psql command); it may
	// contain the secret.
	Hint string
}

// Provider kinds, as named under a resource's provider key in the policy.
const (
	ProviderPostgres  = "postgres"
	ProviderHTTPProxy = "http_proxy"
	ProviderWebhook   = "webhook"
)

// ProviderConfig is a resource's provider block. Exactly one of the
// kind-specific fields is set, as Kind says.
type ProviderConfig struct {
	Kind      string
	Postgres  *PostgresConfig
	HTTPProxy *HTTPProxyConfig
	Webhook   *WebhookConfig
}

// PostgresConfig: a login role per grant on a PostgreSQL server.
type PostgresConfig struct {
	// AdminDSNEnv names the environment variable holding the DSN of a role
	// with CREATEROLE; the DSN itself is never in the policy file.
	AdminDSNEnv string
	// Connect is what the requester is sent, with {user} and {password}
	// filled in (URL-escaped).
	Connect string
}

// HTTPProxyConfig: a reverse proxy that lets requests with an active token
// of this resource through to an upstream.
type HTTPProxyConfig struct {
	Listen   string // host:port to listen on
	Upstream string // http(s) URL
	// UpstreamHeaders replace the client's Authorization header; values
	// may name environment variables as ${VAR}, expanded at start.
	UpstreamHeaders map[string]string
}

// WebhookConfig: signed JSON grant and revoke events sent to a URL.
type WebhookConfig struct {
	URL       string
	SecretEnv string // environment variable holding the HMAC secret
}
