package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	demo "github.com/gatepass/gatepass/playground"
	"github.com/gatepass/gatepass/tokens"
)

// These tests run `gatepass playground` in-process, exactly as the command
// does (the real serve, SQLite, the Slack stand-in and the page), and drive
// it through the page's HTTP API. playground_browser_test.go drives the same
// thing through a real browser.

// pgBuffer collects a writer's output; safe for concurrent use.
type pgBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *pgBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *pgBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// pgInstance is a running playground.
type pgInstance struct {
	t             *testing.T
	url           string // the page, without a trailing slash
	introspectURL string // /v1/introspect, as printed (on the page's address)
	proxyURL      string // gatepass's HTTP proxy in front of the demo API
	stdout        *pgBuffer
	stderr        *pgBuffer
	cancel        context.CancelFunc
	done          chan error
}

var (
	pgPageRE       = regexp.MustCompile(`open (http://127\.0\.0\.1:[0-9]+)/\n`)
	pgIntrospectRE = regexp.MustCompile(`(http://127\.0\.0\.1:[0-9]+/v1/introspect)`)
	pgProxyRE      = regexp.MustCompile(`(http://127\.0\.0\.1:[0-9]+)/invoices\n`)
)

// startPlayground runs playground(ctx, args…) on a free port until the test
// ends, and waits for it to print its URL.
func startPlayground(t *testing.T, args ...string) *pgInstance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &pgInstance{t: t, stdout: &pgBuffer{}, stderr: &pgBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		p.done <- playground(ctx, append([]string{"-addr", "127.0.0.1:0", "-proxy-addr", "127.0.0.1:0"}, args...), p.stdout, p.stderr)
	}()
	t.Cleanup(p.stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := p.stdout.String()
		if m := pgPageRE.FindStringSubmatch(out); m != nil {
			p.url = m[1]
			if im := pgIntrospectRE.FindStringSubmatch(out); im != nil {
				p.introspectURL = im[1]
			}
			if pm := pgProxyRE.FindStringSubmatch(out); pm != nil {
				p.proxyURL = pm[1]
			}
			return p
		}
		select {
		case err := <-p.done:
			p.cancel = nil
			t.Fatalf("playground ended before printing its URL: %v\nstdout:\n%s\nstderr:\n%s", err, out, p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("playground printed no URL within 20 s\nstdout:\n%s\nstderr:\n%s", out, p.stderr)
		}
	}
}

// stop ends the playground as Ctrl-C would and checks it stopped cleanly.
func (p *pgInstance) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Errorf("playground returned %v\nstderr:\n%s", err, p.stderr)
		}
	case <-time.After(25 * time.Second):
		p.t.Errorf("playground did not stop within 25 s")
	}
}

