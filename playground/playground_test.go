package playground

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatepass/gatepass/fakeslack"
	"github.com/gatepass/gatepass/workflow"
)

// These tests drive the playground through its HTTP API against a stub app
// that answers like gatepass would, much simplified. The real gatepass runs
// behind the playground in the root package's tests.

const testSecret = "playground-test-secret"

// stubApp is a tiny Slack app: a slash command posts an approval message
// with Approve and Deny buttons; a click replaces the buttons with the
// decision. It checks every request's Slack signature.
type stubApp struct {
	t      *testing.T
	api    string // the stand-in's Web API, with trailing slash
	status int    // when set, every command gets this HTTP status

	mu       sync.Mutex
	commands []url.Values
	clicks   []map[string]any
}

func (a *stubApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, _ := strconv.ParseInt(r.Header.Get("X-Slack-Request-Timestamp"), 10, 64)
	if r.Header.Get("X-Slack-Signature") != fakeslack.Sign(testSecret, ts, body) {
		a.t.Errorf("%s: bad signature", r.URL.Path)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	form, _ := url.ParseQuery(string(body))
	switch r.URL.Path {
	case fakeslack.AppCommandsPath:
		a.mu.Lock()
		a.commands = append(a.commands, form)
		status := a.status
		a.mu.Unlock()
		if status != 0 {
			http.Error(w, "stub failure", status)
			return
		}
		user := form.Get("user_id")
		a.call("chat.postMessage", map[string]any{
			"channel": ApproverChannel,
			"text":    "Access request from <@" + user + ">",
			"blocks": []any{
				map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "<@" + user + "> asks for *read* access: " + form.Get("text")}},
				map[string]any{"type": "actions", "block_id": "decide", "elements": []any{
					map[string]any{"type": "button", "action_id": "approve", "value": "req-1", "style": "primary", "text": map[string]any{"type": "plain_text", "text": "Approve"}},
					map[string]any{"type": "button", "action_id": "deny", "value": "req-1", "style": "danger", "text": map[string]any{"type": "plain_text", "text": "Deny"}},
				}},
			},
		})
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"response_type":"ephemeral","text":"Request sent to <#C0APPROVALS>."}`)
	case fakeslack.AppInteractionsPath:
		var p map[string]any
		if err := json.Unmarshal([]byte(form.Get("payload")), &p); err != nil {
			a.t.Errorf("interaction payload: %v", err)
		}
		a.mu.Lock()
		a.clicks = append(a.clicks, p)
		a.mu.Unlock()
		user := p["user"].(map[string]any)["id"].(string)
		container := p["container"].(map[string]any)
		a.call("chat.update", map[string]any{
			"channel": container["channel_id"], "ts": container["message_ts"],
			"text":   "Approved by <@" + user + ">",
			"blocks": []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": ":white_check_mark: Approved by <@" + user + ">"}}},
		})
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

// call calls the stand-in's Web API with the bot token.
func (a *stubApp) call(method string, args map[string]any) {
	b, _ := json.Marshal(args)
	req, _ := http.NewRequest(http.MethodPost, a.api+method, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+BotToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Errorf("%s: %v", method, err)
		return
	}
	defer resp.Body.Close()
	var out struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK {
		a.t.Errorf("%s: ok=%v error=%q (%v)", method, out.OK, out.Error, err)
	}
}

type fixture struct {
	t     *testing.T
	pg    *Playground
	url   string
	slack *fakeslack.Server
	app   *stubApp
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	slack := fakeslack.New(SlackOptions(testSecret, ""))
	pg, err := New(Config{Slack: slack, IntrospectURL: "http://127.0.0.1:1/v1/introspect", IntrospectionKey: IntrospectionKey})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pg)
	slack.SetPublicURL(srv.URL + SlackPrefix)
	app := &stubApp{t: t, api: srv.URL + SlackPrefix + "/api/"}
	appSrv := httptest.NewServer(app)
	slack.SetAppURL(appSrv.URL)
	t.Cleanup(func() {
		pg.Close()
		_ = slack.Close()
		srv.Close()
		appSrv.Close()
	})
	return &fixture{t: t, pg: pg, url: srv.URL, slack: slack, app: app}
}

// post sends JSON to the playground and decodes the JSON answer.
func (f *fixture) post(path string, body any) (int, map[string]any) {
	f.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(f.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		f.t.Fatalf("POST %s: %v", path, err)
	}
	return resp.StatusCode, out
}

func (f *fixture) state() state {
	f.t.Helper()
	resp, err := http.Get(f.url + "/state")
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		f.t.Fatalf("GET /state: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var st state
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (st state) conversation(id string) conversation {
	for _, c := range append(slices.Clone(st.Channels), st.DMs...) {
		if c.ID == id {
			return c
		}
	}
	return conversation{}
}

// request types the demo request as alice and returns the approval message.
func (f *fixture) request() fakeslack.Message {
	f.t.Helper()
	status, out := f.post("/command", map[string]string{"user": Alice, "channel": ApproverChannel, "text": "/access prod-db read 30s INC-1 checking"})
	if status != http.StatusOK || out["text"] != "Request sent to <#C0APPROVALS>." {
		f.t.Fatalf("POST /command: %d %v", status, out)
	}
	msgs := f.slack.Messages(ApproverChannel)
	if len(msgs) != 1 {
		f.t.Fatalf("approval channel holds %d messages, want 1", len(msgs))
	}
	return msgs[0]
}

func TestPolicyIsValid(t *testing.T) {
	path := filepath.Join(t.TempDir(), PolicyFile)
	if err := os.WriteFile(path, Policy(), 0o600); err != nil {
		t.Fatal(err)
	}
	p, warnings, err := workflow.LoadPolicy(path)
	if err != nil {
		t.Fatalf("the embedded policy is invalid: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if p.ApproverChannel != ApproverChannel || p.AnnounceChannel != AnnounceChannel {
		t.Errorf("channels %s, %s", p.ApproverChannel, p.AnnounceChannel)
	}
	if p.MinDuration != 10*time.Second || p.PendingTimeout != 10*time.Minute {
		t.Errorf("min_duration %s, pending_timeout %s", p.MinDuration, p.PendingTimeout)
	}
	if len(p.IntrospectionKeys) != 1 {
		t.Errorf("%d introspection keys, want 1", len(p.IntrospectionKeys))
	}
	if !strings.Contains(string(Policy()), `key: "`+IntrospectionKey+`"`) {
		t.Errorf("the policy's key is not IntrospectionKey")
	}
	db := p.Resources["prod-db"]
	if db == nil || !db.BreakGlass || db.TicketPattern == nil || db.TicketPattern.String() != `^[A-Z]+-[0-9]+$` {
		t.Fatalf("prod-db = %+v", db)
	}
	if r, w := db.Levels["read"], db.Levels["write"]; r.MaxDuration != 4*time.Hour || r.Approvals != 1 || w.MaxDuration != time.Hour || w.Approvals != 2 {
		t.Errorf("prod-db levels %+v", db.Levels)
	}
	if !slices.Equal(db.Approvers, []string{Bob, Carol, OnCallGroup}) {
		t.Errorf("prod-db approvers %v", db.Approvers)
	}
	if p.Resources["billing-api"] == nil {
		t.Error("no billing-api")
	}
	// Every approver is a demo user or group, and erin approves nothing.
	known := map[string]bool{OnCallGroup: true}
	for _, u := range Users() {
		known[u.ID] = true
	}
	for name, res := range p.Resources {
		for _, a := range res.Approvers {
			if !known[a] || a == Erin || a == Alice {
				t.Errorf("%s: approver %s", name, a)
			}
		}
	}
	// Each call returns its own copy.
	Policy()[0] = 'X'
	if Policy()[0] == 'X' {
		t.Error("Policy returned shared bytes")
	}
}

func TestSlackOptions(t *testing.T) {
	o := SlackOptions("s3cret", "http://127.0.0.1:1/fake-slack")
	if o.BotToken != BotToken || o.SigningSecret != "s3cret" || o.PublicURL != "http://127.0.0.1:1/fake-slack" || o.DefaultChannel != GeneralChannel {
		t.Errorf("options %+v", o)
	}
	if len(o.Users) != len(Users()) || !slices.Equal(o.Groups[OnCallGroup], []string{Dave}) || len(o.Channels) != 3 {
		t.Errorf("workspace %+v %+v %+v", o.Users, o.Groups, o.Channels)
	}
}

func TestNewNeedsSlack(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a Slack stand-in succeeded")
	}
}

func TestPageAndStaticFiles(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html", `<script src="/static/app.js" defer></script>`},
		{"/static/app.js", "javascript", "function mrkdwn"},
		{"/static/app.css", "text/css", ".sk-btn"},
		{"/static/favicon.svg", "image/svg+xml", "<svg"},
	} {
		resp, err := http.Get(f.url + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: %d %s, body has %q: %v", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contains, strings.Contains(string(body), tc.contains))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
	}
	for _, path := range []string{"/static/", "/static/nope.js", "/static/index.html", "/nope", "/static/../playground.go"} {
		resp, err := http.Get(f.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	// Nothing is loaded from elsewhere.
	for _, name := range []string{"index.html", "app.js", "app.css"} {
		b, _ := staticFiles.ReadFile("static/" + name)
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s refers to %q", name, bad)
			}
		}
	}
}

func TestState(t *testing.T) {
	f := newFixture(t)
	st := f.state()
	if st.Bot.ID != fakeslack.DefaultBotUserID || st.Bot.Name != "gatepass" {
		t.Errorf("bot %+v", st.Bot)
	}
	if len(st.Users) != 5 || st.Users[0].ID != Alice || st.Users[0].Name != "alice" || st.Users[0].RealName == "" || st.Users[0].Role == "" {
		t.Errorf("users %+v", st.Users)
	}
	var names []string
	for _, c := range st.Channels {
		names = append(names, c.Name)
		if c.Kind != "channel" || c.Messages == nil {
			t.Errorf("channel %+v", c)
		}
	}
	if strings.Join(names, ",") != "access-approvals,access-log,general" {
		t.Errorf("channels %v", names)
	}
	if len(st.DMs) != 5 {
		t.Fatalf("%d DMs, want one per user", len(st.DMs))
	}
	for i, dm := range st.DMs {
		u := st.Users[i]
		if dm.ID != "D"+u.ID || dm.User != u.ID || dm.Name != u.Name || dm.Kind != "dm" {
			t.Errorf("DM %+v", dm)
		}
		if _, ok := st.Ephemerals[u.ID]; !ok {
			t.Errorf("no ephemerals list for %s", u.ID)
		}
	}
	if len(st.Groups) != 1 || st.Groups[0].Handle != "oncall" {
		t.Errorf("groups %+v", st.Groups)
	}
	if st.Introspection == nil || st.Introspection.Key != IntrospectionKey {
		t.Errorf("introspection %+v", st.Introspection)
	}
}

func TestCommandShowsReplyToTypistOnly(t *testing.T) {
	f := newFixture(t)
	approval := f.request()

	f.app.mu.Lock()
	cmd := f.app.commands[0]
	f.app.mu.Unlock()
	if cmd.Get("text") != "prod-db read 30s INC-1 checking" || cmd.Get("user_id") != Alice || cmd.Get("channel_id") != ApproverChannel || cmd.Get("command") != "/access" {
		t.Errorf("the app got %v", cmd)
	}
	// Response URLs point into the playground, under the stand-in's prefix.
	if !strings.HasPrefix(cmd.Get("response_url"), f.url+SlackPrefix+"/response/") {
		t.Errorf("response_url %q is not under %s", cmd.Get("response_url"), f.url+SlackPrefix)
	}

	st := f.state()
	if len(st.Ephemerals[Alice]) != 2 {
		t.Fatalf("alice's ephemerals: %+v", st.Ephemerals[Alice])
	}
	echo, reply := st.Ephemerals[Alice][0], st.Ephemerals[Alice][1]
	if echo.Kind != "command" || echo.Text != "/access prod-db read 30s INC-1 checking" || echo.Channel != ApproverChannel || echo.User != Alice {
		t.Errorf("command echo %+v", echo)
	}
	if reply.Kind != "" || reply.Text != "Request sent to <#C0APPROVALS>." || !reply.Ephemeral || reply.ForUser != Alice || reply.Channel != ApproverChannel {
		t.Errorf("reply %+v", reply)
	}
	if len(st.Ephemerals[Bob]) != 0 {
		t.Errorf("bob sees alice's ephemerals: %+v", st.Ephemerals[Bob])
	}
	msgs := st.conversation(ApproverChannel).Messages
	if len(msgs) != 1 || msgs[0].TS != approval.TS || !strings.Contains(string(msgs[0].Blocks), `"action_id":"approve"`) {
		t.Errorf("approval channel %+v", msgs)
	}

	// Without a channel the command is typed in #general; "/access" is optional.
	if status, out := f.post("/command", map[string]string{"user": Bob, "text": "help"}); status != http.StatusOK {
		t.Fatalf("POST /command: %d %v", status, out)
	}
	f.app.mu.Lock()
	cmd = f.app.commands[1]
	f.app.mu.Unlock()
	if cmd.Get("channel_id") != GeneralChannel || cmd.Get("text") != "help" {
		t.Errorf("the app got %v", cmd)
	}
}

func TestClickDecidesOnCurrentMessage(t *testing.T) {
	f := newFixture(t)
	m := f.request()
	status, out := f.post("/click", map[string]string{"user": Bob, "channel": ApproverChannel, "ts": m.TS, "action_id": "approve", "value": "req-1"})
	if status != http.StatusOK {
		t.Fatalf("POST /click: %d %v", status, out)
	}
	f.app.mu.Lock()
	click := f.app.clicks[0]
	f.app.mu.Unlock()
	action := click["actions"].([]any)[0].(map[string]any)
	if click["user"].(map[string]any)["id"] != Bob || action["action_id"] != "approve" || action["value"] != "req-1" {
		t.Errorf("the app got %v", click)
	}
	now, _ := f.slack.Message(ApproverChannel, m.TS)
	if now.Updates != 1 || len(fakeslack.Buttons(now)) != 0 || !strings.Contains(fakeslack.PlainText(now), "Approved by <@U0BOB>") {
		t.Errorf("message after the click: %+v", now)
	}
	// The buttons are gone, so a second click is refused without reaching
	// the app.
	status, out = f.post("/click", map[string]string{"user": Carol, "channel": ApproverChannel, "ts": m.TS, "action_id": "deny"})
	if status != http.StatusConflict {
		t.Errorf("click on a removed button: %d %v", status, out)
	}
	f.app.mu.Lock()
	defer f.app.mu.Unlock()
	if len(f.app.clicks) != 1 {
		t.Errorf("the app got %d clicks, want 1", len(f.app.clicks))
	}
}

func TestRefusedRequests(t *testing.T) {
	f := newFixture(t)
	m := f.request()
	eph := f.slack.Ephemerals(Alice)[0]
	for _, tc := range []struct {
		name, path string
		body       any
		want       int
	}{
		{"unknown user types", "/command", map[string]string{"user": "U0NOBODY", "text": "help"}, http.StatusBadRequest},
		{"unknown conversation", "/command", map[string]string{"user": Alice, "channel": "C0NOWHERE", "text": "help"}, http.StatusBadRequest},
		{"someone else's DM", "/command", map[string]string{"user": Alice, "channel": "D" + Bob, "text": "help"}, http.StatusBadRequest},
		{"unknown user clicks", "/click", map[string]string{"user": "U0NOBODY", "channel": ApproverChannel, "ts": m.TS, "action_id": "approve"}, http.StatusBadRequest},
		{"no such message", "/click", map[string]string{"user": Bob, "channel": ApproverChannel, "ts": "1.000001", "action_id": "approve"}, http.StatusNotFound},
		{"another user's ephemeral", "/click", map[string]string{"user": Bob, "channel": eph.Channel, "ts": eph.TS, "action_id": "x"}, http.StatusNotFound},
		{"no such button", "/click", map[string]string{"user": Bob, "channel": ApproverChannel, "ts": m.TS, "action_id": "nope"}, http.StatusConflict},
		{"wrong value", "/click", map[string]string{"user": Bob, "channel": ApproverChannel, "ts": m.TS, "action_id": "approve", "value": "req-2"}, http.StatusConflict},
		{"empty message", "/message", map[string]string{"user": Bob, "channel": GeneralChannel, "text": " "}, http.StatusBadRequest},
		{"message in someone else's DM", "/message", map[string]string{"user": Bob, "channel": "D" + Alice, "text": "hi"}, http.StatusBadRequest},
	} {
		if status, out := f.post(tc.path, tc.body); status != tc.want || out["error"] == "" {
			t.Errorf("%s: %d %v, want %d and an error", tc.name, status, out, tc.want)
		}
	}
	// Only JSON is accepted, so another site's form cannot act.
	resp, err := http.Post(f.url+"/command", "application/x-www-form-urlencoded", strings.NewReader("user=U0ALICE&text=help"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form POST /command: %d", resp.StatusCode)
	}
	f.app.mu.Lock()
	defer f.app.mu.Unlock()
	if len(f.app.commands) != 1 || len(f.app.clicks) != 0 {
		t.Errorf("refused requests reached the app: %d commands, %d clicks", len(f.app.commands), len(f.app.clicks))
	}
}

func TestCommandFailureIsShown(t *testing.T) {
	f := newFixture(t)
	f.app.status = http.StatusInternalServerError
	status, out := f.post("/command", map[string]string{"user": Alice, "text": "list"})
	if status != http.StatusBadGateway || !strings.Contains(fmt.Sprint(out["error"]), "HTTP 500") {
		t.Fatalf("POST /command: %d %v", status, out)
	}
	eph := f.state().Ephemerals[Alice]
	if len(eph) != 2 || eph[0].Kind != "command" || eph[1].Kind != "error" || !strings.Contains(eph[1].Text, "failed") {
		t.Errorf("alice sees %+v", eph)
	}
}

func TestMessage(t *testing.T) {
	f := newFixture(t)
	status, out := f.post("/message", map[string]string{"user": Erin, "channel": GeneralChannel, "text": "hello *all*"})
	if status != http.StatusOK || out["user"] != Erin {
		t.Fatalf("POST /message: %d %v", status, out)
	}
	if msgs := f.slack.Messages(GeneralChannel); len(msgs) != 1 || msgs[0].Text != "hello *all*" || msgs[0].User != Erin {
		t.Errorf("#general: %+v", msgs)
	}
	// In one's own DM with the bot too.
	if status, out := f.post("/message", map[string]string{"user": Erin, "channel": "D" + Erin, "text": "note to self"}); status != http.StatusOK {
		t.Errorf("POST /message to own DM: %d %v", status, out)
	}
}

func TestSlackStandInIsMounted(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest(http.MethodPost, f.url+SlackPrefix+"/api/auth.test", nil)
	req.Header.Set("Authorization", "Bearer "+BotToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if out["ok"] != true || out["user_id"] != fakeslack.DefaultBotUserID {
		t.Errorf("auth.test through the prefix: %v", out)
	}
}

// sse reads server-sent events.
type sse struct {
	t    *testing.T
	body io.ReadCloser
	r    *bufio.Reader
}

func openEvents(t *testing.T, url string) *sse {
	t.Helper()
	resp, err := http.Get(url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sse{t: t, body: resp.Body, r: bufio.NewReader(resp.Body)}
}

// next returns the next event's data, or an error at the end of the stream.
func (s *sse) next() (event, error) {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return event{}, err
		}
		if data, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: "); ok {
			var ev event
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				s.t.Fatalf("event %q: %v", data, err)
			}
			return ev, nil
		}
	}
}

// nextWithin is next with a deadline.
func (s *sse) nextWithin(d time.Duration) (event, error) {
	type result struct {
		ev  event
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ev, err := s.next()
		ch <- result{ev, err}
	}()
	select {
	case r := <-ch:
		return r.ev, r.err
	case <-time.After(d):
		s.t.Fatalf("no event within %s", d)
		return event{}, nil
	}
}

func TestEventsStreamChanges(t *testing.T) {
	f := newFixture(t)
	events := openEvents(t, f.url)
	if ev, err := events.nextWithin(5 * time.Second); err != nil || ev.Kind != "hello" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	m := f.request()
	seen := map[string]bool{}
	for !(seen["message"] && seen["ephemeral"] && seen["resync"]) {
		ev, err := events.nextWithin(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		seen[ev.Kind] = true
		switch ev.Kind {
		case fakeslack.EventMessage:
			if ev.Message == nil || ev.Message.TS != m.TS || len(ev.Message.Blocks) == 0 {
				t.Errorf("message event %+v", ev.Message)
			}
		case fakeslack.EventEphemeral:
			if ev.Message == nil || ev.Message.ForUser != Alice {
				t.Errorf("ephemeral event %+v", ev.Message)
			}
		}
	}
	if status, out := f.post("/click", map[string]string{"user": Bob, "channel": ApproverChannel, "ts": m.TS, "action_id": "approve"}); status != http.StatusOK {
		t.Fatalf("POST /click: %d %v", status, out)
	}
	for {
		ev, err := events.nextWithin(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == fakeslack.EventUpdate {
			if ev.Message.TS != m.TS || ev.Message.Updates != 1 || strings.Contains(string(ev.Message.Blocks), "approve") {
				t.Errorf("update event %+v", ev.Message)
			}
			break
		}
	}
	// Close ends open streams, so a server can shut down.
	f.pg.Close()
	for {
		if _, err := events.nextWithin(5 * time.Second); err != nil {
			break
		}
	}
	// A stream closed by the stand-in's Close ends too.
	f2 := newFixture(t)
	events2 := openEvents(t, f2.url)
	if _, err := events2.nextWithin(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	_ = f2.slack.Close()
	for {
		if _, err := events2.nextWithin(5 * time.Second); err != nil {
			break
		}
	}
}

func TestCompareTS(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.000001", "1.000002", -1},
		{"9.000000", "10.000000", -1},
		{"10.5", "10.5", 0},
		{"1700000000.000002", "1700000000.000001", 1},
	} {
		if got := compareTS(tc.a, tc.b); (got > 0) != (tc.want > 0) || (got < 0) != (tc.want < 0) {
			t.Errorf("compareTS(%s, %s) = %d, want sign of %d", tc.a, tc.b, got, tc.want)
		}
	}
}
