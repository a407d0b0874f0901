package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatepass/gatepass/workflow"
)

// connectionLimit is the CONNECTION LIMIT of every granted role: enough for
// psql and a GUI client side by side, too few to exhaust the server.
const connectionLimit = 5

// terminateWait bounds how long Revoke waits for terminated sessions to be
// gone before it goes on to drop the role.
const terminateWait = 1500 * time.Millisecond

// ErrNoRole is returned (wrapped) by Extend when the grant has no role: it
// was never made, or has been revoked.
var ErrNoRole = errors.New("no such role")

// Provider implements workflow.Provider for PostgreSQL: a login role per
// grant. Make one with New; it is safe for concurrent use, and several
// gatepass processes may share one server (each step takes a lock or is
// idempotent).
type Provider struct {
	pool    *pgxpool.Pool
	admin   *pgx.ConnConfig // for connections to other databases at revoke
	env     string          // name of the variable holding the admin DSN
	connect string          // the connect URL template
	target  string          // host:port/database of the connect URL
	secrets []string        // the admin DSN's password, to keep out of errors

	// Logger, when set, is told of roles Reconcile drops. It never gets a
	// password or a DSN.
	Logger *slog.Logger
}

var _ workflow.Provider = (*Provider)(nil)

// New returns the provider for cfg. The admin DSN is read with getenv (nil
// means os.Getenv) from the variable cfg.AdminDSNEnv names; it must be set
// and parse as a PostgreSQL DSN. cfg.Connect must be a postgres:// or
// postgresql:// URL holding {user} and {password}. New does not connect:
// Check does.
func New(cfg workflow.PostgresConfig, getenv func(string) string) (*Provider, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if strings.TrimSpace(cfg.AdminDSNEnv) == "" {
		return nil, errors.New("postgres provider: admin_dsn_env is empty: name the environment variable that holds the admin DSN")
	}
	dsn := strings.TrimSpace(getenv(cfg.AdminDSNEnv))
	if dsn == "" {
		return nil, fmt.Errorf("postgres provider: environment variable %s (admin_dsn_env) is not set: it must hold the DSN of a role with CREATEROLE", cfg.AdminDSNEnv)
	}
	secrets := dsnSecrets(dsn)
	target, err := checkConnect(cfg.Connect)
	if err != nil {
		return nil, fmt.Errorf("postgres provider: connect: %w", err)
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, scrub(fmt.Errorf("postgres provider: $%s does not hold a valid PostgreSQL DSN: %w", cfg.AdminDSNEnv, err), secrets)
	}
	if pw := pc.ConnConfig.Password; pw != "" {
		secrets = append(secrets, pw)
	}
	pc.MaxConns = 4
	pc.MinConns = 0
	pc.MaxConnIdleTime = 5 * time.Minute
	params := pc.ConnConfig.RuntimeParams
	setDefault(params, "application_name", "gatepass")
	// A revoke must not hang behind someone else's lock: it fails, and the
	// workflow retries it. NOLOGIN and the terminations come first anyway.
	setDefault(params, "lock_timeout", "3s")
	setDefault(params, "statement_timeout", "30s")
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, scrub(fmt.Errorf("postgres provider: admin DSN from $%s: %w", cfg.AdminDSNEnv, err), secrets)
	}
	return &Provider{
		pool:    pool,
		admin:   pc.ConnConfig.Copy(),
		env:     cfg.AdminDSNEnv,
		connect: cfg.Connect,
		target:  target,
		secrets: secrets,
	}, nil
}