// post sends JSON to the page's API.
func (p *pgInstance) post(path string, body any) (int, map[string]any) {
	p.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(p.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// pgMessage is a message as GET /state shows it.
type pgMessage struct {
	Channel string          `json:"channel"`
	TS      string          `json:"ts"`
	User    string          `json:"user"`
	Replies []pgMessage     `json:"replies"`
	Text    string          `json:"text"`
	Blocks  json.RawMessage `json:"blocks"`
	ForUser string          `json:"for_user"`
	Updates int             `json:"updates"`
	Kind    string          `json:"kind"`
}

type pgState struct {
	Channels []struct {
		ID       string      `json:"id"`
		Name     string      `json:"name"`
		Messages []pgMessage `json:"messages"`
	} `json:"channels"`
	DMs []struct {
		ID       string      `json:"id"`
		User     string      `json:"user"`
		Messages []pgMessage `json:"messages"`
	} `json:"dms"`
	Ephemerals map[string][]pgMessage `json:"ephemerals"`
	Views      map[string]struct {
		Modal *pgView `json:"modal"`
		Home  *pgView `json:"home"`
	} `json:"views"`
}

// pgView is a modal or Home tab as GET /state shows it.
type pgView struct {
	ID      string            `json:"id"`
	Hash    string            `json:"hash"`
	Title   string            `json:"title"`
	Blocks  json.RawMessage   `json:"blocks"`
	Errors  map[string]string `json:"errors"`
	Updates int               `json:"updates"`
}

func (p *pgInstance) state() pgState {
	p.t.Helper()
	resp, err := http.Get(p.url + "/state")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st pgState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		p.t.Fatal(err)
	}
	return st
}

func (st pgState) messages(id string) []pgMessage {
	for _, c := range st.Channels {
		if c.ID == id {
			return c.Messages
		}
	}
	for _, c := range st.DMs {
		if c.ID == id {
			return c.Messages
		}
	}
	return nil
}

// waitState polls /state until cond holds.
func (p *pgInstance) waitState(what string, cond func(pgState) bool) pgState {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := p.state()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s\nstderr:\n%s", what, p.stderr)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// introspect asks gatepass about a token with the playground's key.
func (p *pgInstance) introspect(token string) map[string]any {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.introspectURL, strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+demo.IntrospectionKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		p.t.Fatalf("introspect: HTTP %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		p.t.Fatal(err)
	}
	return out
}

var (
	pgTokenRE = regexp.MustCompile(`gpass_[0-9A-Za-z]{36,}`)
	pgIDRE    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

func TestPlaygroundCommandLine(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, func(string) string { return "" }, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "gatepass playground   try gatepass locally") {
		t.Errorf("help does not list playground:\n%s", out.String())
	}
	for _, args := range [][]string{{"-nope"}, {"extra"}, {"-addr"}} {
		err := playground(context.Background(), args, io.Discard, io.Discard)
		if !errors.Is(err, errUsage) {
			t.Errorf("playground %v: %v, want a usage error", args, err)
		}
	}
	if err := playground(context.Background(), []string{"-h"}, io.Discard, io.Discard); err != nil {
		t.Errorf("playground -h: %v", err)
	}
	// A busy address is named, with the way out.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = playground(context.Background(), []string{"-addr", ln.Addr().String()}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-addr") {
		t.Errorf("playground on a busy address: %v", err)
	}
	err = playground(context.Background(), []string{"-addr", "127.0.0.1:0", "-proxy-addr", ln.Addr().String()}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-proxy-addr") {
		t.Errorf("playground with the proxy on a busy address: %v", err)
	}
}

// The whole demo through the page's API, against the real gatepass.
func TestPlaygroundRunsGatepass(t *testing.T) {
	dir := t.TempDir()
	p := startPlayground(t, "-dir", dir)
	for _, name := range []string{demo.PolicyFile, "gatepass.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("-dir holds no %s: %v", name, err)
		}
	}
	out := p.stdout.String()
	// The page, introspection on the page's own address, and two lines
	// through the proxy.
	if strings.Count(out, "http://") != 4 || !strings.Contains(out, "Authorization: Bearer "+demo.IntrospectionKey) || p.introspectURL != p.url+"/v1/introspect" || p.proxyURL == "" {
		t.Errorf("the playground should print its page, the introspection example on the page's address and the proxy's:\n%s", out)
	}

	status, reply := p.post("/command", map[string]string{"user": demo.Alice, "channel": demo.ApproverChannel, "text": "/access prod-db read 10s INC-1 checking the playground"})
	id := pgIDRE.FindString(reply["text"].(string))
	if status != http.StatusOK || reply["response_type"] != "ephemeral" || id == "" {
		t.Fatalf("POST /command: %d %v", status, reply)
	}
	st := p.waitState("the approval message", func(st pgState) bool {
		for _, m := range st.messages(demo.ApproverChannel) {
			if strings.Contains(string(m.Blocks), id) {
				return true
			}
		}
		return false
	})
	var approval pgMessage
	for _, m := range st.messages(demo.ApproverChannel) {
		if strings.Contains(string(m.Blocks), id) {
			approval = m
		}
	}
	if !strings.Contains(string(approval.Blocks), `"action_id":"approve"`) || !strings.Contains(string(approval.Blocks), `"action_id":"deny"`) {
		t.Fatalf("approval message without its buttons: %s", approval.Blocks)
	}
	// alice sees what she typed and gatepass's answer; nobody else does.
	eph := st.Ephemerals[demo.Alice]
	if len(eph) != 2 || eph[0].Kind != "command" || !strings.Contains(eph[1].Text, id) || eph[1].Channel != demo.ApproverChannel {
		t.Errorf("alice's ephemerals: %+v", eph)
	}
	if len(st.Ephemerals[demo.Bob]) != 0 {
		t.Errorf("bob sees %+v", st.Ephemerals[demo.Bob])
	}

	// erin approves nothing: her click changes nothing and is explained to her.
	if status, out := p.post("/click", map[string]string{"user": demo.Erin, "channel": demo.ApproverChannel, "ts": approval.TS, "action_id": "approve", "value": id}); status != http.StatusOK {
		t.Fatalf("erin's click: %d %v", status, out)
	}
	p.waitState("erin's explanation", func(st pgState) bool {
		for _, m := range st.Ephemerals[demo.Erin] {
			if m.Channel == demo.ApproverChannel && m.Text != "" {
				return true
			}
		}
		return false
	})

	// dave approves through @oncall.
	if status, out := p.post("/click", map[string]string{"user": demo.Dave, "channel": demo.ApproverChannel, "ts": approval.TS, "action_id": "approve", "value": id}); status != http.StatusOK {
		t.Fatalf("dave's click: %d %v", status, out)
	}
	p.waitState("the decision on the approval message", func(st pgState) bool {
		for _, m := range st.messages(demo.ApproverChannel) {
			if m.TS == approval.TS {
				return m.Updates > 0 && !strings.Contains(string(m.Blocks), `"action_id":"approve"`) && strings.Contains(m.Text, "Approved by <@U0DAVE>")
			}
		}
		return false
	})
	var token string
	p.waitState("the token DM", func(st pgState) bool {
		for _, m := range st.messages("D" + demo.Alice) {
			if tok := pgTokenRE.FindString(m.Text); tok != "" {
				token = tok
				return true
			}
		}
		return false
	})
	if !tokens.Valid(token) {
		t.Fatalf("token %q is not well formed", token)
	}
	got := p.introspect(token)
	if got["active"] != true || got["sub"] != demo.Alice || got["scope"] != "prod-db:read" || got["ticket"] != "INC-1" || got["request_id"] != id {
		t.Errorf("introspect: %v", got)
	}
	for _, c := range p.state().Channels {
		for _, m := range c.Messages {
			if strings.Contains(m.Text+string(m.Blocks), "gpass_") {
				t.Errorf("the token appears in #%s", c.Name)
			}
		}
	}

	// The 10 s grant expires and #access-log says so.
	p.waitState("the expiry announcement", func(st pgState) bool {
		for _, m := range st.messages(demo.AnnounceChannel) {
			if strings.Contains(m.Text, "expired") && strings.Contains(m.Text, "INC-1") {
				return true
			}
		}
		return false
	})
	if p.introspect(token)["active"] != false {
		t.Error("token still active after the expiry announcement")
	}
	if strings.Contains(p.stderr.String(), token) {
		t.Error("the token reached the log")
	}
}

