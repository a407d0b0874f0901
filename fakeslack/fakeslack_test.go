package fakeslack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/gatepass/gatepass/fakeslack"
)

const (
	botToken = "xoxb-test-token"
	appToken = "xapp-test-token"
	secret   = "signing-secret"
	alice    = "U0ALICE"
	bob      = "U0BOB"
	opsID    = "C0OPS"
)

var _ http.Handler = (*fakeslack.Server)(nil)

// testOptions returns the options most tests use.
func testOptions() fakeslack.Options {
	return fakeslack.Options{
		BotToken:      botToken,
		AppToken:      appToken,
		SigningSecret: secret,
		Users: []fakeslack.User{
			{ID: alice, Name: "alice", RealName: "Alice Adams"},
			{ID: bob, Name: "bob", RealName: "Bob Brown"},
		},
		Groups:   map[string][]string{"S0ONCALL": {alice, bob}, "S0EMPTY": nil},
		Channels: []fakeslack.Channel{{ID: opsID, Name: "ops"}},
	}
}

// startServer serves s over httptest and returns its base URL.
func startServer(t *testing.T, s *fakeslack.Server) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	s.SetPublicURL(srv.URL)
	return srv.URL
}

func newServer(t *testing.T, opts fakeslack.Options) (*fakeslack.Server, string, *slack.Client) {
	t.Helper()
	s := fakeslack.New(opts)
	base := startServer(t, s)
	return s, base, slack.New(botToken, slack.OptionAPIURL(base+"/api/"))
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// approvalBlocks is a request message with Approve/Deny buttons.
func approvalBlocks(requestID string) []slack.Block {
	return []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "Access request", false, false)),
		slack.NewSectionBlock(
			slack.NewTextBlockObject(slack.MarkdownType, "*alice* wants prod-db for 1h", false, false),
			[]*slack.TextBlockObject{slack.NewTextBlockObject(slack.MarkdownType, "Reason: incident 42", false, false)},
			nil,
		),
		slack.NewContextBlock("ctx", slack.NewTextBlockObject(slack.MarkdownType, "request "+requestID, false, false)),
		slack.NewActionBlock("decide",
			slack.NewButtonBlockElement("approve", requestID, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)).WithStyle(slack.StylePrimary),
			slack.NewButtonBlockElement("deny", requestID, slack.NewTextBlockObject(slack.PlainTextType, "Deny", false, false)).WithStyle(slack.StyleDanger),
		),
	}
}

func TestPostMessageAndUpdate(t *testing.T) {
	t.Parallel()
	s, _, api := newServer(t, testOptions())

	ch, ts, err := api.PostMessage(opsID, slack.MsgOptionText("Access request", false), slack.MsgOptionBlocks(approvalBlocks("r1")...))
	if err != nil {
		t.Fatalf("PostMessage: %v", err)
	}
	if ch != opsID || ts == "" {
		t.Fatalf("PostMessage = (%q, %q), want channel %q and a ts", ch, ts, opsID)
	}

	msgs := s.Messages(opsID)
	if len(msgs) != 1 {
		t.Fatalf("Messages = %d, want 1", len(msgs))
	}
	m := msgs[0]
	if m.TS != ts || m.User != fakeslack.DefaultBotUserID || m.Ephemeral || m.Updates != 0 {
		t.Errorf("message = %+v", m)
	}
	wantButtons := []fakeslack.Button{
		{BlockID: "decide", ActionID: "approve", Text: "Approve", Value: "r1", Style: "primary"},
		{BlockID: "decide", ActionID: "deny", Text: "Deny", Value: "r1", Style: "danger"},
	}
	if got := fakeslack.Buttons(m); !slices.Equal(got, wantButtons) {
		t.Errorf("Buttons = %+v, want %+v", got, wantButtons)
	}
	text := fakeslack.PlainText(m)
	for _, want := range []string{"Access request", "*alice* wants prod-db", "Reason: incident 42", "request r1", "Approve", "Deny"} {
		if !strings.Contains(text, want) {
			t.Errorf("PlainText = %q, missing %q", text, want)
		}
	}

	// The bot replaces the buttons with the outcome.
	done := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Approved by bob", false, false), nil, nil)
	if _, _, _, err := api.UpdateMessage(opsID, ts, slack.MsgOptionText("Approved", false), slack.MsgOptionBlocks(done)); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	m, ok := s.Message(opsID, ts)
	if !ok {
		t.Fatal("Message not found after update")
	}
	if m.Updates != 1 || len(m.History) != 1 || m.Text != "Approved" {
		t.Errorf("after update: Updates=%d History=%d Text=%q", m.Updates, len(m.History), m.Text)
	}
	if b := fakeslack.Buttons(m); len(b) != 0 {
		t.Errorf("Buttons after update = %+v, want none", b)
	}
	if got := m.History[0].Text; got != "Access request" {
		t.Errorf("History[0].Text = %q", got)
	}
	if len(fakeslack.Buttons(fakeslack.Message{Blocks: m.History[0].Blocks})) != 2 {
		t.Error("History[0] lost its buttons")
	}
	if !strings.Contains(fakeslack.PlainText(m), "Approved by bob") {
		t.Errorf("PlainText after update = %q", fakeslack.PlainText(m))
	}

	_, _, _, err = api.UpdateMessage(opsID, "1.000001", slack.MsgOptionText("x", false))
	if err == nil || err.Error() != "message_not_found" {
		t.Errorf("UpdateMessage(unknown ts) error = %v, want message_not_found", err)
	}

	if _, _, err := api.DeleteMessage(opsID, ts); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	if n := len(s.Messages(opsID)); n != 0 {
		t.Errorf("Messages after delete = %d, want 0", n)
	}
}

