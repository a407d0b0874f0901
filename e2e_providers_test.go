package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatepass/gatepass/providers/postgres"
	"github.com/gatepass/gatepass/providers/webhook"
	"github.com/gatepass/gatepass/workflow"
)

// providerDB makes a database of its own for a provider test, with a table
// and two group roles, and removes all of it afterwards.
func providerDB(t *testing.T) (base, dbName, readRole, writeRole string) {
	t.Helper()
	base = os.Getenv("GATEPASS_TEST_POSTGRES")
	if base == "" {
		t.Skip("PostgreSQL provider test skipped: set GATEPASS_TEST_POSTGRES to a postgres:// URL to run it")
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	dbName = "gp_e2e_" + hex.EncodeToString(suffix)
	readRole, writeRole = dbName+"_read", dbName+"_write"
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{"CREATE DATABASE " + dbName, "CREATE ROLE " + readRole + " NOLOGIN", "CREATE ROLE " + writeRole + " NOLOGIN"} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db, err := sql.Open("pgx", withDB(base, dbName))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE invoices (id serial PRIMARY KEY, amount int)",
		"INSERT INTO invoices (amount) VALUES (42)",
		"GRANT SELECT ON invoices TO " + readRole,
		"GRANT INSERT, UPDATE ON invoices TO " + writeRole,
		"GRANT USAGE ON SEQUENCE invoices_id_seq TO " + writeRole,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", dbName)
		admin.Exec("DROP DATABASE IF EXISTS " + dbName)
		rows, _ := admin.Query("SELECT rolname FROM pg_roles WHERE pg_has_role(rolname, $1, 'MEMBER') AND rolname LIKE 'gatepass\\_%'", readRole)
		var orphans []string
		for rows != nil && rows.Next() {
			var r string
			rows.Scan(&r)
			orphans = append(orphans, r)
		}
		for _, r := range orphans {
			admin.Exec("DROP ROLE IF EXISTS " + r)
		}
		admin.Exec("DROP ROLE IF EXISTS " + readRole)
		admin.Exec("DROP ROLE IF EXISTS " + writeRole)
	})
	return base, dbName, readRole, writeRole
}

func withDB(dsn, db string) string {
	u, _ := url.Parse(dsn)
	u.Path = "/" + db
	return u.String()
}