// By default each run starts clean in a temporary directory removed on exit.
func TestPlaygroundCleansUp(t *testing.T) {
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "gatepass-playground-*"))
	p := startPlayground(t)
	during, _ := filepath.Glob(filepath.Join(os.TempDir(), "gatepass-playground-*"))
	if len(during) != len(before)+1 {
		t.Fatalf("temporary directories: %d before, %d while running", len(before), len(during))
	}
	if status, out := p.post("/command", map[string]string{"user": demo.Alice, "text": "list"}); status != http.StatusOK || !strings.Contains(out["text"].(string), "no pending requests") {
		t.Errorf("list: %d %v", status, out)
	}
	p.stop()
	if !strings.Contains(p.stderr.String(), `msg=stopped`) {
		t.Errorf("gatepass did not stop cleanly:\n%s", p.stderr)
	}
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "gatepass-playground-*"))
	if len(after) != len(before) {
		t.Errorf("the temporary directory was left behind: %v", after)
	}
}

// proxy sends a request through gatepass's HTTP proxy to the demo API.
func (p *pgInstance) proxy(method, token, body string) (int, map[string]any) {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.proxyURL+"/invoices", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// find returns the newest message of a conversation whose text (and
// blocks) contain every one of want.
func (st pgState) find(channel string, want ...string) (pgMessage, bool) {
	msgs := st.messages(channel)
	for i := len(msgs) - 1; i >= 0; i-- {
		all := msgs[i].Text + string(msgs[i].Blocks)
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(all, w)
		}
		if ok {
			return msgs[i], true
		}
	}
	return pgMessage{}, false
}

// waitMessage waits for a message in channel containing every one of want.
func (p *pgInstance) waitMessage(channel string, want ...string) pgMessage {
	p.t.Helper()
	var m pgMessage
	p.waitState(fmt.Sprintf("a message in %s with %q", channel, want), func(st pgState) bool {
		var ok bool
		m, ok = st.find(channel, want...)
		return ok
	})
	return m
}