func TestDirectMessages(t *testing.T) {
	t.Parallel()
	s, _, api := newServer(t, testOptions())

	ch, ts, err := api.PostMessage(alice, slack.MsgOptionText("your access expires soon", false))
	if err != nil {
		t.Fatalf("PostMessage to user: %v", err)
	}
	if ch != "D"+alice {
		t.Errorf("channel = %q, want %q", ch, "D"+alice)
	}
	for _, ref := range []string{alice, "D" + alice} {
		if msgs := s.Messages(ref); len(msgs) != 1 || msgs[0].TS != ts {
			t.Errorf("Messages(%q) = %+v", ref, msgs)
		}
	}
	if dm := s.DM(alice); len(dm) != 1 || dm[0].Text != "your access expires soon" {
		t.Errorf("DM(alice) = %+v", dm)
	}
	if dm := s.DM(bob); len(dm) != 0 {
		t.Errorf("DM(bob) = %+v, want none", dm)
	}
	if !slices.Contains(s.Channels(), fakeslack.Channel{ID: "D" + alice, Name: "alice"}) {
		t.Errorf("Channels = %+v, want DM with alice", s.Channels())
	}

	// chat.update accepts both the user ID and the DM channel ID.
	for i, ref := range []string{alice, "D" + alice} {
		if _, _, _, err := api.UpdateMessage(ref, ts, slack.MsgOptionText(fmt.Sprintf("v%d", i), false)); err != nil {
			t.Fatalf("UpdateMessage(%q): %v", ref, err)
		}
	}
	if m, _ := s.Message("D"+alice, ts); m.Updates != 2 || m.Text != "v1" {
		t.Errorf("after updates: %+v", m)
	}

	c, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{bob}})
	if err != nil || c.ID != "D"+bob {
		t.Fatalf("OpenConversation = %+v, %v", c, err)
	}
}

func TestPostEphemeral(t *testing.T) {
	t.Parallel()
	s, _, api := newServer(t, testOptions())

	ts, err := api.PostEphemeral(opsID, bob, slack.MsgOptionText("only bob sees this", false))
	if err != nil {
		t.Fatalf("PostEphemeral: %v", err)
	}
	eph := s.Ephemerals(bob)
	if len(eph) != 1 {
		t.Fatalf("Ephemerals(bob) = %d, want 1", len(eph))
	}
	if e := eph[0]; e.TS != ts || !e.Ephemeral || e.ForUser != bob || e.Channel != opsID || e.Text != "only bob sees this" {
		t.Errorf("ephemeral = %+v", e)
	}
	if len(s.Ephemerals(alice)) != 0 || len(s.Messages(opsID)) != 0 {
		t.Error("ephemeral message leaked to alice or the channel")
	}
	if m, ok := s.Message(opsID, ts); !ok || !m.Ephemeral {
		t.Errorf("Message(ephemeral) = %+v, %v", m, ok)
	}
}