func roleExists(t *testing.T, base, role string) bool {
	t.Helper()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM pg_roles WHERE rolname = $1", role).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

var connectRE = regexp.MustCompile("postgres://gatepass_[0-9a-f]{32}:[^@`\\s]+@[^`\\s]+")

// A postgres grant through serve: the DM carries a working login; the role
// can read but not write; at revocation its open session is terminated
// and the role is gone; at expiry likewise, within 2 s of exp; a role a
// crash left behind is dropped at the next start.
func TestPostgresProviderEndToEnd(t *testing.T) {
	base, dbName, readRole, writeRole := providerDB(t)
	policy := fmt.Sprintf(`
approver_channel: C0APPROVALS
announce_channel: C0ANNOUNCE
min_duration: 1s
introspection_keys:
  - name: payments-api
    key: "%s"
resources:
  app-db:
    approvers: [U0BOB, U0CAROL]
    provider:
      postgres:
        admin_dsn_env: APP_DB_ADMIN_DSN
        connect: "postgres://{user}:{password}@127.0.0.1:5432/%s?sslmode=disable"
    levels:
      read:  {max_duration: 1h, approvals: 1, roles: [%s]}
      write: {max_duration: 1h, approvals: 1, roles: [%s, %s]}
`, introKey, dbName, readRole, readRole, writeRole)
	h := newHarness(t, harnessOptions{policy: policy, env: map[string]string{"APP_DB_ADMIN_DSN": withDB(base, dbName)}})
	ctx := context.Background()

	id := h.request(alice, "app-db read 30m INC-700 look at invoices")
	h.approvalMessage(id)
	h.click(bob, approvals, id, "approve")
	tok := h.token(alice, id)
	var dm string
	for _, m := range h.slack.DM(alice) {
		if strings.Contains(m.Text, tok) {
			dm = m.Text
		}
	}
	connect := connectRE.FindString(dm)
	if connect == "" {
		t.Fatalf("no connection URL in the token DM:\n%s", dm)
	}
	if !strings.Contains(dm, "psql '") {
		t.Errorf("no ready psql line in the DM")
	}
	role := postgres.RoleName(id)
	for _, m := range append(h.slack.Messages(approvals), h.slack.Messages(announce)...) {
		if strings.Contains(m.Text, strings.Split(strings.Split(connect, ":")[2], "@")[0]) {
			t.Fatal("the password appeared in a channel")
		}
	}
	if strings.Contains(h.logs.String(), strings.Split(strings.Split(connect, ":")[2], "@")[0]) {
		t.Fatal("the password appeared in the logs")
	}
	conn, err := sql.Open("pgx", connect)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	var amount int
	if err := conn.QueryRowContext(ctx, "SELECT amount FROM invoices WHERE id = 1").Scan(&amount); err != nil || amount != 42 {
		t.Fatalf("read as the granted role: %d %v", amount, err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO invoices (amount) VALUES (1)"); err == nil {
		t.Fatal("a read grant could write")
	}
	// Revoking terminates the session that is open, and drops the role.
	h.command(alice, "revoke "+id)
	start := time.Now()
	h.waitFor("the role to be dropped", func() bool { return !roleExists(t, base, role) })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("role dropped %s after the revocation, want within 2 s", d)
	}
	if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&amount); err == nil {
		t.Fatal("the open session survived the revocation")
	}
	if c, err := sql.Open("pgx", connect); err == nil {
		if err := c.PingContext(ctx); err == nil {
			t.Fatal("a new login worked after the revocation")
		}
		c.Close()
	}

	// Expiry: the role is gone within 2 s of exp.
	id2 := h.request(alice, "app-db write 3s INC-701 quick fix")
	h.approvalMessage(id2)
	h.click(carol, approvals, id2, "approve")
	tok2 := h.token(alice, id2)
	exp := time.Unix(int64(h.introspect(tok2)["exp"].(float64)), 0)
	h.waitFor("the expired role to be dropped", func() bool { return !roleExists(t, base, postgres.RoleName(id2)) })
	if lag := time.Since(exp); lag > 2*time.Second {
		t.Errorf("role dropped %s after exp, want within 2 s", lag)
	} else {
		t.Logf("role dropped %s after exp", lag.Round(time.Millisecond))
	}

	// A role a crash left behind is cleaned up at the next start.
	p, err := postgres.New(workflow.PostgresConfig{AdminDSNEnv: "DSN", Connect: "postgres://{user}:{password}@127.0.0.1:5432/" + dbName}, func(string) string { return withDB(base, dbName) })
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	orphan := "00000000-0000-4000-8000-" + hex.EncodeToString([]byte{1, 2, 3, 4, 5, 6})
	if _, err := p.Grant(ctx, workflow.ProviderGrant{RequestID: orphan, Resource: "app-db", Level: "read", Roles: []string{readRole}, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h.restart()
	if roleExists(t, base, postgres.RoleName(orphan)) {
		t.Fatal("a role no grant owns survived a restart")
	}
}

// The http_proxy provider through serve: an active token of the resource
// with an allowed method goes through with the upstream's credentials;
// others get 401 or 403; a revoked token is refused at once; each
// forwarded request is a use.
func TestHTTPProxyProviderEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		fmt.Fprintf(w, `{"invoices":[1,2,3],"method":%q}`, r.Method)
	}))
	defer upstream.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	policy := fmt.Sprintf(`
approver_channel: C0APPROVALS
announce_channel: C0ANNOUNCE
min_duration: 1s
introspection_keys:
  - name: payments-api
    key: "%s"
resources:
  billing-api:
    approvers: [U0BOB]
    provider:
      http_proxy:
        listen: %s
        upstream: %s
        upstream_headers: {Authorization: "Bearer ${BILLING_KEY}"}
    levels:
      read:  {max_duration: 1h, methods: [GET, HEAD]}
      write: {max_duration: 1h, methods: [GET, POST]}
  prod-db:
    approvers: [U0BOB]
    levels:
      read: {max_duration: 1h}
`, introKey, listen, upstream.URL)
	h := newHarness(t, harnessOptions{policy: policy, env: map[string]string{"BILLING_KEY": "upstream-secret"}})
	call := func(method, token string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+listen+"/invoices", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("X-Gatepass-User", "U0FORGED")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := call("GET", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	id := h.request(alice, "billing-api read 30m INC-800 check invoices")
	h.approvalMessage(id)
	h.click(bob, approvals, id, "approve")
	tok := h.token(alice, id)
	if code, body := call("GET", tok); code != http.StatusOK || !strings.Contains(body, `"GET"`) {
		t.Fatalf("GET with the token: %d %s", code, body)
	}
	mu.Lock()
	hdr := seen[len(seen)-1]
	mu.Unlock()
	if hdr.Get("Authorization") != "Bearer upstream-secret" || hdr.Get("X-Gatepass-User") != alice || hdr.Get("X-Gatepass-Ticket") != "INC-800" || hdr.Get("X-Gatepass-Request") != id {
		t.Fatalf("upstream saw %v", hdr)
	}
	if code, _ := call("POST", tok); code != http.StatusForbidden {
		t.Fatalf("POST on a read level: %d", code)
	}
	other := h.request(alice, "prod-db read 30m INC-801 other")
	h.approvalMessage(other)
	h.click(bob, approvals, other, "approve")
	if code, _ := call("GET", h.token(alice, other)); code != http.StatusForbidden {
		t.Fatalf("another resource's token: %d", code)
	}
	h.command(alice, "revoke "+id)
	if code, _ := call("GET", tok); code != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", code)
	}
	h.waitFor("the revocation announcement with the proxy's use", func() bool {
		m, ok := h.message(announce, "INC-800")
		return ok && strings.Contains(m.Text, "used 1 time by proxy:billing-api")
	})
}

