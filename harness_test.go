package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatepass/gatepass/fakeslack"
	"github.com/gatepass/gatepass/workflow"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// The end-to-end tests run gatepass's real serve (policy file, SQLite file,
// HTTP listener, cron, deliveries) against fakeslack, which stands in for
// Slack on both sides: it serves the Web API gatepass calls and sends
// gatepass signed slash commands and clicks.

const (
	testSecret   = "e2e-signing-secret"
	testBotToken = "xoxb-e2e"
	introKey     = "e2e-introspection-key-0123456789"

	alice   = "U0ALICE"   // requester
	bob     = "U0BOB"     // approver
	carol   = "U0CAROL"   // approver
	dave    = "U0DAVE"    // approver through the S0ONCALL user group
	mallory = "U0MALLORY" // nobody

	approvals = "C0APPROVALS"
	announce  = "C0ANNOUNCE"
)

// testPolicy allows grants as short as a second so expiry can be watched.
const testPolicy = `
approver_channel: C0APPROVALS
announce_channel: C0ANNOUNCE
min_duration: 1s
pending_timeout: 30m
introspection_keys:
  - name: payments-api
    key: "` + introKey + `"
resources:
  prod-db:
    description: Production database
    approvers: [U0BOB, U0CAROL, S0ONCALL]
    ticket_pattern: '^[A-Z]+-[0-9]+$'
    break_glass: true
    levels:
      read:  {max_duration: 4h, approvals: 1}
      write: {max_duration: 1h, approvals: 2}
  billing:
    approvers: [U0BOB]
    levels:
      read: {max_duration: 1h, approvals: 1}
`

// logBuffer collects serve's log lines; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type harness struct {
	t      testing.TB
	slack  *fakeslack.Server
	base   string // gatepass's URL
	dir    string
	env    map[string]string
	clock  workflow.Clock
	logs   *logBuffer
	cancel context.CancelFunc
	done   chan error
}

type harnessOptions struct {
	env      map[string]string // more environment for serve
	strict   bool              // fakeslack refuses posts to unknown channels and users
	appToken string            // the only app-level token fakeslack accepts (default: any xapp-)
	noStart  bool              // the test starts serve itself (for instance as a process)
	// front, if set, wraps fakeslack's HTTP side (to fail or watch calls).
	front func(fs *fakeslack.Server) http.Handler
	// seed, if set, writes to the database before serve first starts.
	seed     func(dsn string)
	policy   string
	socket   bool // Slack over Socket Mode instead of HTTP
	clock    workflow.Clock
	postgres bool
}

func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	if o.policy == "" {
		o.policy = testPolicy
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gatepass.yml"), []byte(o.policy), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := fakeslack.New(fakeslack.Options{
		BotToken:      testBotToken,
		SigningSecret: testSecret,
		Users: []fakeslack.User{
			{ID: alice, Name: "alice"}, {ID: bob, Name: "bob"}, {ID: carol, Name: "carol"},
			{ID: dave, Name: "dave"}, {ID: mallory, Name: "mallory"},
		},
		Groups:         map[string][]string{"S0ONCALL": {dave}},
		Channels:       []fakeslack.Channel{{ID: approvals, Name: "access-approvals"}, {ID: announce, Name: "access-log"}},
		StrictChannels: o.strict,
		AppToken:       o.appToken,
	})
	var front http.Handler = fs
	if o.front != nil {
		front = o.front(fs)
	}
	slackSrv := httptest.NewServer(front)
	fs.SetPublicURL(slackSrv.URL)
	t.Cleanup(func() { _ = fs.Close(); slackSrv.Close() })

	h := &harness{t: t, slack: fs, dir: dir, clock: o.clock, logs: &logBuffer{}}
	h.env = map[string]string{
		"SLACK_BOT_TOKEN":      testBotToken,
		"SLACK_SIGNING_SECRET": testSecret,
		"SLACK_API_URL":        slackSrv.URL + "/api/",
		"GATEPASS_CONFIG":      filepath.Join(dir, "gatepass.yml"),
		"GATEPASS_DB":          filepath.Join(dir, "gatepass.db"),
	}
	if o.postgres {
		h.env["GATEPASS_DB"] = postgresURL(t)
	}
	for k, v := range o.env {
		h.env[k] = v
	}
	if o.socket {
		h.env["SLACK_APP_TOKEN"] = "xapp-e2e"
		fs.SetTransport(fakeslack.TransportSocket)
	}
	if o.seed != nil {
		o.seed(h.env["GATEPASS_DB"])
	}
	if o.noStart {
		return h
	}
	h.start()
	t.Cleanup(h.stop)
	return h
}

// start runs serve until stop.
func (h *harness) start() {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	h.base = "http://" + ln.Addr().String()
	h.env["GATEPASS_ADDR"] = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	env := h.env
	go func() {
		h.done <- serve(ctx, func(k string) string { return env[k] }, h.logs, serveOptions{listener: ln, clock: h.clock})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(h.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("gatepass did not come up: %v\n%s", err, h.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.slack.SetAppURL(h.base)
	if h.env["SLACK_APP_TOKEN"] != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.slack.WaitSocketConnected(ctx); err != nil {
			h.t.Fatalf("socket mode did not connect: %v\n%s", err, h.logs)
		}
	}
}

// stop ends serve as SIGTERM would and checks it stopped cleanly.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("serve returned %v", err)
		}
	case <-time.After(15 * time.Second):
		h.t.Errorf("serve did not stop within 15 s")
	}
}