func setDefault(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// checkConnect validates a connect URL template and returns its target,
// host:port/database.
func checkConnect(tmpl string) (string, error) {
	if tmpl == "" {
		return "", errors.New("is empty: give the URL the requester is sent, e.g. postgres://{user}:{password}@db.internal:5432/app")
	}
	// A literal password written in place of {password} stays out of the
	// error, which ends up in the log.
	shown := redact(tmpl, slices.DeleteFunc(dsnSecrets(tmpl), func(s string) bool { return strings.Contains(s, "{password}") }))
	scheme, _, ok := strings.Cut(tmpl, "://")
	if !ok || (!strings.EqualFold(scheme, "postgres") && !strings.EqualFold(scheme, "postgresql")) {
		return "", fmt.Errorf("%q is not a postgres:// or postgresql:// URL", shown)
	}
	for _, ph := range []string{"{user}", "{password}"} {
		if !strings.Contains(tmpl, ph) {
			return "", fmt.Errorf("%q does not contain %s", shown, ph)
		}
	}
	u, err := url.Parse(fillConnect(tmpl, "user", "password"))
	if err != nil {
		return "", fmt.Errorf("%q is not a valid URL once {user} and {password} are filled in", shown)
	}
	host := u.Host
	if host == "" {
		host = u.Query().Get("host")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		db = u.Query().Get("dbname")
	}
	return host + "/" + db, nil
}

// fillConnect fills {user} and {password} in a connect URL template,
// escaped for where they stand: as userinfo before the query string, as
// query values after it.
func fillConnect(tmpl, user, password string) string {
	head, query, hasQuery := strings.Cut(tmpl, "?")
	escUser := url.User(user).String()
	escPass := strings.TrimPrefix(url.UserPassword("", password).String(), ":")
	head = strings.NewReplacer("{user}", escUser, "{password}", escPass).Replace(head)
	if !hasQuery {
		return head
	}
	query = strings.NewReplacer("{user}", url.QueryEscape(user), "{password}", url.QueryEscape(password)).Replace(query)
	return head + "?" + query
}

// Describe says in one line, without secrets, what the provider does.
func (p *Provider) Describe() string {
	return fmt.Sprintf("postgres: a login role per grant on %s (admin DSN from $%s)", p.target, p.env)
}

// Close closes the provider's connections to the server.
func (p *Provider) Close() { p.pool.Close() }

// Check connects with the admin DSN and verifies that its role can create
// roles (CREATEROLE or superuser) on a server recent enough (PostgreSQL 10,
// for SCRAM verifiers). gatepass serve calls it at start.
func (p *Provider) Check(ctx context.Context) error {
	var (
		user              string
		super, createRole bool
		version           int
	)
	err := p.pool.QueryRow(ctx, `
		SELECT current_user, r.rolsuper, r.rolcreaterole, current_setting('server_version_num')::int
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&user, &super, &createRole, &version)
	if err != nil {
		return p.errorf("cannot use the admin DSN from $%s: %w", p.env, err)
	}
	if version < 100000 {
		return p.errorf("the server is PostgreSQL %d.%d; the provider needs 10 or later", version/10000, version%10000/100)
	}
	if !super && !createRole {
		return p.errorf("admin role %q (DSN from $%s) cannot create roles: it needs CREATEROLE (ALTER ROLE %s CREATEROLE) or superuser",
			user, p.env, pgx.Identifier{user}.Sanitize())
	}
	return nil
}

// errorf is fmt.Errorf with the provider's prefix and the admin DSN's
// password redacted.
func (p *Provider) errorf(format string, args ...any) error {
	return scrub(fmt.Errorf("postgres provider: "+format, args...), p.secrets)
}

// roleComment is the COMMENT ON ROLE of a granted role: who and what it is
// for, and the target Reconcile matches.
type roleComment struct {
	Gatepass   string `json:"gatepass"` // always "grant"
	RequestID  string `json:"request_id"`
	Resource   string `json:"resource"`
	Level      string `json:"level"`
	Requester  string `json:"requester"`
	Ticket     string `json:"ticket,omitempty"`
	BreakGlass bool   `json:"break_glass,omitempty"`
	Target     string `json:"target"`
}

// parseComment returns the target of a gatepass grant comment, and whether
// the comment is one.
func parseComment(s string) (target string, ok bool) {
	var c roleComment
	if json.Unmarshal([]byte(s), &c) != nil || c.Gatepass != "grant" {
		return "", false
	}
	return c.Target, true
}

// levelRoles checks and de-duplicates a level's roles.
func levelRoles(roles []string) ([]string, error) {
	var out []string
	for _, r := range roles {
		switch {
		case strings.TrimSpace(r) == "":
			return nil, errors.New("a level role is empty")
		case isGrantRoleName(strings.ToLower(r)):
			return nil, fmt.Errorf("level role %q is a gatepass grant role", r)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// validUntil is t as a VALID UNTIL literal: UTC, to the second.
func validUntil(t time.Time) string {
	return quoteLiteral(t.UTC().Truncate(time.Second).Format("2006-01-02 15:04:05Z"))
}

// lockKey is the advisory lock that serialises Grant calls for one role,
// whichever gatepass process makes them.
func lockKey(role string) int64 {
	h := fnv.New64a()
	h.Write([]byte("gatepass provider role " + role))
	return int64(h.Sum64())
}

// Grant creates the login role of g (see the package doc) and returns its
// connection URL. Called again for the same grant, it resets the existing
// role's password, VALID UNTIL and memberships and terminates the sessions
// opened with the previous password, so one working credential remains.
func (p *Provider) Grant(ctx context.Context, g workflow.ProviderGrant) (workflow.Credential, error) {
	role := RoleName(g.RequestID)
	if !g.ExpiresAt.After(time.Now()) {
		return workflow.Credential{}, p.errorf("grant %s: it already expired at %s", g.RequestID, g.ExpiresAt.UTC().Format(time.RFC3339))
	}
	roles, err := levelRoles(g.Roles)
	if err != nil {
		return workflow.Credential{}, p.errorf("grant %s: %w", g.RequestID, err)
	}
	password := newPassword()
	verifier, err := newScramVerifier(password)
	if err != nil {
		return workflow.Credential{}, p.errorf("grant %s: password verifier: %w", g.RequestID, err)
	}
	comment, _ := json.Marshal(roleComment{
		Gatepass: "grant", RequestID: g.RequestID, Resource: g.Resource, Level: g.Level,
		Requester: g.Requester, Ticket: g.Ticket, BreakGlass: g.BreakGlass, Target: p.target,
	})
	ident := pgx.Identifier{role}.Sanitize()
	attrs := fmt.Sprintf("LOGIN INHERIT CONNECTION LIMIT %d PASSWORD %s VALID UNTIL %s",
		connectionLimit, quoteLiteral(verifier), validUntil(g.ExpiresAt))

	var existed bool
	var oid uint32
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(role)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		err := tx.QueryRow(ctx, `SELECT oid FROM pg_roles WHERE rolname = $1`, role).Scan(&oid)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			stmt := "CREATE ROLE " + ident + " WITH " + attrs
			if len(roles) > 0 {
				stmt += " IN ROLE " + identList(roles)
			}
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("create role %s: %w", role, err)
			}
		case err != nil:
			return fmt.Errorf("look up role %s: %w", role, err)
		default:
			existed = true
			if _, err := tx.Exec(ctx, "ALTER ROLE "+ident+" WITH "+attrs); err != nil {
				return fmt.Errorf("reset role %s: %w", role, err)
			}
			if err := syncMemberships(ctx, tx, role, oid, roles); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "COMMENT ON ROLE "+ident+" IS "+quoteLiteral(string(comment))); err != nil {
			return fmt.Errorf("comment on role %s: %w", role, err)
		}
		return nil
	})
	if err != nil {
		return workflow.Credential{}, p.errorf("grant %s: %w", g.RequestID, err)
	}
	if existed {
		// Sessions opened with the previous password: that credential was
		// replaced, so its sessions end too.
		conn, err := p.pool.Acquire(ctx)
		if err != nil {
			return workflow.Credential{}, p.errorf("grant %s: %w", g.RequestID, err)
		}
		defer conn.Release()
		if err := endSessions(ctx, conn.Conn(), role, oid); err != nil {
			return workflow.Credential{}, p.errorf("grant %s: end the previous credential's sessions: %w", g.RequestID, err)
		}
	}
	secret := fillConnect(p.connect, role, password)
	return workflow.Credential{
		Label:  "Connection URL",
		Secret: secret,
		Hint:   "psql " + shellQuote(secret),
	}, nil
}

// identList quotes names as a comma-separated list of identifiers.
func identList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(q, ", ")
}

// syncMemberships makes role a member of exactly want.
func syncMemberships(ctx context.Context, tx pgx.Tx, role string, oid uint32, want []string) error {
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
		WHERE m.member = $1`, oid)
	if err != nil {
		return fmt.Errorf("memberships of %s: %w", role, err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("memberships of %s: %w", role, err)
	}
	ident := pgx.Identifier{role}.Sanitize()
	for _, h := range have {
		if !slices.Contains(want, h) {
			if _, err := tx.Exec(ctx, "REVOKE "+pgx.Identifier{h}.Sanitize()+" FROM "+ident); err != nil {
				return fmt.Errorf("revoke %s from %s: %w", h, role, err)
			}
		}
	}
	var add []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			add = append(add, w)
		}
	}
	if len(add) > 0 {
		if _, err := tx.Exec(ctx, "GRANT "+identList(add)+" TO "+ident); err != nil {
			return fmt.Errorf("grant %s to %s: %w", strings.Join(add, ", "), role, err)
		}
	}
	return nil
}