// The whole lifecycle through the page's API against the real gatepass:
// the request form, the Home tab, a Cancel button on an ephemeral receipt,
// the Extend button of the expiring-soon DM, and the billing API behind
// gatepass's HTTP proxy.
func TestPlaygroundFormHomeAndProxy(t *testing.T) {
	p := startPlayground(t)

	// alice opens the form.
	if status, out := p.post("/command", map[string]string{"user": demo.Alice, "channel": demo.GeneralChannel, "text": "/access"}); status != http.StatusOK {
		t.Fatalf("POST /command: %d %v", status, out)
	}
	var form *pgView
	p.waitState("alice's request form", func(st pgState) bool { form = st.Views[demo.Alice].Modal; return form != nil })
	if form.Title != "Request access" || !strings.Contains(string(form.Blocks), `"block_id":"resource"`) || !strings.Contains(string(form.Blocks), `"dispatch_action":true`) {
		t.Fatalf("the form: %+v %s", form, form.Blocks)
	}
	// Picking billing-api makes gatepass offer its levels.
	if status, out := p.post("/view/select", map[string]string{"user": demo.Alice, "view_id": form.ID, "block_id": "resource", "action_id": "resource", "value": demo.ProxyResource}); status != http.StatusOK {
		t.Fatalf("POST /view/select: %d %v", status, out)
	}
	levelBlock := "level:" + demo.ProxyResource
	p.waitState("the levels of billing-api", func(st pgState) bool {
		m := st.Views[demo.Alice].Modal
		return m != nil && m.ID == form.ID && strings.Contains(string(m.Blocks), `"block_id":"`+levelBlock+`"`)
	})
	values := func(duration string) map[string]any {
		return map[string]any{
			levelBlock: map[string]any{"level": map[string]string{"value": "read"}},
			"duration": map[string]any{"duration": map[string]string{"value": duration}},
			"ticket":   map[string]any{"ticket": map[string]string{"value": "INC-9"}},
			"reason":   map[string]any{"reason": map[string]string{"value": "reconcile invoices"}},
		}
	}
	// Too long for the level: gatepass says so beside the field.
	status, out := p.post("/view/submit", map[string]any{"user": demo.Alice, "view_id": form.ID, "values": values("3h")})
	if status != http.StatusOK || out["response_action"] != "errors" || !strings.Contains(fmt.Sprint(out["errors"]), "too long") {
		t.Fatalf("submit 3h: %d %v", status, out)
	}
	if m := p.state().Views[demo.Alice].Modal; m == nil || !strings.Contains(m.Errors["duration"], "too long") {
		t.Fatalf("the form after the error: %+v", m)
	}
	// 70 s: a minute before it ends (warn_before), alice gets an Extend
	// button.
	status, out = p.post("/view/submit", map[string]any{"user": demo.Alice, "view_id": form.ID, "values": values("70s")})
	if status != http.StatusOK || out["response_action"] != nil {
		t.Fatalf("submit 70s: %d %v", status, out)
	}
	if m := p.state().Views[demo.Alice].Modal; m != nil {
		t.Fatalf("the form is still open: %+v", m)
	}
	receipt := p.waitMessage("D"+demo.Alice, "INC-9", `"action_id":"cancel"`)
	id := pgIDRE.FindString(receipt.Text)
	if id == "" || !strings.Contains(receipt.Text, "<https://tracker.example/browse/INC-9|INC-9>") {
		t.Fatalf("the form's receipt: %+v", receipt)
	}

	// carol approves from her Home tab.
	if status, out := p.post("/home", map[string]string{"user": demo.Carol}); status != http.StatusOK {
		t.Fatalf("POST /home: %d %v", status, out)
	}
	var home *pgView
	p.waitState("carol's Home tab with alice's request", func(st pgState) bool {
		home = st.Views[demo.Carol].Home
		return home != nil && strings.Contains(string(home.Blocks), id) && strings.Contains(string(home.Blocks), "Waiting for your decision")
	})
	if status, out := p.post("/view/click", map[string]string{"user": demo.Carol, "view_id": home.ID, "action_id": "approve", "value": id}); status != http.StatusOK {
		t.Fatalf("carol approves in her Home tab: %d %v", status, out)
	}
	tokenDM := p.waitMessage("D"+demo.Alice, "gpass_", "billing-api")
	token := pgTokenRE.FindString(tokenDM.Text)
	if !strings.Contains(tokenDM.Text, p.proxyURL) {
		t.Errorf("the token DM does not say where the proxy is: %s", tokenDM.Text)
	}
	// The Home tab is published again after the click, without the request.
	p.waitState("carol's Home tab, decided", func(st pgState) bool {
		h := st.Views[demo.Carol].Home
		return h != nil && h.Updates > home.Updates && !strings.Contains(string(h.Blocks), `"action_id":"approve"`)
	})

	// Through the proxy: the token opens the API, which sees who and why.
	status, out = p.proxy(http.MethodGet, token, "")
	if status != http.StatusOK || len(out["invoices"].([]any)) < 3 {
		t.Fatalf("GET through the proxy: %d %v", status, out)
	}
	if seen := out["seen"].(map[string]any); seen["X-Gatepass-User"] != demo.Alice || seen["X-Gatepass-Ticket"] != "INC-9" || seen["X-Gatepass-Request"] != id ||
		seen["authorization_is_the_proxy_key"] != true || seen["gatepass_token_reached_the_api"] != false {
		t.Errorf("the API saw %v", seen)
	}
	if status, out := p.proxy(http.MethodGet, "", ""); status != http.StatusUnauthorized {
		t.Errorf("GET without a token: %d %v", status, out)
	}
	if status, out := p.proxy(http.MethodPost, token, `{"customer":"Acme Corp","amount":120}`); status != http.StatusForbidden {
		t.Errorf("POST with a read token: %d %v", status, out)
	}
	// introspection on the page's own address.
	if got := p.introspect(token); got["active"] != true || got["scope"] != "billing-api:read" || got["request_id"] != id {
		t.Fatalf("introspect: %v", got)
	}
	exp := p.introspect(token)["exp"].(float64)

	// 10 s in, the expiring-soon DM brings an Extend button; alice clicks it
	// and carol approves the extension in the channel.
	warn := p.waitMessage("D"+demo.Alice, `"action_id":"extend"`, id)
	if status, out := p.post("/click", map[string]string{"user": demo.Alice, "channel": warn.Channel, "ts": warn.TS, "action_id": "extend", "value": id}); status != http.StatusOK {
		t.Fatalf("alice clicks Extend: %d %v", status, out)
	}
	ext := p.waitMessage(demo.ApproverChannel, `"action_id":"ext_approve"`, id)
	if status, out := p.post("/click", map[string]string{"user": demo.Carol, "channel": ext.Channel, "ts": ext.TS, "action_id": "ext_approve", "value": id}); status != http.StatusOK {
		t.Fatalf("carol approves the extension: %d %v", status, out)
	}
	p.waitMessage("D"+demo.Alice, "was extended by 70s", "Your token stays the same")
	if got := p.introspect(token); got["active"] != true || got["exp"].(float64) != exp+70 {
		t.Errorf("after the extension: exp %v, want %v (%v)", got["exp"], exp+70, got)
	}

	// Revoked, the token opens nothing.
	if status, out := p.post("/command", map[string]string{"user": demo.Alice, "text": "revoke " + id}); status != http.StatusOK || !strings.Contains(fmt.Sprint(out["text"]), "no longer works") {
		t.Fatalf("revoke: %d %v", status, out)
	}
	if status, out := p.proxy(http.MethodGet, token, ""); status != http.StatusUnauthorized {
		t.Errorf("GET with a revoked token: %d %v", status, out)
	}

	// A typed request's ephemeral receipt has a Cancel button that works.
	status, out = p.post("/command", map[string]string{"user": demo.Alice, "channel": demo.ApproverChannel, "text": "/access prod-db read 30s INC-3 oops"})
	id2 := pgIDRE.FindString(fmt.Sprint(out["text"]))
	if status != http.StatusOK || id2 == "" {
		t.Fatalf("typed request: %d %v", status, out)
	}
	var eph pgMessage
	p.waitState("the receipt with Cancel", func(st pgState) bool {
		for _, m := range st.Ephemerals[demo.Alice] {
			if strings.Contains(m.Text, id2) && strings.Contains(string(m.Blocks), `"action_id":"cancel"`) {
				eph = m
				return true
			}
		}
		return false
	})
	if status, out := p.post("/click", map[string]string{"user": demo.Alice, "channel": eph.Channel, "ts": eph.TS, "action_id": "cancel", "value": id2}); status != http.StatusOK {
		t.Fatalf("alice clicks Cancel on her receipt: %d %v", status, out)
	}
	p.waitMessage(demo.ApproverChannel, id2, "Request cancelled by <@U0ALICE>")
	p.waitState("the receipt to say cancelled", func(st pgState) bool {
		for _, m := range st.Ephemerals[demo.Alice] {
			if m.TS == eph.TS {
				return strings.Contains(m.Text, "was cancelled") && !strings.Contains(string(m.Blocks), `"action_id":"cancel"`)
			}
		}
		return false
	})
}