func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	h.start()
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// command types /access text as user and returns gatepass's reply.
func (h *harness) command(user, text string) fakeslack.Reply {
	h.t.Helper()
	r, err := h.slack.SlashCommand(h.ctx(), user, text)
	if err != nil {
		h.t.Fatalf("/access %s: %v", text, err)
	}
	if r.Status != http.StatusOK {
		h.t.Fatalf("/access %s: HTTP %d %s", text, r.Status, r.Body)
	}
	return r
}

var idRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// request submits a request and returns its ID.
func (h *harness) request(user, text string) string {
	h.t.Helper()
	r := h.command(user, text)
	id := idRE.FindString(r.Text)
	if id == "" {
		h.t.Fatalf("/access %s: no request ID in the reply %q\nlogs:\n%s", text, r.Text, h.logs)
	}
	return id
}

// waitFor waits until cond holds, re-checking after every change fakeslack
// sees and at least every 50 ms (for changes only gatepass sees).
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	h.waitWithin(what, 10*time.Second, cond)
}

// waitWithin is waitFor with a time limit of its own.
func (h *harness) waitWithin(what string, limit time.Duration, cond func() bool) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			h.t.Fatalf("timed out waiting for %s\nlogs:\n%s", what, h.logs)
		case <-tick.C:
		}
	}
}

// message finds the message in channel that mentions the request ID.
func (h *harness) message(channel, id string) (fakeslack.Message, bool) {
	for _, m := range h.slack.Messages(channel) {
		if strings.Contains(fakeslack.PlainText(m), id) {
			return m, true
		}
	}
	return fakeslack.Message{}, false
}

// approvalMessage waits for the approval message of a request.
func (h *harness) approvalMessage(id string) fakeslack.Message {
	h.t.Helper()
	var m fakeslack.Message
	h.waitFor("the approval message of "+id, func() bool {
		var ok bool
		m, ok = h.message(approvals, id)
		return ok
	})
	return m
}

// click clicks a button on the current version of a request's message.
func (h *harness) click(user, channel, id, action string) fakeslack.Reply {
	h.t.Helper()
	m, ok := h.message(channel, id)
	if !ok {
		h.t.Fatalf("no message for %s in %s", id, channel)
	}
	r, err := h.slack.Click(h.ctx(), user, m, action)
	if err != nil {
		h.t.Fatalf("%s clicks %s on %s: %v", user, action, id, err)
	}
	if r.Status != http.StatusOK {
		h.t.Fatalf("%s clicks %s: HTTP %d %s", user, action, r.Status, r.Body)
	}
	return r
}

var tokenRE = regexp.MustCompile(`gpass_[0-9A-Za-z]{36,}`)

// token waits for the token DM of a request and returns the token.
func (h *harness) token(user, id string) string {
	h.t.Helper()
	return h.tokenWithin(user, id, 10*time.Second)
}

// tokenWithin is token with a time limit of its own.
func (h *harness) tokenWithin(user, id string, limit time.Duration) string {
	h.t.Helper()
	var tok string
	h.waitWithin("the token DM for "+id, limit, func() bool {
		for _, m := range h.slack.DM(user) {
			if strings.Contains(m.Text, id) {
				if tok = tokenRE.FindString(m.Text); tok != "" {
					return true
				}
			}
		}
		return false
	})
	return tok
}

// introspect asks /v1/introspect about a token with the test key.
func (h *harness) introspect(token string) map[string]any {
	h.t.Helper()
	status, body := h.introspectWith(introKey, token)
	if status != http.StatusOK {
		h.t.Fatalf("introspect: HTTP %d %s", status, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		h.t.Fatalf("introspect: %v in %s", err, body)
	}
	return out
}

func (h *harness) introspectWith(key, token string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.base+"/v1/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func active(m map[string]any) bool { return m["active"] == true }

// postCalls counts chat.postMessage calls, to show that something reached
// no one.
// health is the status /healthz answers now (0 when nothing answers).
func (h *harness) health() int {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(h.base + "/healthz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (h *harness) postCalls() int { return len(h.slack.CallsTo("chat.postMessage")) }

func hasButtons(m fakeslack.Message) bool { return len(fakeslack.Buttons(m)) > 0 }

func mustContain(t testing.TB, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%s does not contain %q:\n%s", what, p, s)
		}
	}
}

func postgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("GATEPASS_TEST_POSTGRES")
	if base == "" {
		t.Skip("PostgreSQL end-to-end test skipped: set GATEPASS_TEST_POSTGRES to a postgres:// URL to run it")
	}
	schema := fmt.Sprintf("e2e_%d", time.Now().UnixNano())
	if err := execPostgres(base, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { _ = execPostgres(base, "DROP SCHEMA "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func execPostgres(dsn, q string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(q)
	return err
}

func strconvI(n int64) string { return strconv.FormatInt(n, 10) }

// ephemeralIn returns the text of the last ephemeral message user saw in
// channel, or "".
func (h *harness) ephemeralIn(user, channel string) string {
	text := ""
	for _, e := range h.slack.Ephemerals(user) {
		if e.Channel == channel {
			text = e.Text
		}
	}
	return text
}
