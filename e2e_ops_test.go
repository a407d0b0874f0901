package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatepass/gatepass/audit"
	"github.com/gatepass/gatepass/fakeslack"
	"github.com/gatepass/gatepass/workflow"
)

// End-to-end tests of CONTRACT.md's "Usage, audit and operations"
// section: use recording as Slack shows it, the audit chain and its
// export through the CLI binary on a real database, the admin commands,
// /metrics and JSON logs.

// opsPolicy has a second introspection key, so uses by two services can
// be told apart.
var opsPolicy = strings.Replace(testPolicy, "introspection_keys:\n",
	"introspection_keys:\n  - name: ledger\n    key: \"ledger-key-0123456789abcdefghij\"\n", 1)

const ledgerKey = "ledger-key-0123456789abcdefghij"

// hoIntrospectAs introspects token n times with key, as Bearer, and fails
// unless each answer is active.
func hoIntrospectAs(t *testing.T, h *harness, key, token string, n int) {
	t.Helper()
	for range n {
		status, body := h.introspectWith(key, token)
		if status != http.StatusOK || !strings.Contains(string(body), `"active":true`) {
			t.Fatalf("introspect: HTTP %d %s", status, body)
		}
	}
}

// "Every introspection answer for an active token is recorded as a use of
// that grant by that key's name … /access list shows each grant's uses
// and last use; the expiry and revocation announcements say how often and
// by which services the grant was used, or that it never was."
func TestOpsUseIsRecordedAndShown(t *testing.T) {
	h := newHarness(t, harnessOptions{policy: opsPolicy})
	used, tokUsed := hoApproved(h, alice, "prod-db read", "INC-601", "30m")
	unused, _ := hoApproved(h, alice, "billing read", "INC-602", "30m")
	expiring, tokExpiring := hoApproved(h, alice, "prod-db write", "INC-603", "9s")

	hoIntrospectAs(t, h, introKey, tokUsed, 7)
	for range 3 { // ledger authenticates with HTTP Basic
		status, out, _, err := hoIntrospect(http.DefaultClient, h.base, "Basic "+base64.StdEncoding.EncodeToString([]byte("ledger:"+ledgerKey)),
			"application/x-www-form-urlencoded", "token="+tokUsed)
		if err != nil || status != http.StatusOK || out["active"] != true {
			t.Fatalf("introspect with Basic: %d %v %v", status, out, err)
		}
	}
	hoIntrospectAs(t, h, introKey, tokExpiring, 2)
	// Answers that are not "active" are not uses.
	if status, _ := h.introspectWith("wrong-key", tokUsed); status != http.StatusUnauthorized {
		t.Fatalf("bad key: HTTP %d", status)
	}
	h.introspectWith(introKey, "gpass_0000000000000000000000000000000000")

	// After a flush (every 5 s), /access list shows the uses.
	var list string
	ok := hoWait(8*time.Second, func() bool {
		list = h.command(alice, "list").Text
		return strings.Contains(list, "used 10 times")
	})
	if !ok {
		t.Fatalf("/access list does not show 10 uses 8 s after them:\n%s", list)
	}
	line := hoLineWith(list, used)
	mustContain(t, "list line of the used grant", line, "used 10 times by payments-api, ledger", "last")
	mustContain(t, "list line of the unused grant", hoLineWith(list, unused), "never used")
	mustContain(t, "list line of the expiring grant", hoLineWith(list, expiring), "used 2 times by payments-api")

	// The revocation announcements say so.
	h.command(alice, "revoke "+used)
	h.command(alice, "revoke "+unused)
	var m fakeslack.Message
	h.waitFor("the revocation announcement of INC-601", func() bool {
		var ok bool
		m, ok = h.message(announce, "INC-601")
		return ok
	})
	mustContain(t, "revocation announcement", m.Text, "revoked", "used 10 times by payments-api, ledger")
	h.waitFor("the revocation announcement of INC-602", func() bool {
		var ok bool
		m, ok = h.message(announce, "INC-602")
		return ok
	})
	mustContain(t, "revocation announcement of an unused grant", m.Text, "revoked", "never used")
	if strings.Contains(m.Text, "used 1") {
		t.Errorf("an unused grant's announcement counts uses: %s", m.Text)
	}

	// And so do the expiry announcement and DM.
	h.waitFor("the expiry announcement of INC-603", func() bool {
		var ok bool
		m, ok = h.message(announce, "INC-603")
		return ok && strings.Contains(m.Text, "expired")
	})
	mustContain(t, "expiry announcement", m.Text, "used 2 times by payments-api")
	h.waitFor("the expiry DM of INC-603", func() bool { return len(hoDMsWith(h, alice, "expired")) > 0 })
	for _, dm := range hoDMsWith(h, alice, "INC-603") {
		if strings.Contains(dm.Text, "expired") {
			mustContain(t, "expiry DM", dm.Text, "used 2 times by payments-api")
		}
	}

	// The uses are in the audit trail, by the key's name.
	out, errOut, code := hoCLI(t, h, "", "audit", "export", "--ticket", "INC-601")
	if code != 0 {
		t.Fatalf("audit export: %d %s", code, errOut)
	}
	var total int
	for _, e := range hoJSONLines(t, "export", out) {
		if e["type"] == workflow.ActionUsed {
			if e["actor"] != "payments-api" && e["actor"] != "ledger" {
				t.Errorf("use event by %v", e["actor"])
			}
			var n int
			if _, err := fmt.Sscanf(fmt.Sprint(e["detail"]), "used %d time", &n); err == nil {
				total += n
			}
		}
	}
	if total != 10 {
		t.Errorf("the audit trail records %d uses of INC-601, want 10:\n%s", total, out)
	}
	var useEvents int
	for _, e := range hoJSONLines(t, "export", out) {
		if e["type"] == workflow.ActionUsed {
			useEvents++
		}
	}
	if useEvents > 2 {
		t.Errorf("10 uses by 2 services within seconds made %d audit events, want them aggregated (at most one per service)", useEvents)
	}
}

