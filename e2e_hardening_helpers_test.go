package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatepass/gatepass/fakeslack"
	"github.com/gatepass/gatepass/workflow"
)

// Helpers for the hardening and operations end-to-end tests
// (e2e_hardening_test.go, e2e_ops_test.go). Everything here is prefixed
// "ho" so it cannot collide with other test files of package main.

// hoGate sits in front of fakeslack's Web API and makes Slack misbehave
// on demand, the way a real outage or a revoked token would.
type hoGate struct {
	next http.Handler
	mode atomic.Int32
	// dmPosts counts chat.postMessage calls to a user or DM that reached
	// the gate (forwarded or not).
	dmPosts atomic.Int64
}

const (
	hoSlackUp      = iota // everything passes
	hoSlackDown           // every Web API call answers 503
	hoSlackDMDown         // chat.postMessage to a user or DM answers 503 and is not posted
	hoSlackDMLost         // chat.postMessage to a user or DM is posted, but gatepass gets 503
	hoSlackRevoked        // every Web API call answers {"ok":false,"error":"token_revoked"}
)

func (g *hoGate) set(mode int32) { g.mode.Store(mode) }

func (g *hoGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method, isAPI := strings.CutPrefix(r.URL.Path, "/api/")
	mode := g.mode.Load()
	if !isAPI || mode == hoSlackUp {
		g.countDM(r, method)
		g.next.ServeHTTP(w, r)
		return
	}
	switch mode {
	case hoSlackDown:
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	case hoSlackRevoked:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":false,"error":"token_revoked"}`)
		return
	}
	if !g.countDM(r, method) {
		g.next.ServeHTTP(w, r)
		return
	}
	if mode == hoSlackDMLost {
		g.next.ServeHTTP(httptest.NewRecorder(), r) // Slack takes the message…
	}
	http.Error(w, "service unavailable", http.StatusServiceUnavailable) // …but the answer is lost
}

// countDM reports whether r is a chat.postMessage to a user or a DM, and
// counts it. r's body stays readable.
func (g *hoGate) countDM(r *http.Request, method string) bool {
	if method != "chat.postMessage" {
		return false
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	ch := ""
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var v struct {
			Channel string `json:"channel"`
		}
		_ = json.Unmarshal(body, &v)
		ch = v.Channel
	} else if q, err := url.ParseQuery(string(body)); err == nil {
		ch = q.Get("channel")
	}
	if ch == "" {
		ch = r.URL.Query().Get("channel")
	}
	if strings.HasPrefix(ch, "U") || strings.HasPrefix(ch, "W") || strings.HasPrefix(ch, "D") {
		g.dmPosts.Add(1)
		return true
	}
	return false
}

type hoOptions struct {
	policy   string
	strict   bool              // fakeslack refuses posts to unknown channels and users
	env      map[string]string // more environment for serve
	postgres bool
	noStart  bool   // the test starts serve itself (for instance as a process)
	socket   bool   // Slack over Socket Mode
	appToken string // the only app-level token fakeslack accepts (default: any xapp-)
	clock    workflow.Clock
}

// skewClock is the system clock moved ahead by what a test adds, for rules
// measured in minutes that depend on things happening in real time too.
type skewClock struct{ ahead atomic.Int64 }

func (c *skewClock) Now() time.Time          { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *skewClock) advance(d time.Duration) { c.ahead.Add(int64(d)) }

// hoNewHarness is newHarness with a hoGate in front of fakeslack's Web
// API.
func hoNewHarness(t *testing.T, o hoOptions) (*harness, *hoGate) {
	t.Helper()
	var gate *hoGate
	h := newHarness(t, harnessOptions{policy: o.policy, env: o.env, postgres: o.postgres, socket: o.socket,
		strict: o.strict, appToken: o.appToken, noStart: o.noStart, clock: o.clock,
		front: func(fs *fakeslack.Server) http.Handler { gate = &hoGate{next: fs}; return gate }})
	return h, gate
}

// hoCLI runs a gatepass subcommand as its own process against the
// harness's database and policy, and returns its output and exit status.
func hoCLI(t testing.TB, h *harness, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + h.dir, "USER=oncall",
		"GATEPASS_DB=" + h.env["GATEPASS_DB"], "GATEPASS_CONFIG=" + h.env["GATEPASS_CONFIG"],
	}
	var out, errb bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("gatepass %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// hoIntrospect asks /v1/introspect about token with an Authorization header
// (empty: none) and returns the status, the parsed JSON and the response.
func hoIntrospect(client *http.Client, base, auth, contentType, body string) (int, map[string]any, http.Header, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/introspect", strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, resp.Header, err
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return resp.StatusCode, nil, resp.Header, fmt.Errorf("not JSON: %q", data)
	}
	return resp.StatusCode, out, resp.Header, nil
}