// The webhook provider through serve: a signed grant event (retried when
// the receiver fails first) and a signed revoke event.
func TestWebhookProviderEndToEnd(t *testing.T) {
	const secret = "webhook-secret-0123456789"
	var mu sync.Mutex
	var events []webhook.Event
	fail := 1
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify([]byte(secret), r.Header.Get("X-Gatepass-Timestamp"), r.Header.Get("X-Gatepass-Signature"), body, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if fail > 0 {
			fail--
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		var e webhook.Event
		json.Unmarshal(body, &e)
		events = append(events, e)
	}))
	defer receiver.Close()
	policy := fmt.Sprintf(`
approver_channel: C0APPROVALS
announce_channel: C0ANNOUNCE
min_duration: 1s
resources:
  vendor-portal:
    approvers: [U0BOB]
    provider:
      webhook: {url: "%s/gatepass", secret_env: VENDOR_SECRET}
    levels:
      read: {max_duration: 1h}
`, receiver.URL)
	h := newHarness(t, harnessOptions{policy: policy, env: map[string]string{"VENDOR_SECRET": secret}})
	id := h.request(alice, "vendor-portal read 10m INC-900 vendor question")
	h.approvalMessage(id)
	h.click(bob, approvals, id, "approve")
	h.token(alice, id) // the DM goes out after the grant event was accepted
	mu.Lock()
	if len(events) != 1 || events[0].Event != "grant" || events[0].RequestID != id || events[0].Sub != alice || events[0].Ticket != "INC-900" || events[0].Exp-events[0].Iat != 600 {
		t.Fatalf("grant events %+v", events)
	}
	mu.Unlock()
	h.command(alice, "revoke "+id)
	h.waitFor("the revoke event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == 2 && events[1].Event == "revoke" && events[1].RequestID == id
	})
}
