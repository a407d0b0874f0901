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

	mu          sync.Mutex
	commands    []url.Values
	clicks      []map[string]any
	submissions []map[string]any
	events      []map[string]any
	introspects []*http.Request
}

func (a *stubApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path == "/v1/introspect" {
		// As gatepass would answer a production service.
		r.Body = io.NopCloser(bytes.NewReader(body))
		_ = r.ParseForm()
		a.mu.Lock()
		a.introspects = append(a.introspects, r)
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+IntrospectionKey {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		_, _ = fmt.Fprintf(w, `{"active":%t}`, r.PostForm.Get("token") == "gpass_good")
		return
	}
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
		switch form.Get("text") {
		case "":
			// /access alone: the request form, like gatepass's.
			a.call("views.open", map[string]any{"trigger_id": form.Get("trigger_id"), "view": stubForm("")})
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"response_type":"ephemeral","text":"Opening the request form…"}`)
			return
		case "remind":
			// A message with a reminder in its thread, and one broadcast.
			parent := a.call("chat.postMessage", map[string]any{"channel": ApproverChannel, "text": "A request waits"})
			a.call("chat.postMessage", map[string]any{"channel": ApproverChannel, "thread_ts": parent, "text": ":bell: <@U0BOB> still waiting"})
			a.call("chat.postMessage", map[string]any{"channel": ApproverChannel, "thread_ts": parent, "text": "Expired", "reply_broadcast": true})
			w.WriteHeader(http.StatusOK)
			return
		}
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
	case fakeslack.AppEventsPath:
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			a.t.Errorf("event body: %v", err)
		}
		a.mu.Lock()
		a.events = append(a.events, ev)
		a.mu.Unlock()
		inner, _ := ev["event"].(map[string]any)
		if inner["type"] == "app_home_opened" {
			a.publishHome(inner["user"].(string), "opened")
		}
		w.WriteHeader(http.StatusOK)
	case fakeslack.AppInteractionsPath:
		var p map[string]any
		if err := json.Unmarshal([]byte(form.Get("payload")), &p); err != nil {
			a.t.Errorf("interaction payload: %v", err)
		}
		user := p["user"].(map[string]any)["id"].(string)
		if p["type"] == "view_submission" {
			a.mu.Lock()
			a.submissions = append(a.submissions, p)
			a.mu.Unlock()
			values := p["view"].(map[string]any)["state"].(map[string]any)["values"].(map[string]any)
			dur, _ := values["duration"].(map[string]any)["duration"].(map[string]any)["value"].(string)
			if dur != "30m" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = fmt.Fprintf(w, `{"response_action":"errors","errors":{"duration":%q}}`, fmt.Sprintf("%q is not a duration", dur))
				return
			}
			w.WriteHeader(http.StatusOK) // closes the modal
			return
		}
		a.mu.Lock()
		a.clicks = append(a.clicks, p)
		a.mu.Unlock()
		container := p["container"].(map[string]any)
		if container["type"] == "view" {
			view := p["view"].(map[string]any)
			action := p["actions"].([]any)[0].(map[string]any)
			switch {
			case view["type"] == "modal" && action["action_id"] == "resource":
				chosen := action["selected_option"].(map[string]any)["value"].(string)
				a.call("views.update", map[string]any{"view_id": view["id"], "hash": view["hash"], "view": stubForm(chosen)})
			case view["type"] == "home":
				a.publishHome(user, "clicked "+action["action_id"].(string))
			}
			w.WriteHeader(http.StatusOK)
			return
		}
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

// stubForm is a request form like gatepass's: a resource select that
// dispatches its action, and a level select listing the chosen resource's
// levels under a block ID that names it.
func stubForm(resource string) map[string]any {
	option := func(v string) map[string]any {
		return map[string]any{"text": map[string]any{"type": "plain_text", "text": v}, "value": v}
	}
	resSelect := map[string]any{"type": "static_select", "action_id": "resource", "placeholder": map[string]any{"type": "plain_text", "text": "Choose a resource"},
		"options": []any{option("prod-db"), option("billing-api")}}
	levels, levelBlock := []any{option("read"), option("write"), option("admin")}, "level"
	if resource != "" {
		resSelect["initial_option"] = option(resource)
		levels, levelBlock = []any{option("read"), option("write")}, "level:"+resource
	}
	input := func(id, label string, el map[string]any) map[string]any {
		return map[string]any{"type": "input", "block_id": id, "label": map[string]any{"type": "plain_text", "text": label}, "element": el}
	}
	res := input("resource", "Resource", resSelect)
	res["dispatch_action"] = true
	reason := input("reason", "Reason", map[string]any{"type": "plain_text_input", "action_id": "reason", "multiline": true})
	reason["optional"] = true
	return map[string]any{
		"type": "modal", "callback_id": "gatepass_request",
		"title":  map[string]any{"type": "plain_text", "text": "Request access"},
		"submit": map[string]any{"type": "plain_text", "text": "Request"},
		"close":  map[string]any{"type": "plain_text", "text": "Cancel"},
		"blocks": []any{
			res,
			input(levelBlock, "Level", map[string]any{"type": "static_select", "action_id": "level", "options": levels}),
			input("duration", "Duration", map[string]any{"type": "plain_text_input", "action_id": "duration"}),
			reason,
		},
	}
}

// publishHome publishes a Home tab with one button that says what
// happened last.
func (a *stubApp) publishHome(user, what string) {
	a.call("views.publish", map[string]any{"user_id": user, "view": map[string]any{
		"type": "home",
		"blocks": []any{
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "Home of <@" + user + ">: " + what}},
			map[string]any{"type": "actions", "block_id": "mine:req-1", "elements": []any{
				map[string]any{"type": "button", "action_id": "extend", "value": "req-1", "text": map[string]any{"type": "plain_text", "text": "Extend"}},
			}},
		},
	}})
}

// call calls the stand-in's Web API with the bot token and returns the
// ts of a posted message.
func (a *stubApp) call(method string, args map[string]any) string {
	b, _ := json.Marshal(args)
	req, _ := http.NewRequest(http.MethodPost, a.api+method, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+BotToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Errorf("%s: %v", method, err)
		return ""
	}
	defer resp.Body.Close()
	var out struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		TS    string `json:"ts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK {
		a.t.Errorf("%s: ok=%v error=%q (%v)", method, out.OK, out.Error, err)
	}
	return out.TS
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
	app := &stubApp{t: t}
	appSrv := httptest.NewServer(app)
	pg, err := New(Config{Slack: slack, AppURL: appSrv.URL, IntrospectionKey: IntrospectionKey,
		Proxy: &ProxyDemo{Resource: ProxyResource, URL: "http://127.0.0.1:1", Path: "/invoices"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pg)
	slack.SetPublicURL(srv.URL + SlackPrefix)
	app.api = srv.URL + SlackPrefix + "/api/"
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
	// Short enough to be watched: a reminder after a minute, a 2-minute
	// grant warned with an Extend button after one.
	if p.PendingReminder != time.Minute || p.WarnBefore != time.Minute || p.ReviewReminder != 5*time.Minute {
		t.Errorf("pending_reminder %s, warn_before %s, review_reminder %s", p.PendingReminder, p.WarnBefore, p.ReviewReminder)
	}
	if p.TicketURL != TicketURL || p.TicketLink("prod-db", "INC-1") != "https://tracker.example/browse/INC-1" {
		t.Errorf("ticket_url %q", p.TicketURL)
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
	if r, w := db.Levels["read"], db.Levels["write"]; r.MaxDuration != 15*time.Minute || r.Approvals != 1 || w.MaxDuration != 5*time.Minute || w.Approvals != 2 {
		t.Errorf("prod-db levels %+v", db.Levels)
	}
	if db.Provider != nil {
		t.Errorf("prod-db has a provider: %+v", db.Provider)
	}
	if !slices.Equal(db.Approvers, []string{Bob, Carol, OnCallGroup}) {
		t.Errorf("prod-db approvers %v", db.Approvers)
	}
	api := p.Resources[ProxyResource]
	if api == nil || api.Provider == nil || api.Provider.HTTPProxy == nil {
		t.Fatalf("%s has no http_proxy: %+v", ProxyResource, api)
	}
	if hp := api.Provider.HTTPProxy; hp.Listen != DefaultProxyAddr || hp.Upstream != DefaultAPIURL || hp.UpstreamHeaders["Authorization"] != "Bearer ${"+APIKeyEnv+"}" {
		t.Errorf("http_proxy %+v", hp)
	}
	if r, w := api.Levels["read"], api.Levels["write"]; !slices.Equal(r.Methods, []string{"GET", "HEAD"}) || !slices.Contains(w.Methods, "POST") || r.MaxDuration > 15*time.Minute || w.MaxDuration > 15*time.Minute {
		t.Errorf("%s levels %+v", ProxyResource, api.Levels)
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

func TestPolicyFor(t *testing.T) {
	path := filepath.Join(t.TempDir(), PolicyFile)
	if err := os.WriteFile(path, PolicyFor("127.0.0.1:19001", "http://127.0.0.1:19002"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, _, err := workflow.LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	if hp := p.Resources[ProxyResource].Provider.HTTPProxy; hp.Listen != "127.0.0.1:19001" || hp.Upstream != "http://127.0.0.1:19002" {
		t.Errorf("http_proxy %+v", hp)
	}
	if !bytes.Equal(PolicyFor("", ""), Policy()) {
		t.Error("PolicyFor with no addresses is not Policy")
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
	if st.Introspection == nil || st.Introspection.Key != IntrospectionKey || st.Introspection.Path != "/v1/introspect" {
		t.Errorf("introspection %+v", st.Introspection)
	}
	if st.Proxy == nil || st.Proxy.Resource != ProxyResource || st.Proxy.Path != "/invoices" {
		t.Errorf("proxy %+v", st.Proxy)
	}
	if len(st.Views) != 5 || st.Views[Alice].Modal != nil || st.Views[Alice].Home != nil || st.ViewsAt == 0 {
		t.Errorf("views %+v at %d", st.Views, st.ViewsAt)
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

// waitFor polls cond until it holds.
func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// modal returns the modal user sees, per GET /state.
func (f *fixture) modal(user string) *viewOut {
	return f.state().Views[user].Modal
}

func blockIDs(v *viewOut) []string {
	var blocks []struct {
		BlockID string `json:"block_id"`
	}
	_ = json.Unmarshal(v.Blocks, &blocks)
	var ids []string
	for _, b := range blocks {
		ids = append(ids, b.BlockID)
	}
	return ids
}

// The request form: opened by a slash command, shown to its typist only,
// updated by a select that dispatches its action, answered with errors
// beside the field, closed by a good submission.
func TestModal(t *testing.T) {
	f := newFixture(t)
	events := openEvents(t, f.url)
	if ev, err := events.nextWithin(5 * time.Second); err != nil || ev.Kind != "hello" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	if status, out := f.post("/command", map[string]string{"user": Alice, "channel": ApproverChannel, "text": "/access"}); status != http.StatusOK {
		t.Fatalf("POST /command: %d %v", status, out)
	}
	m := f.modal(Alice)
	if m == nil || m.User != Alice || m.Type != "modal" || m.Title != "Request access" || m.Submit != "Request" || m.Close != "Cancel" || m.Depth != 1 {
		t.Fatalf("alice's modal: %+v", m)
	}
	if got := strings.Join(blockIDs(m), ","); got != "resource,level,duration,reason" {
		t.Errorf("blocks %s", got)
	}
	if f.modal(Bob) != nil {
		t.Error("bob sees alice's modal")
	}
	// Open pages hear of it.
	for {
		ev, err := events.nextWithin(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == eventViews {
			if ev.Views[Alice].Modal == nil || ev.Views[Alice].Modal.ID != m.ID || ev.ViewsAt == 0 {
				t.Errorf("views event %+v", ev.Views)
			}
			break
		}
	}

	// Picking a resource goes to the app, which updates the form.
	status, out := f.post("/view/select", map[string]string{"user": Alice, "view_id": m.ID, "block_id": "resource", "action_id": "resource", "value": "prod-db"})
	if status != http.StatusOK || out["status"] != float64(200) {
		t.Fatalf("POST /view/select: %d %v", status, out)
	}
	f.app.mu.Lock()
	pick := f.app.clicks[len(f.app.clicks)-1]
	f.app.mu.Unlock()
	if pick["container"].(map[string]any)["view_id"] != m.ID || pick["actions"].([]any)[0].(map[string]any)["selected_option"].(map[string]any)["value"] != "prod-db" {
		t.Errorf("the app got %v", pick)
	}
	updated := f.modal(Alice)
	if updated.ID != m.ID || updated.Hash == m.Hash || !slices.Contains(blockIDs(updated), "level:prod-db") || !strings.Contains(string(updated.Blocks), `"initial_option"`) {
		t.Fatalf("the form after the pick: %+v", updated)
	}
	// A select without dispatch_action stays in the page, as in Slack.
	status, out = f.post("/view/select", map[string]string{"user": Alice, "view_id": m.ID, "block_id": "level:prod-db", "action_id": "level", "value": "read"})
	if status != http.StatusOK || out["status"] != float64(0) {
		t.Errorf("select without dispatch: %d %v", status, out)
	}
	if status, out = f.post("/view/select", map[string]string{"user": Alice, "view_id": m.ID, "block_id": "level:prod-db", "action_id": "level", "value": "admin"}); status != http.StatusBadRequest {
		t.Errorf("an option the select does not have: %d %v", status, out)
	}

	// A required field left empty is refused before the app hears of it.
	if status, out = f.post("/view/submit", map[string]any{"user": Alice, "view_id": m.ID, "values": map[string]any{}}); status != http.StatusUnprocessableEntity {
		t.Errorf("submit without a duration: %d %v", status, out)
	}
	// A bad duration comes back beside the field; the modal stays open.
	values := map[string]any{
		"level:prod-db": map[string]any{"level": map[string]string{"value": "read"}},
		"duration":      map[string]any{"duration": map[string]string{"value": "forever"}},
		"reason":        map[string]any{"reason": map[string]string{"value": "checking"}},
	}
	status, out = f.post("/view/submit", map[string]any{"user": Alice, "view_id": m.ID, "values": values})
	if status != http.StatusOK || out["response_action"] != "errors" || !strings.Contains(fmt.Sprint(out["errors"]), "forever") {
		t.Fatalf("submit with a bad duration: %d %v", status, out)
	}
	if m := f.modal(Alice); m == nil || m.Errors["duration"] != `"forever" is not a duration` {
		t.Fatalf("the modal after errors: %+v", m)
	}
	// bob cannot submit alice's form.
	if status, out = f.post("/view/submit", map[string]any{"user": Bob, "view_id": m.ID, "values": values}); status != http.StatusConflict {
		t.Errorf("bob submits alice's form: %d %v", status, out)
	}
	values["duration"] = map[string]any{"duration": map[string]string{"value": "30m"}}
	status, out = f.post("/view/submit", map[string]any{"user": Alice, "view_id": m.ID, "values": values})
	if status != http.StatusOK || out["response_action"] != nil {
		t.Fatalf("good submission: %d %v", status, out)
	}
	if m := f.modal(Alice); m != nil {
		t.Errorf("the modal is still open: %+v", m)
	}
	f.app.mu.Lock()
	sub := f.app.submissions[len(f.app.submissions)-1]
	f.app.mu.Unlock()
	state, _ := json.Marshal(sub["view"].(map[string]any)["state"])
	for _, want := range []string{`"resource":{"resource":{"selected_option"`, `"value":"prod-db"`, `"level":{"selected_option"`, `"value":"read"`, `"value":"30m"`, `"value":"checking"`} {
		if !strings.Contains(string(state), want) {
			t.Errorf("the submission's state lacks %s: %s", want, state)
		}
	}
	if status, _ := f.post("/view/submit", map[string]any{"user": Alice, "view_id": m.ID, "values": values}); status != http.StatusConflict {
		t.Errorf("submitting a closed modal: %d", status)
	}

	// Closing.
	f.post("/command", map[string]string{"user": Alice, "text": ""})
	m = f.modal(Alice)
	if m == nil {
		t.Fatal("no modal")
	}
	if status, out := f.post("/view/close", map[string]string{"user": Alice, "view_id": m.ID}); status != http.StatusOK {
		t.Errorf("POST /view/close: %d %v", status, out)
	}
	if f.modal(Alice) != nil {
		t.Error("the modal is still open after closing it")
	}
	if status, _ := f.post("/view/close", map[string]string{"user": "U0NOBODY", "view_id": m.ID}); status != http.StatusBadRequest {
		t.Errorf("unknown user closes: %d", status)
	}
}

// The Home tab: opened with app_home_opened, shown as published, clicked
// through the view.
func TestHome(t *testing.T) {
	f := newFixture(t)
	if status, out := f.post("/home", map[string]string{"user": Bob}); status != http.StatusOK || out["status"] != float64(200) {
		t.Fatalf("POST /home: %d %v", status, out)
	}
	f.app.mu.Lock()
	ev := f.app.events[0]
	f.app.mu.Unlock()
	if inner := ev["event"].(map[string]any); inner["type"] != "app_home_opened" || inner["user"] != Bob || inner["tab"] != "home" {
		t.Errorf("the app got %v", ev)
	}
	var home *viewOut
	f.waitFor("bob's Home tab", func() bool { home = f.state().Views[Bob].Home; return home != nil })
	if home.Type != "home" || home.User != Bob || !strings.Contains(string(home.Blocks), `@U0BOB\u003e: opened`) {
		t.Errorf("bob's Home tab: %+v", home)
	}
	if h := f.state().Views[Alice].Home; h != nil {
		t.Errorf("alice has a Home tab: %+v", h)
	}
	status, out := f.post("/view/click", map[string]string{"user": Bob, "view_id": home.ID, "action_id": "extend", "value": "req-1"})
	if status != http.StatusOK {
		t.Fatalf("POST /view/click: %d %v", status, out)
	}
	f.app.mu.Lock()
	click := f.app.clicks[len(f.app.clicks)-1]
	f.app.mu.Unlock()
	if c := click["container"].(map[string]any); c["type"] != "view" || c["view_id"] != home.ID || click["view"].(map[string]any)["type"] != "home" || click["user"].(map[string]any)["id"] != Bob {
		t.Errorf("the app got %v", click)
	}
	f.waitFor("the Home tab to be published again", func() bool {
		h := f.state().Views[Bob].Home
		return h != nil && h.ID == home.ID && h.Updates == 1 && strings.Contains(string(h.Blocks), "clicked extend")
	})
	for _, tc := range []struct {
		name string
		body map[string]string
		want int
	}{
		{"no such button", map[string]string{"user": Bob, "view_id": home.ID, "action_id": "revoke"}, http.StatusConflict},
		{"wrong value", map[string]string{"user": Bob, "view_id": home.ID, "action_id": "extend", "value": "req-2"}, http.StatusConflict},
		{"someone else's Home", map[string]string{"user": Carol, "view_id": home.ID, "action_id": "extend"}, http.StatusNotFound},
		{"unknown user", map[string]string{"user": "U0NOBODY", "view_id": home.ID, "action_id": "extend"}, http.StatusBadRequest},
	} {
		if status, out := f.post("/view/click", tc.body); status != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, status, out, tc.want)
		}
	}
	if status, _ := f.post("/home", map[string]string{"user": "U0NOBODY"}); status != http.StatusBadRequest {
		t.Errorf("unknown user opens a Home tab: %d", status)
	}
}

// Thread replies are shown under their message, in GET /state (which
// Messages alone would lose) and as events.
func TestThreads(t *testing.T) {
	f := newFixture(t)
	events := openEvents(t, f.url)
	if _, err := events.nextWithin(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if status, out := f.post("/command", map[string]string{"user": Alice, "text": "remind"}); status != http.StatusOK {
		t.Fatalf("POST /command: %d %v", status, out)
	}
	msgs := f.state().conversation(ApproverChannel).Messages
	if len(msgs) != 2 {
		t.Fatalf("#access-approvals shows %d messages, want the parent and the broadcast reply: %+v", len(msgs), msgs)
	}
	parent, broadcast := msgs[0], msgs[1]
	if parent.Text != "A request waits" || len(parent.Replies) != 2 || parent.Replies[0].Text != ":bell: <@U0BOB> still waiting" || parent.Replies[0].ThreadTS != parent.TS {
		t.Errorf("the parent and its replies: %+v", parent)
	}
	if !broadcast.Broadcast || broadcast.ThreadTS != parent.TS || len(broadcast.Replies) != 0 || parent.Replies[1].TS != broadcast.TS {
		t.Errorf("the broadcast reply: %+v", broadcast)
	}
	var replies []message
	for len(replies) < 2 {
		ev, err := events.nextWithin(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == fakeslack.EventMessage && ev.Message.ThreadTS != "" {
			replies = append(replies, *ev.Message)
		}
	}
	if replies[0].ThreadTS != parent.TS || replies[0].Broadcast || !replies[1].Broadcast {
		t.Errorf("reply events %+v", replies)
	}
}

// /v1/introspect on the page's own address is gatepass's.
func TestIntrospectIsForwarded(t *testing.T) {
	f := newFixture(t)
	call := func(key, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, f.url+"/v1/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := call(IntrospectionKey, "gpass_good"); status != http.StatusOK || body != `{"active":true}` {
		t.Errorf("introspect: %d %s", status, body)
	}
	if status, body := call("wrong", "gpass_good"); status != http.StatusUnauthorized {
		t.Errorf("introspect with a wrong key: %d %s", status, body)
	}
	f.app.mu.Lock()
	got := f.app.introspects[0]
	f.app.mu.Unlock()
	if got.Method != http.MethodPost || got.URL.Path != "/v1/introspect" || got.PostForm.Get("token") != "gpass_good" {
		t.Errorf("gatepass got %s %s %v", got.Method, got.URL.Path, got.PostForm)
	}

	// Without AppURL there is nothing to forward to.
	slack := fakeslack.New(SlackOptions(testSecret, ""))
	defer slack.Close()
	pg, err := New(Config{Slack: slack})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	pg.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/introspect", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("introspect without AppURL: %d", rec.Code)
	}
	if _, err := New(Config{Slack: slack, AppURL: "ftp://x"}); err == nil {
		t.Error("New accepted a non-HTTP AppURL")
	}
}

func TestDemoAPI(t *testing.T) {
	srv := httptest.NewServer(NewDemoAPI("k3y"))
	defer srv.Close()
	do := func(method, path, auth, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("X-Gatepass-User", Alice)
		req.Header.Set("X-Gatepass-Ticket", "INC-9")
		req.Header.Set("X-Gatepass-Request", "req-9")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	// Only the proxy's key opens it: not nothing, not a gatepass token.
	for _, auth := range []string{"", "Bearer gpass_x", "Bearer k3", "Bearer k3yy"} {
		if status, out := do(http.MethodGet, "/invoices", auth, ""); status != http.StatusUnauthorized || out["error"] != "unauthorized" {
			t.Errorf("GET with %q: %d %v", auth, status, out)
		}
	}
	status, out := do(http.MethodGet, "/invoices", "Bearer k3y", "")
	if status != http.StatusOK || len(out["invoices"].([]any)) != 3 {
		t.Fatalf("GET /invoices: %d %v", status, out)
	}
	seen := out["seen"].(map[string]any)
	if seen["X-Gatepass-User"] != Alice || seen["X-Gatepass-Ticket"] != "INC-9" || seen["X-Gatepass-Request"] != "req-9" || seen["authorization_is_the_proxy_key"] != true || seen["gatepass_token_reached_the_api"] != false {
		t.Errorf("seen %v", seen)
	}
	status, out = do(http.MethodPost, "/invoices", "Bearer k3y", `{"customer":"Acme Corp","amount":120}`)
	inv, _ := out["invoice"].(map[string]any)
	if status != http.StatusCreated || inv["id"] != "INV-1004" || inv["customer"] != "Acme Corp" || inv["amount"] != float64(120) || inv["created_by"] != Alice || inv["ticket"] != "INC-9" {
		t.Errorf("POST /invoices: %d %v", status, out)
	}
	if status, out = do(http.MethodGet, "/invoices/INV-1004", "Bearer k3y", ""); status != http.StatusOK {
		t.Errorf("GET /invoices/INV-1004: %d %v", status, out)
	}
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodPost, "/invoices", "not json", http.StatusBadRequest},
		{http.MethodDelete, "/invoices", "", http.StatusMethodNotAllowed},
		{http.MethodGet, "/invoices/INV-1", "", http.StatusNotFound},
		{http.MethodGet, "/nope", "", http.StatusNotFound},
		{http.MethodGet, "/", "", http.StatusOK},
	} {
		if status, out := do(tc.method, tc.path, "Bearer k3y", tc.body); status != tc.want {
			t.Errorf("%s %s: %d %v, want %d", tc.method, tc.path, status, out, tc.want)
		}
	}
}