// The revocation announcement counts every use, also those made in the
// seconds before the revocation (not yet written by the 5 s flush): a
// grant used right before it was revoked was not "never used".
func TestOpsRevocationAnnouncementCountsRecentUse(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id, tok := hoApproved(h, alice, "prod-db read", "INC-611", "30m")
	hoIntrospectAs(t, h, introKey, tok, 4)
	h.command(alice, "revoke "+id)
	var m fakeslack.Message
	h.waitFor("the revocation announcement", func() bool {
		var ok bool
		m, ok = h.message(announce, "INC-611")
		return ok
	})
	mustContain(t, "revocation announcement of a grant used 4 times just before", m.Text, "used 4 times by payments-api")
}

// "A busy service must not … flood the database" and nothing is lost on
// SIGTERM: uses counted just before serve stops are written as it stops,
// and the admin commands see them.
func TestOpsUsesSurviveSIGTERM(t *testing.T) {
	h := newHarness(t, harnessOptions{policy: opsPolicy})
	id, tok := hoApproved(h, alice, "prod-db read", "INC-621", "30m")
	hoIntrospectAs(t, h, introKey, tok, 5)
	hoIntrospectAs(t, h, ledgerKey, tok, 1)
	h.stop() // as SIGTERM does, right after the uses
	out, errOut, code := hoCLI(t, h, "", "grants", "--json")
	if code != 0 {
		t.Fatalf("gatepass grants --json: %d %s", code, errOut)
	}
	var found bool
	for _, g := range hoJSONLines(t, "grants --json", out) {
		if g["request_id"] == id {
			found = true
			if g["uses"] != "used 6 times by payments-api, ledger" {
				t.Errorf("uses after SIGTERM = %v, want \"used 6 times by payments-api, ledger\"", g["uses"])
			}
		}
	}
	if !found {
		t.Fatalf("grant %s not listed:\n%s", id, out)
	}
}