// hoActive introspects token with the test key and reports whether it is
// active.
func hoActive(client *http.Client, base, token string) (bool, error) {
	status, out, _, err := hoIntrospect(client, base, "Bearer "+introKey, "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode())
	if err != nil {
		return false, err
	}
	if status != http.StatusOK {
		return false, fmt.Errorf("HTTP %d %v", status, out)
	}
	return out["active"] == true, nil
}

// hoRawHTTP writes head (a request line and headers, ending in a blank
// line) on a fresh connection, then body in chunks of chunk bytes every
// pause (no body when body is 0), and returns the response's status line
// status code, or an error. It gives up after timeout.
func hoRawHTTP(addr, head string, body, chunk int, pause, timeout time.Duration) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, head); err != nil {
		return 0, err
	}
	status := make(chan int, 1)
	go func() {
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			status <- -1
			return
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			status <- -1
			return
		}
		n, _ := strconv.Atoi(f[1])
		status <- n
	}()
	buf := bytes.Repeat([]byte("x"), max(chunk, 1))
	for sent := 0; sent < body; sent += chunk {
		select {
		case s := <-status:
			if s < 0 {
				return 0, errors.New("connection closed without a response")
			}
			return s, nil
		default:
		}
		if _, err := conn.Write(buf[:min(chunk, body-sent)]); err != nil {
			break // the server stopped reading; its answer may be on its way
		}
		time.Sleep(pause)
	}
	s := <-status
	if s < 0 {
		return 0, errors.New("connection closed without a response")
	}
	return s, nil
}

// hoRSS returns the resident set size of process pid, in bytes.
func hoRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// hoDMsWith returns the DMs to user that mention s.
func hoDMsWith(h *harness, user, s string) []fakeslack.Message {
	var out []fakeslack.Message
	for _, m := range h.slack.DM(user) {
		if strings.Contains(m.Text, s) || strings.Contains(fakeslack.PlainText(m), s) {
			out = append(out, m)
		}
	}
	return out
}

// hoMessagesWith returns the messages in channel that mention s.
func hoMessagesWith(h *harness, channel, s string) []fakeslack.Message {
	var out []fakeslack.Message
	for _, m := range h.slack.Messages(channel) {
		if strings.Contains(fakeslack.PlainText(m), s) {
			out = append(out, m)
		}
	}
	return out
}

// hoWait polls cond every 20 ms until it holds or d passes.
func hoWait(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hoBreakGlass opens spec ("prod-db read") for user by break-glass and
// returns the request's ID and token.
func hoBreakGlass(h *harness, user, spec, ticket string) (string, string) {
	h.t.Helper()
	r := h.command(user, "break-glass "+spec+" 30m "+ticket+" on fire")
	if !strings.Contains(r.Text, "Break-glass access granted") {
		h.t.Fatalf("break-glass %s %s: %q", spec, ticket, r.Text)
	}
	id := idRE.FindString(r.Text)
	if id == "" {
		h.t.Fatalf("break-glass: no request ID in %q", r.Text)
	}
	return id, h.token(user, id)
}

// hoApproved makes an approved grant of spec ("prod-db read") for user and
// returns its ID and token. bob approves (and carol, for two approvals;
// carol and dave when bob asks).
func hoApproved(h *harness, user, spec, ticket, duration string) (string, string) {
	h.t.Helper()
	id := h.request(user, spec+" "+duration+" "+ticket+" looking")
	m := h.approvalMessage(id)
	if !hasButtons(m) {
		h.t.Fatalf("%s %s: the approval message has no buttons (refused or decided already?): %s", spec, ticket, fakeslack.PlainText(m))
	}
	deciders := []string{bob, carol}
	if user == bob {
		deciders = []string{carol, dave}
	}
	if strings.HasSuffix(spec, " write") {
		h.click(deciders[0], approvals, id, "approve")
		h.waitFor("1 of 2", func() bool { m, _ := h.message(approvals, id); return strings.Contains(m.Text, "1 of 2") })
		h.click(deciders[1], approvals, id, "approve")
	} else {
		h.click(deciders[0], approvals, id, "approve")
	}
	return id, h.token(user, id)
}

// hoClient is an HTTP client that keeps enough connections for the
// concurrent introspection of the stress tests.
func hoClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
}

// hoLines splits s into its non-empty lines.
func hoLines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// hoOnce guards a first-failure note shared by goroutines.
type hoOnce struct {
	mu  sync.Mutex
	msg string
}

func (o *hoOnce) note(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.msg == "" {
		o.msg = fmt.Sprintf(format, args...)
	}
}

func (o *hoOnce) get() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.msg
}