func TestDirectoryMethods(t *testing.T) {
	t.Parallel()
	_, _, api := newServer(t, testOptions())

	tests := []struct {
		name    string
		call    func() (any, error)
		want    any
		wantErr string
	}{
		{
			name: "group members",
			call: func() (any, error) { return api.GetUserGroupMembers("S0ONCALL") },
			want: []string{alice, bob},
		},
		{
			name: "empty group",
			call: func() (any, error) { return api.GetUserGroupMembers("S0EMPTY") },
			want: []string{},
		},
		{
			name:    "unknown group",
			call:    func() (any, error) { return api.GetUserGroupMembers("S0NOPE") },
			wantErr: "no_such_subteam",
		},
		{
			name: "known user",
			call: func() (any, error) {
				u, err := api.GetUserInfo(alice)
				if err != nil {
					return nil, err
				}
				return [3]string{u.ID, u.Name, u.RealName}, nil
			},
			want: [3]string{alice, "alice", "Alice Adams"},
		},
		{
			name:    "unknown user",
			call:    func() (any, error) { return api.GetUserInfo("U0NOBODY") },
			wantErr: "user_not_found",
		},
		{
			name: "auth.test",
			call: func() (any, error) {
				r, err := api.AuthTest()
				if err != nil {
					return nil, err
				}
				return [3]string{r.UserID, r.BotID, r.TeamID}, nil
			},
			want: [3]string{fakeslack.DefaultBotUserID, fakeslack.DefaultBotUserID, fakeslack.DefaultTeamID},
		},
		{
			name: "views.open",
			call: func() (any, error) {
				r, err := api.OpenView("123.456.abc", slack.ModalViewRequest{
					Type:  slack.VTModal,
					Title: slack.NewTextBlockObject(slack.PlainTextType, "Request", false, false),
				})
				if err != nil {
					return nil, err
				}
				return r.View.ID != "" && r.View.Title.Text == "Request", nil
			},
			want: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	s, base, _ := newServer(t, testOptions())

	tests := []struct {
		name  string
		token string
		call  func(*slack.Client) error
		want  string
	}{
		{"wrong bot token", "xoxb-wrong", func(c *slack.Client) error { _, err := c.AuthTest(); return err }, "invalid_auth"},
		{"no bot token", "", func(c *slack.Client) error { _, err := c.AuthTest(); return err }, "not_authed"},
		{"bot token on apps.connections.open", botToken, func(c *slack.Client) error {
			_, _, err := c.StartSocketModeContext(context.Background())
			return err
		}, "invalid_auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := slack.New(tt.token, slack.OptionAPIURL(base+"/api/"), slack.OptionAppLevelToken(tt.token))
			if err := tt.call(api); err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %s", err, tt.want)
			}
		})
	}
	if n := len(s.CallsTo("auth.test")); n != 2 {
		t.Errorf("recorded auth.test calls = %d, want 2 (failures are recorded too)", n)
	}
}

func TestStrictChannels(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.StrictChannels = true
	s, _, api := newServer(t, opts)

	tests := []struct {
		channel     string
		wantChannel string
		wantErr     string
	}{
		{channel: opsID, wantChannel: opsID},
		{channel: "#ops", wantChannel: opsID},
		{channel: alice, wantChannel: "D" + alice},
		{channel: "C0UNKNOWN", wantErr: "channel_not_found"},
		{channel: "U0STRANGER", wantErr: "channel_not_found"},
	}
	for _, tt := range tests {
		ch, _, err := api.PostMessage(tt.channel, slack.MsgOptionText("hi", false))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("PostMessage(%q) error = %v, want %s", tt.channel, err, tt.wantErr)
			}
			continue
		}
		if err != nil || ch != tt.wantChannel {
			t.Errorf("PostMessage(%q) = %q, %v; want %q", tt.channel, ch, err, tt.wantChannel)
		}
	}
	if len(s.Messages("C0UNKNOWN")) != 0 {
		t.Error("strict mode created a channel")
	}

	// Without StrictChannels, unknown channels are created on the fly.
	s2, _, api2 := newServer(t, testOptions())
	if _, _, err := api2.PostMessage("C0NEW", slack.MsgOptionText("hi", false)); err != nil {
		t.Fatalf("PostMessage(new channel): %v", err)
	}
	if len(s2.Messages("C0NEW")) != 1 {
		t.Error("channel not created on the fly")
	}
}