// Extend moves the role's VALID UNTIL to g.ExpiresAt. A grant without a
// role gets an error wrapping ErrNoRole.
func (p *Provider) Extend(ctx context.Context, g workflow.ProviderGrant) error {
	role := RoleName(g.RequestID)
	_, err := p.pool.Exec(ctx, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" VALID UNTIL "+validUntil(g.ExpiresAt))
	if isUndefinedRole(err) {
		return p.errorf("extend %s: role %s: %w", g.RequestID, role, ErrNoRole)
	}
	if err != nil {
		return p.errorf("extend %s: alter role %s: %w", g.RequestID, role, err)
	}
	return nil
}

// Revoke ends the role of g: NOLOGIN, its sessions terminated, what it
// owns reassigned to the admin role, its privileges dropped, the role
// dropped (see the package doc). A grant without a role is not an error.
func (p *Provider) Revoke(ctx context.Context, g workflow.ProviderGrant) error {
	if err := p.dropRole(ctx, RoleName(g.RequestID)); err != nil {
		return p.errorf("revoke %s: %w", g.RequestID, err)
	}
	return nil
}

// Reconcile drops, as Revoke does, every role of this provider that
// belongs to none of the live grants. A role is this provider's when its
// name has the exact shape RoleName gives and its comment is a gatepass
// grant comment for this provider's target; nothing else is touched. It
// goes on past a role it cannot drop and returns every failure.
func (p *Provider) Reconcile(ctx context.Context, live []workflow.ProviderGrant) error {
	keep := make(map[string]bool, len(live))
	for _, g := range live {
		keep[RoleName(g.RequestID)] = true
	}
	// '_' is a LIKE wildcard: escaped, with LIKE's default escape '\'.
	rows, err := p.pool.Query(ctx, `
		SELECT rolname, coalesce(shobj_description(oid, 'pg_authid'), '')
		FROM pg_roles WHERE rolname LIKE $1 ORDER BY rolname`, `gatepass\_%`)
	if err != nil {
		return p.errorf("reconcile: list roles: %w", err)
	}
	type found struct{ Name, Comment string }
	all, err := pgx.CollectRows(rows, pgx.RowToStructByPos[found])
	if err != nil {
		return p.errorf("reconcile: list roles: %w", err)
	}
	var errs []error
	for _, r := range all {
		if keep[r.Name] || !isGrantRoleName(r.Name) {
			continue
		}
		if target, ok := parseComment(r.Comment); !ok || target != p.target {
			continue
		}
		if err := p.dropRole(ctx, r.Name); err != nil {
			errs = append(errs, p.errorf("reconcile: %w", err))
			continue
		}
		if p.Logger != nil {
			p.Logger.Info("postgres provider: dropped a role that belongs to no live grant", "role", r.Name, "target", p.target)
		}
	}
	return errors.Join(errs...)
}