// `gatepass audit verify` on a real database: exit 0 when the chain
// holds; exit 1 naming the first bad event when an event was edited,
// deleted, inserted or reordered (tampered with through database/sql
// after dropping the append-only triggers).
func TestOpsAuditVerifyFindsTampering(t *testing.T) {
	binary(t)
	h := newHarness(t, harnessOptions{})
	id, _ := hoApproved(h, alice, "prod-db read", "INC-701", "30m")
	h.command(alice, "revoke "+id)
	hoBreakGlass(h, alice, "prod-db read", "INC-702")
	h.waitFor("the revocation announcement", func() bool { _, ok := h.message(announce, "INC-701"); return ok })
	h.stop()
	dbPath := h.env["GATEPASS_DB"]

	out, errOut, code := hoCLI(t, h, "", "audit", "verify")
	if code != 0 {
		t.Fatalf("audit verify on an untouched database: exit %d\n%s%s", code, out, errOut)
	}
	tip := hoAuditTip(t, dbPath)
	if tip < 6 {
		t.Fatalf("only %d audit events", tip)
	}
	mustContain(t, "verify output", out, strconv.FormatInt(tip, 10))

	// The triggers stand in the way of a casual edit.
	db := hoOpenSQLite(t, dbPath)
	if _, err := db.Exec(`UPDATE audit_events SET actor = 'U0MALLORY' WHERE seq = 2`); err == nil {
		t.Error("an audit event could be edited while the triggers are in place")
	}
	db.Close()

	pristine, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		tamper func(db *sql.DB) error
		names  int64 // the event verify must name
	}{
		{"edited", func(db *sql.DB) error {
			_, err := db.Exec(`UPDATE audit_events SET actor = 'U0MALLORY' WHERE seq = 3`)
			return err
		}, 3},
		{"edited detail only", func(db *sql.DB) error {
			_, err := db.Exec(`UPDATE audit_events SET detail = detail || ' ' WHERE seq = ?`, tip-1)
			return err
		}, tip - 1},
		{"deleted", func(db *sql.DB) error {
			_, err := db.Exec(`DELETE FROM audit_events WHERE seq = 4`)
			return err
		}, 4},
		{"deleted last", func(db *sql.DB) error {
			_, err := db.Exec(`DELETE FROM audit_events WHERE seq = ?`, tip)
			return err
		}, tip},
		{"reordered", func(db *sql.DB) error { // events 2 and 3 change places
			for _, q := range []string{
				`UPDATE audit_events SET seq = -2 WHERE seq = 2`,
				`UPDATE audit_events SET seq = 2 WHERE seq = 3`,
				`UPDATE audit_events SET seq = 3 WHERE seq = -2`,
			} {
				if _, err := db.Exec(q); err != nil {
					return err
				}
			}
			return nil
		}, 2},
		{"inserted at the end, hashed properly", func(db *sql.DB) error {
			var prev string
			if err := db.QueryRow(`SELECT hash FROM audit_events WHERE seq = ?`, tip).Scan(&prev); err != nil {
				return err
			}
			e := audit.Event{Seq: tip + 1, Time: time.Now().UTC().Truncate(time.Microsecond), RequestID: id, Type: workflow.ActionApproved,
				Actor: "U0MALLORY", Resource: "prod-db", Level: "read", Ticket: "INC-701", Detail: "", PrevHash: prev}
			e.Hash = audit.HashOf(&e)
			_, err := db.Exec(`INSERT INTO audit_events (seq, at, request_id, action, actor, resource, level, ticket, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
				e.Seq, e.Time, e.RequestID, e.Type, e.Actor, e.Resource, e.Level, e.Ticket, e.Detail, e.PrevHash, e.Hash)
			return err
		}, tip + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(dbPath, pristine, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, suffix := range []string{"-wal", "-shm"} {
				_ = os.Remove(dbPath + suffix)
			}
			db := hoOpenSQLite(t, dbPath)
			for _, trig := range []string{"audit_events_no_update", "audit_events_no_delete"} {
				if _, err := db.Exec(`DROP TRIGGER IF EXISTS ` + trig); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.tamper(db); err != nil {
				t.Fatalf("tamper: %v", err)
			}
			db.Close()
			out, errOut, code := hoCLI(t, h, "", "audit", "verify")
			if code != 1 {
				t.Fatalf("audit verify after an event was %s: exit %d, want 1\n%s%s", c.name, code, out, errOut)
			}
			msg := out + errOut
			if !regexp.MustCompile(`\bevent ` + strconv.FormatInt(c.names, 10) + `\b`).MatchString(msg) {
				t.Errorf("audit verify does not name event %d:\n%s", c.names, msg)
			}
		})
	}
}

// `gatepass audit export`: JSON Lines with the contract's fields, in chain
// order, and the --since, --until, --ticket and --resource filters;
// --format csv too.
func TestOpsAuditExport(t *testing.T) {
	binary(t)
	h := newHarness(t, harnessOptions{})
	a, _ := hoApproved(h, alice, "prod-db read", "INC-801", "30m")
	time.Sleep(1100 * time.Millisecond)
	mid := time.Now().UTC()
	time.Sleep(1100 * time.Millisecond)
	b := h.request(alice, "billing read 30m INC-802 invoices")
	h.approvalMessage(b)
	h.click(bob, approvals, b, "approve")
	h.token(alice, b)
	h.command(alice, "revoke "+a)

	out, errOut, code := hoCLI(t, h, "", "audit", "export")
	if code != 0 {
		t.Fatalf("audit export: %d %s", code, errOut)
	}
	all := hoJSONLines(t, "export", out)
	if len(all) < 8 {
		t.Fatalf("only %d events exported:\n%s", len(all), out)
	}
	fields := []string{"seq", "time", "request_id", "type", "actor", "resource", "level", "ticket", "hash", "prev_hash"}
	prevHash := audit.Genesis
	var lastSeq float64
	for i, e := range all {
		for _, f := range fields {
			if _, ok := e[f]; !ok {
				t.Errorf("event %d lacks %q: %v", i, f, e)
			}
		}
		seq, _ := e["seq"].(float64)
		if seq != lastSeq+1 {
			t.Errorf("event %d has seq %v after %v", i, e["seq"], lastSeq)
		}
		lastSeq = seq
		if _, err := time.Parse(time.RFC3339, fmt.Sprint(e["time"])); err != nil {
			t.Errorf("event %d time %v is not RFC 3339", i, e["time"])
		}
		if e["prev_hash"] != prevHash {
			t.Errorf("event %d prev_hash %v, want the hash before it %s", i, e["prev_hash"], prevHash)
		}
		prevHash = fmt.Sprint(e["hash"])
		if e["type"] == "" || e["actor"] == "" {
			t.Errorf("event %d has no type or actor: %v", i, e)
		}
		// Every event of a request names its ticket, resource and level, so
		// the filters find everything tied to an incident.
		switch e["request_id"] {
		case a:
			if e["ticket"] != "INC-801" || e["resource"] != "prod-db" || e["level"] != "read" {
				t.Errorf("event %v (%v) of INC-801's request lacks its ticket, resource or level: %v", e["seq"], e["type"], e)
			}
		case b:
			if e["ticket"] != "INC-802" || e["resource"] != "billing" || e["level"] != "read" {
				t.Errorf("event %v (%v) of INC-802's request lacks its ticket, resource or level: %v", e["seq"], e["type"], e)
			}
		}
	}
	tokens := tokenRE.FindAllString(out, -1)
	if len(tokens) > 0 {
		t.Errorf("a token appears in the audit export")
	}

	check := func(what string, args []string, keep func(e map[string]any) bool) {
		t.Helper()
		out, errOut, code := hoCLI(t, h, "", append([]string{"audit", "export"}, args...)...)
		if code != 0 {
			t.Fatalf("audit export %v: %d %s", args, code, errOut)
		}
		got := hoJSONLines(t, what, out)
		var want []float64
		for _, e := range all {
			if keep(e) {
				want = append(want, e["seq"].(float64))
			}
		}
		var gotSeqs []float64
		for _, e := range got {
			gotSeqs = append(gotSeqs, e["seq"].(float64))
		}
		if len(want) == 0 {
			t.Fatalf("%s: the test selects nothing", what)
		}
		if fmt.Sprint(gotSeqs) != fmt.Sprint(want) {
			t.Errorf("%s: exported seqs %v, want %v", what, gotSeqs, want)
		}
	}
	at := func(e map[string]any) time.Time {
		tm, _ := time.Parse(time.RFC3339, fmt.Sprint(e["time"]))
		return tm
	}
	check("--ticket", []string{"--ticket", "INC-801"}, func(e map[string]any) bool { return e["ticket"] == "INC-801" })
	check("--resource", []string{"--resource", "billing"}, func(e map[string]any) bool { return e["resource"] == "billing" })
	check("--since", []string{"--since", mid.Format(time.RFC3339Nano)}, func(e map[string]any) bool { return !at(e).Before(mid) })
	check("--until", []string{"--until", mid.Format(time.RFC3339Nano)}, func(e map[string]any) bool { return at(e).Before(mid) })
	check("--since and --resource", []string{"--since", mid.Format(time.RFC3339), "--resource", "prod-db"}, func(e map[string]any) bool {
		return !at(e).Before(mid.Truncate(time.Second)) && e["resource"] == "prod-db"
	})

	csvOut, errOut, code := hoCLI(t, h, "", "audit", "export", "--format", "csv")
	if code != 0 {
		t.Fatalf("audit export --format csv: %d %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	if len(rows) != len(all)+1 {
		t.Errorf("csv has %d rows, want a header and %d events", len(rows), len(all))
	}
	if len(rows) > 0 {
		for _, f := range fields {
			if !strings.Contains(strings.Join(rows[0], ","), f) {
				t.Errorf("csv header %v lacks %s", rows[0], f)
			}
		}
	}

	if _, errOut, code := hoCLI(t, h, "", "audit", "export", "--since", "yesterday"); code == 0 {
		t.Errorf("audit export --since yesterday succeeded")
	} else {
		mustContain(t, "bad --since", errOut, "--since")
	}
}

// `gatepass grants` lists live grants (not pending, revoked or expired
// ones), as a table and as JSON, without any token.
func TestOpsGrantsCommand(t *testing.T) {
	binary(t)
	h := newHarness(t, harnessOptions{})
	out, _, code := hoCLI(t, h, "", "grants")
	if code != 0 || !strings.Contains(out, "No live grants") {
		t.Errorf("gatepass grants on an empty database: %d %q", code, out)
	}
	live, tok := hoApproved(h, alice, "prod-db read", "INC-901", "30m")
	bg, bgTok := hoBreakGlass(h, mallory, "prod-db write", "INC-902")
	revoked, _ := hoApproved(h, alice, "billing read", "INC-903", "30m")
	h.command(alice, "revoke "+revoked)
	pending := h.request(alice, "prod-db write 30m INC-904 pending")
	expired, _ := hoApproved(h, carol, "prod-db read", "INC-905", "2s")
	h.waitFor("the 2 s grant to expire", func() bool { _, ok := h.message(announce, "INC-905"); return ok })

	out, errOut, code := hoCLI(t, h, "", "grants")
	if code != 0 {
		t.Fatalf("gatepass grants: %d %s", code, errOut)
	}
	mustContain(t, "gatepass grants", out, live, bg, "INC-901", "INC-902", "prod-db:read", alice, "break-glass")
	for _, gone := range []string{revoked, pending, expired} {
		if strings.Contains(out, gone) {
			t.Errorf("gatepass grants lists %s, which is not live:\n%s", gone, out)
		}
	}
	for _, s := range []string{tok, bgTok} {
		if strings.Contains(out+errOut, s) {
			t.Error("gatepass grants prints a token")
		}
	}

	out, _, code = hoCLI(t, h, "", "grants", "--json")
	if code != 0 {
		t.Fatalf("gatepass grants --json: %d", code)
	}
	gs := hoJSONLines(t, "grants --json", out)
	if len(gs) != 2 {
		t.Fatalf("gatepass grants --json: %d grants, want 2:\n%s", len(gs), out)
	}
	for _, g := range gs {
		for _, f := range []string{"request_id", "sub", "resource", "level", "ticket", "exp", "iat", "break_glass", "uses"} {
			if _, ok := g[f]; !ok {
				t.Errorf("grant %v lacks %s", g["request_id"], f)
			}
		}
		if g["request_id"] == bg && g["break_glass"] != true {
			t.Errorf("break-glass grant not marked: %v", g)
		}
	}
}

// `gatepass token inspect` reads the token on stdin and prints what
// introspection would answer, never the token.
func TestOpsTokenInspect(t *testing.T) {
	binary(t)
	h := newHarness(t, harnessOptions{})
	id, tok := hoApproved(h, alice, "prod-db read", "INC-951", "30m")
	want := h.introspect(tok)

	out, errOut, code := hoCLI(t, h, tok+"\n", "token", "inspect")
	if code != 0 {
		t.Fatalf("token inspect: %d %s", code, errOut)
	}
	if strings.Contains(out+errOut, tok) || strings.Contains(out+errOut, tok[6:]) {
		t.Errorf("token inspect echoes the token:\n%s%s", out, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("token inspect output is not JSON: %q", out)
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("token inspect %s = %v, introspection says %v", k, got[k], v)
		}
	}

	// A look-alike (bad checksum) and an unknown token.
	lookalike := tok[:len(tok)-1] + string("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[(strings.IndexByte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", tok[len(tok)-1])+1)%62])
	for _, s := range []string{lookalike, "gpass_notatoken"} {
		out, errOut, code := hoCLI(t, h, s, "token", "inspect")
		if strings.TrimSpace(out) != `{"active":false}` {
			t.Errorf("token inspect of a bad token: exit %d %q", code, out)
		}
		if strings.Contains(out+errOut, s) {
			t.Errorf("token inspect echoes what it was given:\n%s%s", out, errOut)
		}
	}

	// Once revoked, inactive.
	h.command(alice, "revoke "+id)
	out, _, _ = hoCLI(t, h, tok, "token", "inspect")
	if strings.TrimSpace(out) != `{"active":false}` {
		t.Errorf("token inspect of a revoked token: %q", out)
	}

	// A token on the command line is refused, and not echoed.
	out, errOut, code = hoCLI(t, h, "", "token", "inspect", tok)
	if code == 0 {
		t.Errorf("token inspect took the token from the command line")
	}
	if strings.Contains(out+errOut, tok) {
		t.Errorf("token inspect echoes a token given on the command line")
	}
}

// hoMetrics scrapes /metrics into "name{labels}" → value.
func hoMetrics(t *testing.T, base string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") && !strings.Contains(ct, "openmetrics") {
		t.Errorf("/metrics Content-Type %q", ct)
	}
	data, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			continue
		}
		out[l[:i]] = v
	}
	return out, string(data)
}

// "GET /metrics in the Prometheus text format, with at least
// gatepass_requests_total, gatepass_grants_active,
// gatepass_introspections_total (labelled by result),
// gatepass_expiries_total and gatepass_slack_errors_total."
func TestOpsMetricsCount(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	m0, _ := hoMetrics(t, h.base)

	_, tok := hoApproved(h, alice, "prod-db read", "INC-1001", "30m")
	bgID, _ := hoBreakGlass(h, mallory, "prod-db read", "INC-1002")
	shortID := h.request(alice, "prod-db write 2s INC-1003 short")
	h.command(alice, "prod-db read 30m not-a-ticket")            // refused
	h.command(alice, "prod-db write 30m INC-1004 stays pending") // pending
	h.command(mallory, "revoke "+bgID)

	// Introspections, by result.
	mA, _ := hoMetrics(t, h.base)
	for range 3 {
		h.introspect(tok)
	}
	h.introspect("gpass_0000000000000000000000000000000000")
	h.introspect("not even a token")
	h.introspectWith("wrong", tok)
	hoIntrospect(http.DefaultClient, h.base, "Bearer "+introKey, "application/x-www-form-urlencoded", "nothing=here")
	mB, text := hoMetrics(t, h.base)
	for _, c := range []struct {
		result string
		want   float64
	}{{"active", 3}, {"inactive", 2}, {"unauthorized", 1}, {"bad_request", 1}, {"error", 0}} {
		k := `gatepass_introspections_total{result="` + c.result + `"}`
		if got := mB[k] - mA[k]; got != c.want {
			t.Errorf("%s grew by %v, want %v", k, got, c.want)
		}
	}
	if got := mB["gatepass_grants_active"]; got != 1 {
		t.Errorf("gatepass_grants_active = %v with one live grant:\n%s", got, hoGrep(text, "gatepass_grants_active"))
	}
	var requests float64
	for k, v := range mB {
		if strings.HasPrefix(k, "gatepass_requests_total") {
			requests += v - m0[k]
		}
	}
	if requests < 5 {
		t.Errorf("gatepass_requests_total grew by %v for 5 requests made:\n%s", requests, hoGrep(text, "gatepass_requests_total"))
	}
	if mB[`gatepass_requests_total{outcome="break_glass"}`]-m0[`gatepass_requests_total{outcome="break_glass"}`] != 1 {
		t.Errorf("break-glass not counted in gatepass_requests_total:\n%s", hoGrep(text, "gatepass_requests_total"))
	}

	// An expiry; a Slack error.
	h.approvalMessage(shortID)
	h.click(bob, approvals, shortID, "approve")
	h.click(carol, approvals, shortID, "approve")
	h.token(alice, shortID)
	h.slack.FailNext("chat.postMessage", 1, http.StatusTooManyRequests, time.Second)
	h.command(mallory, "billing read 30m INC-1005 while rate limited")
	var m map[string]float64
	ok := hoWait(6*time.Second, func() bool {
		m, text = hoMetrics(t, h.base)
		return m["gatepass_expiries_total"]-m0["gatepass_expiries_total"] >= 1 && m[`gatepass_slack_errors_total{method="chat.postMessage"}`] >= 1
	})
	if !ok {
		t.Errorf("expiry or Slack error not counted within 6 s:\n%s", hoGrep(text, "gatepass_"))
	}
	if got := m["gatepass_expiries_total"] - m0["gatepass_expiries_total"]; got != 1 {
		t.Errorf("gatepass_expiries_total grew by %v for one expiry", got)
	}
	if got := m["gatepass_grants_active"]; got != 1 {
		t.Errorf("gatepass_grants_active = %v after the short grant expired, want 1", got)
	}
	for k := range m {
		if idRE.MatchString(k) || tokenRE.MatchString(k) || strings.Contains(k, alice) {
			t.Errorf("a metric label carries an unbounded value: %s", k)
		}
	}
}

// The metrics the contract names exist from the first scrape, so
// dashboards and alerts see zeros, not absent series.
func TestOpsMetricsExistFromTheStart(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	_, text := hoMetrics(t, h.base)
	for _, name := range []string{"gatepass_requests_total", "gatepass_grants_active", "gatepass_introspections_total",
		"gatepass_expiries_total", "gatepass_slack_errors_total"} {
		if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).MatchString(text) {
			t.Errorf("a fresh serve's /metrics has no %s series", name)
		}
	}
	if !strings.Contains(text, `gatepass_introspections_total{result="active"}`) {
		t.Errorf("gatepass_introspections_total is not labelled by result")
	}
}

// "GATEPASS_LOG_FORMAT=json writes one JSON object per line"; no token,
// password or Slack secret reaches a log line, even at debug level.
func TestOpsJSONLogsHoldNoSecrets(t *testing.T) {
	h, gate := hoNewHarness(t, hoOptions{noStart: true, env: map[string]string{
		"GATEPASS_LOG_FORMAT": "json", "GATEPASS_LOG_LEVEL": "debug",
	}})
	p := h.startProcess(t)
	h.waitFor("health", func() bool { return h.health() == http.StatusOK })
	var toks []string
	id, tok := hoApproved(h, alice, "prod-db read", "INC-1101", "30m")
	toks = append(toks, tok)
	bg, bgTok := hoBreakGlass(h, mallory, "prod-db read", "INC-1102")
	toks = append(toks, bgTok)
	h.introspect(tok)
	h.introspectWith("Bearer-ish "+introKey[:10], tok)
	h.introspect(tok + "x")
	// A token DM whose answer is lost: retried with the same token.
	gate.set(hoSlackDMLost)
	lost := h.request(alice, "billing read 30m INC-1103 lost answer")
	h.approvalMessage(lost)
	h.click(bob, approvals, lost, "approve")
	toks = append(toks, h.token(alice, lost))
	time.Sleep(1500 * time.Millisecond)
	gate.set(hoSlackUp)
	h.command(alice, "revoke "+id)
	hoCLI(t, h, "", "revoke", bg, "--reason", "done")
	hoCLI(t, h, tok+"\n", "token", "inspect")
	h.waitFor("the announcement", func() bool { _, ok := h.message(announce, "INC-1102"); return ok })

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
	logs := p.logs.String()
	lines := hoJSONLines(t, "serve's JSON log", logs)
	if len(lines) < 5 {
		t.Fatalf("only %d log lines at debug level:\n%s", len(lines), logs)
	}
	for _, l := range lines {
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := l[k]; !ok {
				t.Errorf("log line without %q: %v", k, l)
			}
		}
	}
	secrets := append([]string{testBotToken, testSecret, introKey}, toks...)
	for _, tk := range toks {
		secrets = append(secrets, tk[6:]) // the random part alone
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a secret (%.10s…) appears in the logs", s)
		}
	}
	if m := regexp.MustCompile(`gpass_[0-9A-Za-z]{20,}`).FindString(logs); m != "" {
		t.Errorf("something token-shaped appears in the logs: %.12s…", m)
	}
	t.Logf("%d JSON log lines", len(lines))
}

// With GATEPASS_LOG_FORMAT=json even the message serve stops with is one
// JSON object per line (log shippers parse every line of stderr).
func TestOpsJSONLogsOnFatalExit(t *testing.T) {
	h, _ := hoNewHarness(t, hoOptions{noStart: true, env: map[string]string{"GATEPASS_LOG_FORMAT": "json"}})
	h.env["SLACK_BOT_TOKEN"] = "xoxb-revoked-token"
	code, logs, _ := hoRunToExit(t, h, 15*time.Second)
	if code == 0 || code == -1 {
		t.Fatalf("exit %d", code)
	}
	hoJSONLines(t, "stderr of serve stopping on invalid_auth with GATEPASS_LOG_FORMAT=json", logs)
}

// No database password reaches the output when PostgreSQL cannot be
// reached: serve's log and the admin commands' errors name GATEPASS_DB
// without its password.
func TestOpsNoDatabasePasswordInOutput(t *testing.T) {
	const pw = "hunter2-db-password"
	h, _ := hoNewHarness(t, hoOptions{noStart: true, env: map[string]string{"GATEPASS_LOG_FORMAT": "json", "GATEPASS_LOG_LEVEL": "debug"}})
	h.env["GATEPASS_DB"] = "postgres://gatepass:" + pw + "@127.0.0.1:1/gatepass?sslmode=disable&connect_timeout=2"
	code, logs, _ := hoRunToExit(t, h, 20*time.Second)
	if code == 0 || code == -1 {
		t.Fatalf("serve with an unreachable database: exit %d\n%s", code, logs)
	}
	mustContain(t, "serve's message", logs, "GATEPASS_DB")
	if strings.Contains(logs, pw) {
		t.Errorf("serve printed the database password:\n%s", logs)
	}
	for _, args := range [][]string{{"grants"}, {"revoke", "0c1f2e3d-0000-4000-8000-000000000001", "--reason", "x"}, {"audit", "verify"}, {"audit", "export"}} {
		out, errOut, code := hoCLI(t, h, "", args...)
		if code == 0 {
			t.Errorf("gatepass %v with an unreachable database succeeded", args)
		}
		if strings.Contains(out+errOut, pw) {
			t.Errorf("gatepass %v printed the database password:\n%s%s", args, out, errOut)
		}
	}
}

// `gatepass revoke` refuses what it cannot do, with a non-zero exit: no
// reason, an unknown request, a request that already ended.
func TestOpsRevokeCommandRefusals(t *testing.T) {
	binary(t)
	h := newHarness(t, harnessOptions{})
	id, tok := hoApproved(h, alice, "prod-db read", "INC-1201", "30m")
	if _, errOut, code := hoCLI(t, h, "", "revoke", id); code == 0 {
		t.Errorf("gatepass revoke without --reason succeeded")
	} else {
		mustContain(t, "revoke without a reason", errOut, "--reason")
	}
	if _, _, code := hoCLI(t, h, "", "revoke", "0c1f2e3d-0000-4000-8000-00000000dead", "--reason", "x"); code == 0 {
		t.Errorf("gatepass revoke of an unknown request succeeded")
	}
	if !active(h.introspect(tok)) {
		t.Fatal("a refused revoke ended the grant")
	}
	if out, errOut, code := hoCLI(t, h, "", "revoke", "--reason", "flags first", id); code != 0 {
		t.Fatalf("gatepass revoke --reason R ID: %d %s%s", code, out, errOut)
	}
	if _, _, code := hoCLI(t, h, "", "revoke", id, "--reason", "again"); code == 0 {
		t.Errorf("revoking an ended grant again succeeded")
	}
	h.waitFor("one announcement", func() bool { _, ok := h.message(announce, "INC-1201"); return ok })
	time.Sleep(1500 * time.Millisecond)
	if n := len(hoMessagesWith(h, announce, "INC-1201")); n != 1 {
		t.Errorf("%d announcements of one revocation", n)
	}
}

// hoLineWith returns the line of s that mentions sub.
func hoLineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// hoGrep returns the lines of s that contain sub.
func hoGrep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// hoOpenSQLite opens gatepass's SQLite file with database/sql.
func hoOpenSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	return db
}

// hoAuditTip returns the last event's seq.
func hoAuditTip(t *testing.T, path string) int64 {
	t.Helper()
	db := hoOpenSQLite(t, path)
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT MAX(seq) FROM audit_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The admin commands work on GATEPASS_DB alone, with no policy file in
// sight: an operator on a database host lists live grants and revokes
// one, and the running serve honours it and announces it.
func TestOpsAdminCommandsWithoutPolicyFile(t *testing.T) {
	binary(t)
	h := newHarness(t, harnessOptions{})
	live, tok := hoApproved(h, alice, "prod-db read", "INC-911", "30m")
	admin := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(binary(t), args...)
		cmd.Dir = t.TempDir() // no ./gatepass.yml here
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.dir, "USER=oncall", "GATEPASS_DB=" + h.env["GATEPASS_DB"]}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		code := 0
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("gatepass %v: %v", args, err)
			}
			code = ee.ExitCode()
		}
		return out.String(), errb.String(), code
	}
	out, errOut, code := admin("grants")
	if code != 0 || !strings.Contains(out, live) {
		t.Fatalf("gatepass grants with GATEPASS_DB alone: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = admin("revoke", live, "--reason", "laptop lost")
	if code != 0 || !strings.Contains(out, "Revoked "+live) {
		t.Fatalf("gatepass revoke with GATEPASS_DB alone: exit %d\n%s%s", code, out, errOut)
	}
	h.waitFor("serve to refuse the revoked token", func() bool { return !active(h.introspect(tok)) })
	h.waitFor("the revocation's announcement", func() bool {
		m, ok := h.message(announce, "INC-911")
		return ok && strings.Contains(m.Text, "laptop lost")
	})
}