func TestRequestEncodingsAndRecording(t *testing.T) {
	t.Parallel()
	s, base, _ := newServer(t, testOptions())

	post := func(method, contentType, body string) map[string]any {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+"/api/"+method, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+botToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}

	jsonBody := `{"channel":"C0OPS","text":"from json","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}],"unfurl_links":false}`
	if out := post("chat.postMessage", "application/json; charset=utf-8", jsonBody); out["ok"] != true {
		t.Fatalf("JSON chat.postMessage = %v", out)
	}
	c := s.CallsTo("chat.postMessage")[0]
	wantParams := url.Values{
		"channel":      {"C0OPS"},
		"text":         {"from json"},
		"blocks":       {`[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]`},
		"unfurl_links": {"false"},
	}
	if fmt.Sprint(c.Params) != fmt.Sprint(wantParams) {
		t.Errorf("Params = %v, want %v", c.Params, wantParams)
	}
	if c.Body != jsonBody || c.Status != http.StatusOK || c.At.IsZero() {
		t.Errorf("call = %+v", c)
	}

	if out := post("chat.postMessage", "application/json", `{"channel":"C0OPS","blocks":"not json"}`); out["error"] != "invalid_blocks" {
		t.Errorf("invalid blocks: %v", out)
	}
	if out := post("nosuch.method", "application/x-www-form-urlencoded", "a=b"); out["error"] != "unknown_method" {
		t.Errorf("unknown method: %v", out)
	}
	if calls := s.CallsTo("nosuch.method"); len(calls) != 1 || calls[0].Params.Get("a") != "b" {
		t.Errorf("unknown method not recorded: %+v", calls)
	}

	resp, err := http.Get(base + "/api/users.info?user=" + alice + "&token=" + botToken)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"real_name":"Alice Adams"`) {
		t.Errorf("GET users.info = %s", body)
	}

	// Calls returns copies.
	calls := s.Calls()
	calls[0].Params.Set("channel", "changed")
	if s.Calls()[0].Params.Get("channel") != "C0OPS" {
		t.Error("Calls does not return a copy")
	}
}

func retryingClient(base string) *slack.Client {
	cfg := slack.RetryConfig{MaxRetries: 3, BackoffInitial: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}
	cfg.Handlers = append(slack.AllBuiltinRetryHandlers(cfg), slack.NewServerErrorRetryHandler(cfg))
	return slack.New(botToken, slack.OptionAPIURL(base+"/api/"), slack.OptionRetryConfig(cfg))
}

func TestFailNextRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		retryAfter time.Duration
		n          int
		minElapsed time.Duration
	}{
		{name: "rate limited", status: http.StatusTooManyRequests, retryAfter: time.Second, n: 1, minElapsed: time.Second},
		{name: "service unavailable", status: http.StatusServiceUnavailable, n: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, base, _ := newServer(t, testOptions())
			s.FailNext("chat.postMessage", tt.n, tt.status, tt.retryAfter)

			start := time.Now()
			if _, _, err := retryingClient(base).PostMessage(opsID, slack.MsgOptionText("hi", false)); err != nil {
				t.Fatalf("PostMessage with retries: %v", err)
			}
			if elapsed := time.Since(start); elapsed < tt.minElapsed {
				t.Errorf("elapsed %v, want at least %v (Retry-After honoured)", elapsed, tt.minElapsed)
			}
			var statuses []int
			for _, c := range s.CallsTo("chat.postMessage") {
				statuses = append(statuses, c.Status)
			}
			want := append(slices.Repeat([]int{tt.status}, tt.n), http.StatusOK)
			if !slices.Equal(statuses, want) {
				t.Errorf("statuses = %v, want %v", statuses, want)
			}
			if n := len(s.Messages(opsID)); n != 1 {
				t.Errorf("messages = %d, want 1 (failed calls change no state)", n)
			}
		})
	}
}

func TestFailNextResponse(t *testing.T) {
	t.Parallel()
	s, base, _ := newServer(t, testOptions())
	s.FailNext("auth.test", 1, http.StatusTooManyRequests, 1500*time.Millisecond)
	s.FailNext("auth.test", 1, http.StatusBadGateway, 0)

	get := func() *http.Response {
		resp, err := http.Get(base + "/api/auth.test?token=" + botToken)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	if r := get(); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "2" {
		t.Errorf("first: %d Retry-After=%q, want 429 and 2", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if r := get(); r.StatusCode != http.StatusBadGateway {
		t.Errorf("second: %d, want 502", r.StatusCode)
	}
	if r := get(); r.StatusCode != http.StatusOK {
		t.Errorf("third: %d, want 200", r.StatusCode)
	}

	// Without retries slack-go surfaces the rate limit.
	s.FailNext("chat.postMessage", 1, http.StatusTooManyRequests, 3*time.Second)
	_, _, err := slack.New(botToken, slack.OptionAPIURL(base+"/api/")).PostMessage(opsID, slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
		t.Errorf("error = %v, want RateLimitedError with 3s", err)
	}
}

func TestLatencyRespectsCancellation(t *testing.T) {
	t.Parallel()
	s, _, api := newServer(t, testOptions())
	s.SetLatency(2 * time.Second)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := api.PostMessageContext(ctx, opsID, slack.MsgOptionText("slow", false))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want deadline exceeded", err)
	}
	c, err := s.WaitForCall(testContext(t), func(c fakeslack.Call) bool { return c.Method == "chat.postMessage" })
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != 0 {
		t.Errorf("Status = %d, want 0 for a call the client abandoned", c.Status)
	}
	if time.Since(start) > time.Second {
		t.Error("server kept the request for the full latency after cancellation")
	}
	if len(s.Messages(opsID)) != 0 {
		t.Error("abandoned call changed state")
	}

	s.SetLatency(100 * time.Millisecond)
	start = time.Now()
	if _, _, err := api.PostMessage(opsID, slack.MsgOptionText("slow", false)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("response after %v, want at least 100ms", d)
	}
}

func TestWaitForCall(t *testing.T) {
	t.Parallel()
	s, _, api := newServer(t, testOptions())

	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _, _ = api.PostMessage(bob, slack.MsgOptionText("hello bob", false))
	}()
	c, err := s.WaitForCall(testContext(t), func(c fakeslack.Call) bool {
		return c.Method == "chat.postMessage" && c.Params.Get("channel") == bob
	})
	if err != nil {
		t.Fatalf("WaitForCall: %v", err)
	}
	if c.Params.Get("text") != "hello bob" {
		t.Errorf("call = %+v", c)
	}
	// The state change is visible once the call is recorded.
	if len(s.DM(bob)) != 1 {
		t.Error("DM not stored by the time the call was recorded")
	}
	// Already recorded calls count.
	if _, err := s.WaitForCall(testContext(t), func(c fakeslack.Call) bool { return c.Method == "chat.postMessage" }); err != nil {
		t.Errorf("WaitForCall(recorded): %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.WaitForCall(ctx, func(c fakeslack.Call) bool { return c.Method == "never" }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForCall(never) error = %v, want deadline exceeded", err)
	}

	if err := s.WaitUntil(testContext(t), func() bool { return len(s.DM(bob)) == 1 }); err != nil {
		t.Errorf("WaitUntil: %v", err)
	}
}

func TestSubscribe(t *testing.T) {
	t.Parallel()
	s, _, api := newServer(t, testOptions())
	events, cancel := s.Subscribe()

	_, ts, err := api.PostMessage(opsID, slack.MsgOptionText("one", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessage(opsID, ts, slack.MsgOptionText("two", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PostEphemeral(opsID, alice, slack.MsgOptionText("psst", false)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.DeleteMessage(opsID, ts); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PostAsUser(opsID, bob, "typed by bob"); err != nil {
		t.Fatal(err)
	}

	want := []string{"message one", "update two", "ephemeral psst", "delete two", "message typed by bob"}
	for i, w := range want {
		select {
		case ev := <-events:
			if got := ev.Kind + " " + ev.Message.Text; got != w {
				t.Errorf("event %d = %q, want %q", i, got, w)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("event %d (%q) not delivered", i, w)
		}
	}
	cancel()
	cancel() // idempotent
	if _, ok := <-events; ok {
		t.Error("channel not closed by cancel")
	}
}

func TestSubscribeSlowSubscriberGetsResync(t *testing.T) {
	t.Parallel()
	s := fakeslack.New(testOptions())
	events, cancel := s.Subscribe()
	defer cancel()

	// Nobody reads; the server must not block.
	total := fakeslack.SubscriberBuffer + 50
	for i := range total {
		if _, err := s.PostAsUser(opsID, alice, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.Messages(opsID)); n != total {
		t.Fatalf("messages = %d, want %d", n, total)
	}
	var kinds []string
	for range fakeslack.SubscriberBuffer {
		kinds = append(kinds, (<-events).Kind)
	}
	if got := kinds[len(kinds)-1]; got != fakeslack.EventResync {
		t.Errorf("last buffered event = %q, want resync", got)
	}
	if slices.Index(kinds, fakeslack.EventResync) != len(kinds)-1 {
		t.Errorf("resync not only at the end: %v", kinds)
	}

	// After draining, events flow again.
	if _, err := s.PostAsUser(opsID, alice, "after"); err != nil {
		t.Fatal(err)
	}
	if ev := <-events; ev.Kind != fakeslack.EventMessage || ev.Message.Text != "after" {
		t.Errorf("event after drain = %+v", ev)
	}

	s.Reset()
	if ev := <-events; ev.Kind != fakeslack.EventResync {
		t.Errorf("event after Reset = %q, want resync", ev.Kind)
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	s, _, api := newServer(t, testOptions())
	if _, _, err := api.PostMessage("C0TEMP", slack.MsgOptionText("x", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PostEphemeral(opsID, alice, slack.MsgOptionText("y", false)); err != nil {
		t.Fatal(err)
	}
	s.FailNext("auth.test", 1, http.StatusInternalServerError, 0)
	s.Reset()

	if len(s.Calls()) != 0 || len(s.Messages("C0TEMP")) != 0 || len(s.Ephemerals(alice)) != 0 {
		t.Error("Reset left state behind")
	}
	want := []fakeslack.Channel{{ID: opsID, Name: "ops"}, {ID: fakeslack.DefaultChannelID, Name: fakeslack.DefaultChannelName}}
	if got := s.Channels(); !slices.Equal(got, want) {
		t.Errorf("Channels after Reset = %+v, want %+v", got, want)
	}
	if _, err := api.AuthTest(); err != nil {
		t.Errorf("pending failure survived Reset: %v", err)
	}
}

func TestTimestampsUniqueWithFrozenClock(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	frozen := time.Unix(1700000000, 0)
	opts.Now = func() time.Time { return frozen }
	s := fakeslack.New(opts)

	var prev string
	for i := range 5 {
		m, err := s.PostAsUser(opsID, alice, "x")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && m.TS != "1700000000.000000" {
			t.Errorf("first ts = %q", m.TS)
		}
		if m.TS <= prev {
			t.Errorf("ts %q not after %q", m.TS, prev)
		}
		if !m.PostedAt.Equal(frozen) {
			t.Errorf("PostedAt = %v, want the configured clock", m.PostedAt)
		}
		prev = m.TS
	}
}

func TestButtonsAndPlainText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		text        string
		blocks      string
		wantButtons []fakeslack.Button
		wantText    string
	}{
		{
			name:     "no blocks",
			text:     "plain",
			wantText: "plain",
		},
		{
			name: "section accessory and fields",
			blocks: `[{"type":"section","block_id":"b1","text":{"type":"mrkdwn","text":"main"},
				"fields":[{"type":"mrkdwn","text":"f1"},{"type":"plain_text","text":"f2"}],
				"accessory":{"type":"button","action_id":"revoke","text":{"type":"plain_text","text":"Revoke"},"value":"g7"}}]`,
			wantButtons: []fakeslack.Button{{BlockID: "b1", ActionID: "revoke", Text: "Revoke", Value: "g7"}},
			wantText:    "main\nf1\nf2\nRevoke",
		},
		{
			name: "header context actions",
			text: "fallback",
			blocks: `[{"type":"header","text":{"type":"plain_text","text":"Title"}},
				{"type":"context","elements":[{"type":"mrkdwn","text":"ctx1"},{"type":"image","image_url":"x","alt_text":"img"},{"type":"plain_text","text":"ctx2"}]},
				{"type":"actions","block_id":"a","elements":[{"type":"static_select","action_id":"sel"},{"type":"button","action_id":"ok","text":{"type":"plain_text","text":"OK"},"style":"primary"}]}]`,
			wantButtons: []fakeslack.Button{{BlockID: "a", ActionID: "ok", Text: "OK", Style: "primary"}},
			wantText:    "fallback\nTitle\nctx1\nctx2\nOK",
		},
		{
			name:     "rich text",
			blocks:   `[{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"Hello "},{"type":"text","text":"world","style":{"bold":true}}]}]}]`,
			wantText: "Hello world",
		},
		{
			name:     "malformed",
			text:     "t",
			blocks:   `{not json`,
			wantText: "t",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fakeslack.Message{Text: tt.text, Blocks: json.RawMessage(tt.blocks)}
			if got := fakeslack.Buttons(m); !slices.Equal(got, tt.wantButtons) {
				t.Errorf("Buttons = %+v, want %+v", got, tt.wantButtons)
			}
			if got := fakeslack.PlainText(m); got != tt.wantText {
				t.Errorf("PlainText = %q, want %q", got, tt.wantText)
			}
		})
	}
}