// dropRole is Revoke for one role name.
func (p *Provider) dropRole(ctx context.Context, role string) error {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	c := conn.Conn()

	var oid uint32
	err = c.QueryRow(ctx, `SELECT oid FROM pg_roles WHERE rolname = $1`, role).Scan(&oid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up role %s: %w", role, err)
	}
	ident := pgx.Identifier{role}.Sanitize()

	// 1. No new session, from the moment this commits.
	if _, err := c.Exec(ctx, "ALTER ROLE "+ident+" NOLOGIN"); err != nil {
		if isUndefinedRole(err) {
			return nil // revoked meanwhile by another process
		}
		return fmt.Errorf("alter role %s nologin: %w", role, err)
	}
	// 2. End every session.
	if err := endSessions(ctx, c, role, oid); err != nil {
		if isUndefinedRole(err) {
			return nil
		}
		return err
	}
	// 3. What it owns or was granted, in other databases first.
	rows, err := c.Query(ctx, `
		SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
		WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1
		  AND d.datname <> current_database() AND d.datallowconn
		ORDER BY 1`, oid)
	if err != nil {
		return fmt.Errorf("databases where %s owns objects: %w", role, err)
	}
	dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("databases where %s owns objects: %w", role, err)
	}
	for _, db := range dbs {
		if err := p.dropOwnedIn(ctx, db, ident); err != nil {
			return fmt.Errorf("reassign and drop what %s owns in database %s: %w", role, db, err)
		}
	}
	// 4. Here too, and the role itself, at once. A session that logged in
	// just before NOLOGIN committed and was not yet listed at step 2 is
	// signalled here, while the admin still holds the role's privileges.
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		for _, step := range []struct{ what, sql string }{
			{"reassign owned", "REASSIGN OWNED BY " + ident + " TO CURRENT_USER"},
			{"drop owned", "DROP OWNED BY " + ident},
			{"terminate late sessions", ""},
			{"drop role", "DROP ROLE " + ident},
		} {
			var err error
			if step.sql == "" {
				err = terminateSessions(ctx, tx, oid, 0)
			} else {
				_, err = tx.Exec(ctx, step.sql)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", step.what, err)
			}
		}
		return nil
	})
	if err != nil && !isUndefinedRole(err) {
		return fmt.Errorf("role %s: %w", role, err)
	}
	// 5. One last look, now that the role is gone. Only a superuser may
	// still signal a dropped role's sessions; for anyone else this is best
	// effort, and step 4 did the work.
	if err := terminateSessions(ctx, c, oid, terminateWait); err != nil && sqlState(err) != "42501" {
		return fmt.Errorf("terminate late sessions of %s: %w", role, err)
	}
	return nil
}

