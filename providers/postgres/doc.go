// Package postgres is gatepass's "postgres" provider: each approved grant
// of a resource becomes a PostgreSQL login role of its own, with a random
// password, that ends when the grant ends.
//
// # Configuration
//
// A resource names the provider in the policy file:
//
//	resources:
//	  prod-db:
//	    provider:
//	      postgres:
//	        admin_dsn_env: PROD_DB_ADMIN_DSN
//	        connect: "postgres://{user}:{password}@db.internal:5432/app?sslmode=require"
//	    levels:
//	      read:  {max_duration: 4h, approvals: 1, roles: [app_read]}
//	      write: {max_duration: 1h, approvals: 2, roles: [app_read, app_write]}
//
// The environment variable named by admin_dsn_env holds the DSN of an admin
// role with CREATEROLE (or a superuser); the DSN never appears in the policy
// file, in errors or in logs (its password is redacted wherever the DSN is
// mentioned). connect is the URL the requester is sent, with {user} and
// {password} filled in; it may name a different host (a pooler, a load
// balancer) than the admin DSN, but the same cluster.
//
// # Lifecycle
//
// Grant creates the role gatepass_<the request UUID's 32 hex digits> (see
// [RoleName]):
//
//	CREATE ROLE gatepass_… WITH LOGIN INHERIT CONNECTION LIMIT 5
//	    PASSWORD '<SCRAM-SHA-256 verifier>' VALID UNTIL '<exp, UTC>'
//	    IN ROLE <the level's roles>
//	COMMENT ON ROLE gatepass_… IS '{"gatepass":"grant","request_id":…}'
//
// in one transaction, so a failed grant (a level role that does not exist,
// say) leaves nothing behind. The role inherits the level's roles, so its
// sessions have their privileges at once, without SET ROLE. The comment
// records the request, resource, level, requester and ticket for whoever
// lists the cluster's roles (\du+ in psql). Called again for the same grant
// (a retry after a crash), Grant resets the password, VALID UNTIL and the
// memberships of the existing role and ends the sessions opened with the
// previous password, so exactly one working credential exists.
//
// Extend moves VALID UNTIL to the grant's new end.
//
// Revoke, at the grant's expiry or on revocation:
//
//  1. ALTER ROLE … NOLOGIN, committed at once: from here on no session of
//     the role can start, so none can slip in while the rest happens;
//  2. pg_terminate_backend for every session of the role, waiting (about
//     1.5 s at most) until they are gone;
//  3. REASSIGN OWNED BY the role TO the admin role, then DROP OWNED BY it,
//     in every database where it owns objects or holds privileges: tables
//     someone created during an incident are kept, owned by the admin role;
//  4. DROP ROLE, then one more sweep for sessions of the dropped role's OID
//     that raced with the first.
//
// It takes tens of milliseconds with sessions open. A role that does not
// exist is not an error, so Revoke can be retried at will.
//
// Reconcile, at start, drops (as Revoke does) every role of this provider
// that belongs to none of the live grants: what a crash between "role
// created" and "grant recorded", or during a revoke, left behind. A role
// is this provider's only if all of these hold: its name is gatepass_
// followed by 32 lower-case hex digits that parse as a UUID (so a role a
// person named gatepass_admin is never touched), and its comment is a
// gatepass grant comment naming the same target (host, port and database
// of the connect URL) as this provider (so two resources on one cluster,
// with different connect URLs, never drop each other's roles). Callers
// should still pass every live grant they know of; more is always safe.
//
// # Security notes
//
//   - The password (32 base62 characters from crypto/rand, about 190 bits)
//     is shown once, in the requester's direct message, as part of the
//     connection URL. It appears in no error, log line or audit event, and
//     not even on the wire to the server: gatepass sends the server a
//     SCRAM-SHA-256 verifier computed on its side (as psql's \password
//     does), so the password cannot surface in the server's own log
//     (log_statement, or log_min_error_statement on a failing statement) or
//     in pg_stat_activity.
//   - VALID UNTIL is the grant's expiry: a second line of defence. Should
//     gatepass be down at the expiry, PostgreSQL itself refuses new logins
//     with the password from then on. VALID UNTIL is checked only at login,
//     though, which is why Revoke does the real work.
//   - Revoke terminates the role's open sessions: access ends at the
//     expiry, not whenever the requester disconnects. (Vault's database
//     secrets engine, by default, leaves open sessions running after the
//     lease ends.)
//   - CONNECTION LIMIT 5 bounds what one leaked credential can do to the
//     server's connection slots.
//   - A non-superuser admin role needs CREATEROLE (and, on PostgreSQL 16 or
//     later, ADMIN OPTION on the level roles it hands out). To terminate the
//     sessions of a gatepass role and reassign what it owns, such an admin
//     grants itself membership in that role just before revoking it; the
//     role is dropped moments later.
package postgres