// dropOwnedIn runs REASSIGN OWNED and DROP OWNED for the role ident in
// database db, on a connection of its own.
func (p *Provider) dropOwnedIn(ctx context.Context, db, ident string) error {
	cfg := p.admin.Copy()
	cfg.Database = db
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "REASSIGN OWNED BY "+ident+" TO CURRENT_USER"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DROP OWNED BY "+ident)
		return err
	})
}

// endSessions terminates every session of role (whose OID is oid) and
// waits for them to be gone. A non-superuser admin first grants itself
// membership in role: PostgreSQL lets a role signal only the sessions of
// roles whose privileges it has (or with pg_signal_backend), and the same
// privileges let it reassign and drop what role owns.
func endSessions(ctx context.Context, c *pgx.Conn, role string, oid uint32) error {
	var super bool
	if err := c.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		return fmt.Errorf("admin role attributes: %w", err)
	}
	if !super {
		var member bool
		err := c.QueryRow(ctx, `SELECT pg_has_role(current_user, $1::oid, 'USAGE')`, oid).Scan(&member)
		if err != nil {
			return fmt.Errorf("admin role membership in %s: %w", role, err)
		}
		if !member {
			if _, err := c.Exec(ctx, "GRANT "+pgx.Identifier{role}.Sanitize()+" TO CURRENT_USER"); err != nil {
				return fmt.Errorf("grant %s to the admin role: %w", role, err)
			}
		}
	}
	if err := terminateSessions(ctx, c, oid, terminateWait); err != nil {
		return fmt.Errorf("terminate sessions of %s: %w", role, err)
	}
	return nil
}

// terminateSessions signals every session whose role has OID oid to end,
// then waits up to wait for them to be gone. pg_terminate_backend only
// sends the signal; the wait makes the end of Revoke mean the end of the
// sessions.
//
// Within a transaction, pg_stat_activity does not change, so callers in
// one pass wait 0 (signal only).
func terminateSessions(ctx context.Context, c querier, oid uint32, wait time.Duration) error {
	var n int
	err := c.QueryRow(ctx, `
		SELECT count(*) FROM (
			SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE usesysid = $1 AND pid <> pg_backend_pid()
		) t`, oid).Scan(&n)
	if err != nil || n == 0 {
		return err
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE usesysid = $1 AND pid <> pg_backend_pid()`, oid).Scan(&n)
		if err != nil || n == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil // still exiting: they can no longer log in, and will go
}

// querier is a connection or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// sqlState is err's SQLSTATE, or "" when err is not from the server.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// isUndefinedRole reports whether err is PostgreSQL's "role does not
// exist" (SQLSTATE 42704, undefined_object).
func isUndefinedRole(err error) bool {
	return sqlState(err) == "42704"
}
