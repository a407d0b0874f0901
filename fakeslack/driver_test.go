package fakeslack_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/gatepass/gatepass/fakeslack"
)

// testApp is a minimal app that verifies Slack signatures and parses
// requests with slack-go, recording what it received.
type testApp struct {
	t   *testing.T
	api *slack.Client

	mu           sync.Mutex
	commands     []slack.SlashCommand
	interactions []slack.InteractionCallback
	events       []json.RawMessage

	// onCommand and onClick produce the HTTP response body; nil means an
	// empty 200.
	onCommand func(slack.SlashCommand) any
	onClick   func(slack.InteractionCallback)
	// onInteraction, when set, runs after onClick and produces the JSON
	// body answering an interaction; nil means an empty 200.
	onInteraction func(slack.InteractionCallback) any

	// raw holds every request received, before signature checks.
	raw []rawRequest
}

// rawRequest is a request as the app received it.
type rawRequest struct {
	path   string
	header http.Header
	body   []byte
}

func (a *testApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.raw = append(a.raw, rawRequest{path: r.URL.Path, header: r.Header.Clone(), body: body})
	a.mu.Unlock()
	sv, err := slack.NewSecretsVerifier(r.Header, secret)
	if err != nil {
		http.Error(w, "verifier: "+err.Error(), http.StatusUnauthorized)
		return
	}
	_, _ = sv.Write(body)
	if err := sv.Ensure(); err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	switch r.URL.Path {
	case fakeslack.AppCommandsPath:
		cmd, err := slack.SlashCommandParse(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.commands = append(a.commands, cmd)
		a.mu.Unlock()
		if a.onCommand != nil {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(a.onCommand(cmd))
		}
	case fakeslack.AppInteractionsPath:
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var cb slack.InteractionCallback
		if err := json.Unmarshal([]byte(r.PostForm.Get("payload")), &cb); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.interactions = append(a.interactions, cb)
		a.mu.Unlock()
		if a.onClick != nil {
			a.onClick(cb)
		}
		if a.onInteraction != nil {
			if answer := a.onInteraction(cb); answer != nil {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(answer)
			}
		}
	case fakeslack.AppEventsPath:
		var v struct {
			Type      string `json:"type"`
			Challenge string `json:"challenge"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if v.Type == "url_verification" {
			_, _ = io.WriteString(w, v.Challenge)
			return
		}
		a.mu.Lock()
		a.events = append(a.events, body)
		a.mu.Unlock()
	default:
		http.NotFound(w, r)
	}
}

// The accessors below take the lock: the race detector does not see the
// HTTP round trip as synchronisation.

func (a *testApp) gotCommands() []slack.SlashCommand {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.commands)
}

func (a *testApp) gotInteractions() []slack.InteractionCallback {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.interactions)
}

func (a *testApp) gotRaw() []rawRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.raw)
}

func (a *testApp) gotEvents() []json.RawMessage {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.events)
}

// newDriverSetup starts the stand-in and a test app wired to each other.
func newDriverSetup(t *testing.T) (*fakeslack.Server, *testApp) {
	t.Helper()
	s, _, api := newServer(t, testOptions())
	app := &testApp{t: t, api: api}
	appSrv := httptest.NewServer(app)
	t.Cleanup(appSrv.Close)
	s.SetAppURL(appSrv.URL)
	return s, app
}

func TestSign(t *testing.T) {
	t.Parallel()
	body := []byte("token=x&text=hello")
	ts := time.Now().Unix()
	tests := []struct {
		name    string
		signer  string
		ts      int64
		wantErr bool
	}{
		{name: "right secret", signer: secret, ts: ts},
		{name: "wrong secret", signer: "other", ts: ts, wantErr: true},
		{name: "different timestamp", signer: secret, ts: ts - 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
			h.Set("X-Slack-Signature", fakeslack.Sign(tt.signer, tt.ts, body))
			sv, err := slack.NewSecretsVerifier(h, secret)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = sv.Write(body)
			if err := sv.Ensure(); (err != nil) != tt.wantErr {
				t.Errorf("Ensure() = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestSlashCommandHTTP(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)
	app.onCommand = func(cmd slack.SlashCommand) any {
		if cmd.Text == "announce" {
			return map[string]string{"response_type": "in_channel", "text": "access granted to " + cmd.UserName}
		}
		return map[string]string{"response_type": "ephemeral", "text": "request received: " + cmd.Text}
	}

	reply, err := s.SlashCommand(testContext(t), alice, "prod-db 1h incident")
	if err != nil {
		t.Fatalf("SlashCommand: %v", err)
	}
	if reply.Status != http.StatusOK || reply.ResponseType != "ephemeral" || reply.Text != "request received: prod-db 1h incident" {
		t.Errorf("reply = %+v", reply)
	}

	cmd := app.gotCommands()[0]
	want := slack.SlashCommand{
		Token:       fakeslack.DefaultVerificationToken,
		TeamID:      fakeslack.DefaultTeamID,
		TeamDomain:  fakeslack.DefaultTeamDomain,
		ChannelID:   fakeslack.DefaultChannelID,
		ChannelName: fakeslack.DefaultChannelName,
		UserID:      alice,
		UserName:    "alice",
		Command:     "/access",
		Text:        "prod-db 1h incident",
		APIAppID:    fakeslack.DefaultAppID,
		ResponseURL: cmd.ResponseURL,
		TriggerID:   cmd.TriggerID,
	}
	if cmd != want {
		t.Errorf("command = %+v, want %+v", cmd, want)
	}
	if !strings.Contains(cmd.ResponseURL, "/response/") || cmd.TriggerID == "" {
		t.Errorf("response_url %q / trigger_id %q", cmd.ResponseURL, cmd.TriggerID)
	}

	// The ephemeral answer is shown to alice only.
	eph := s.Ephemerals(alice)
	if len(eph) != 1 || eph[0].Text != "request received: prod-db 1h incident" || eph[0].Channel != fakeslack.DefaultChannelID {
		t.Errorf("Ephemerals(alice) = %+v", eph)
	}

	// in_channel answers are posted to the channel.
	if _, err := s.SlashCommandIn(testContext(t), opsID, bob, "announce"); err != nil {
		t.Fatal(err)
	}
	if msgs := s.Messages(opsID); len(msgs) != 1 || msgs[0].Text != "access granted to bob" {
		t.Errorf("Messages(ops) = %+v", msgs)
	}
	if len(s.Ephemerals(bob)) != 0 {
		t.Error("in_channel answer also recorded as ephemeral")
	}

	// The app answers later through response_url with slack-go.
	_, _, err = app.api.PostMessage(cmd.ChannelID, slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText("approved!", false))
	if err != nil {
		t.Fatalf("post to response_url: %v", err)
	}
	if eph := s.Ephemerals(alice); len(eph) != 2 || eph[1].Text != "approved!" {
		t.Errorf("Ephemerals(alice) after response_url = %+v", eph)
	}
	if calls := s.CallsTo(fakeslack.MethodResponseURL); len(calls) != 1 || calls[0].Params.Get("text") != "approved!" {
		t.Errorf("response_url calls = %+v", calls)
	}
}

func TestSlashCommandRejectedSignature(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.SigningSecret = "not-the-app-secret"
	s, _, api := newServer(t, opts)
	app := &testApp{t: t, api: api}
	appSrv := httptest.NewServer(app)
	t.Cleanup(appSrv.Close)
	s.SetAppURL(appSrv.URL)

	reply, err := s.SlashCommand(testContext(t), alice, "x")
	if err != nil {
		t.Fatalf("SlashCommand: %v", err)
	}
	if reply.Status != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", reply.Status)
	}
	if len(app.gotCommands()) != 0 || len(s.Ephemerals(alice)) != 0 {
		t.Error("unsigned command was processed or its error shown")
	}
}

func TestClickHTTP(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)
	app.onClick = func(cb slack.InteractionCallback) {
		action := cb.ActionCallback.BlockActions[0]
		text := fmt.Sprintf("%s %sd by <@%s>", action.Value, action.ActionID, cb.User.ID)
		_, _, err := app.api.PostMessage(cb.Channel.ID, slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText(text, false))
		if err != nil {
			app.t.Errorf("replace_original: %v", err)
		}
	}

	_, ts, err := app.api.PostMessage(opsID, slack.MsgOptionText("Access request", false), slack.MsgOptionBlocks(approvalBlocks("r9")...))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Message(opsID, ts)

	reply, err := s.Click(testContext(t), bob, m, "approve")
	if err != nil {
		t.Fatalf("Click: %v", err)
	}
	if reply.Status != http.StatusOK {
		t.Errorf("status = %d", reply.Status)
	}

	cb := app.gotInteractions()[0]
	if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID != bob || cb.User.Name != "bob" || cb.Team.ID != fakeslack.DefaultTeamID {
		t.Errorf("callback header = type %q user %+v team %+v", cb.Type, cb.User, cb.Team)
	}
	if cb.Container.ChannelID != opsID || cb.Container.MessageTs != ts || cb.Container.Type != "message" {
		t.Errorf("container = %+v", cb.Container)
	}
	if cb.Channel.ID != opsID || cb.Channel.Name != "ops" || cb.Message.Timestamp != ts || cb.Message.Text != "Access request" {
		t.Errorf("channel %+v / message ts %q text %q", cb.Channel, cb.Message.Timestamp, cb.Message.Text)
	}
	if len(cb.Message.Blocks.BlockSet) != 4 {
		t.Errorf("message blocks = %d, want 4", len(cb.Message.Blocks.BlockSet))
	}
	if len(cb.ActionCallback.BlockActions) != 1 {
		t.Fatalf("block actions = %+v", cb.ActionCallback)
	}
	a := cb.ActionCallback.BlockActions[0]
	if a.ActionID != "approve" || a.BlockID != "decide" || a.Value != "r9" || a.Text.Text != "Approve" || a.Type != "button" || a.ActionTs == "" {
		t.Errorf("action = %+v", a)
	}
	if cb.TriggerID == "" || cb.APIAppID != fakeslack.DefaultAppID {
		t.Errorf("trigger %q app %q", cb.TriggerID, cb.APIAppID)
	}

	// replace_original replaced the message: the buttons are gone.
	m, _ = s.Message(opsID, ts)
	if m.Text != "r9 approved by <@U0BOB>" || m.Updates != 1 || m.Blocks != nil {
		t.Errorf("message after click = %+v", m)
	}
	if _, err := s.Click(testContext(t), bob, m, "approve"); !errors.Is(err, fakeslack.ErrNoSuchButton) {
		t.Errorf("second click error = %v, want ErrNoSuchButton", err)
	}
}

func TestResponseURLActions(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)

	// A click on an ephemeral message.
	ts, err := app.api.PostEphemeral(opsID, alice, slack.MsgOptionText("pick", false), slack.MsgOptionBlocks(approvalBlocks("r2")...))
	if err != nil {
		t.Fatal(err)
	}
	eph, _ := s.Message(opsID, ts)
	if _, err := s.Click(testContext(t), alice, eph, "deny"); err != nil {
		t.Fatal(err)
	}
	cb := app.gotInteractions()[0]
	if !cb.Container.IsEphemeral || cb.Message.Timestamp != "" {
		t.Errorf("ephemeral click: container %+v, message ts %q (Slack omits the message)", cb.Container, cb.Message.Timestamp)
	}
	responseURL := cb.ResponseURL

	post := func(body string) int {
		t.Helper()
		resp, err := http.Post(responseURL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}

	if code := post(`{"replace_original":true,"text":"denied"}`); code != http.StatusOK {
		t.Fatalf("replace_original status %d", code)
	}
	if e := s.Ephemerals(alice); len(e) != 1 || e[0].Text != "denied" || e[0].Updates != 1 {
		t.Errorf("ephemeral after replace = %+v", e)
	}
	if code := post(`{"response_type":"in_channel","text":"for everyone"}`); code != http.StatusOK {
		t.Fatalf("in_channel status %d", code)
	}
	if m := s.Messages(opsID); len(m) != 1 || m[0].Text != "for everyone" {
		t.Errorf("channel after in_channel = %+v", m)
	}
	if code := post(`{"delete_original":"true"}`); code != http.StatusOK {
		t.Fatalf("delete_original status %d", code)
	}
	if e := s.Ephemerals(alice); len(e) != 0 {
		t.Errorf("ephemerals after delete = %+v", e)
	}
	if code := post(`{"text":""}`); code != http.StatusBadRequest {
		t.Errorf("empty response status %d, want 400", code)
	}

	resp, err := http.Post(responseURL[:strings.LastIndex(responseURL, "/")+1]+"unknown", "application/json", strings.NewReader(`{"text":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown response_url status %d, want 404", resp.StatusCode)
	}
}

func TestSendEventAndURLVerification(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)

	reply, err := s.URLVerification(testContext(t), "challenge-123")
	if err != nil || reply.Status != http.StatusOK || string(reply.Body) != "challenge-123" {
		t.Errorf("URLVerification = %+v, %v", reply, err)
	}

	event := json.RawMessage(`{"type":"event_callback","team_id":"T0GATEPASS","event":{"type":"app_mention","user":"U0ALICE","text":"<@B0GATEPASS> help","channel":"C0OPS","ts":"1.000001"}}`)
	reply, err = s.SendEvent(testContext(t), event)
	if err != nil || reply.Status != http.StatusOK {
		t.Fatalf("SendEvent = %+v, %v", reply, err)
	}
	if got := app.gotEvents(); len(got) != 1 || !bytes.Equal(got[0], event) {
		t.Errorf("app got %s", got)
	}
	if _, err := s.SendEvent(testContext(t), json.RawMessage(`{`)); err == nil {
		t.Error("SendEvent accepted invalid JSON")
	}
}

func TestDriverErrors(t *testing.T) {
	t.Parallel()
	s := fakeslack.New(testOptions())
	ctx := testContext(t)

	if _, err := s.SlashCommand(ctx, alice, "x"); !errors.Is(err, fakeslack.ErrNoPublicURL) {
		t.Errorf("without public URL: %v, want ErrNoPublicURL", err)
	}
	s.SetPublicURL("http://127.0.0.1:1")
	if _, err := s.SlashCommand(ctx, alice, "x"); !errors.Is(err, fakeslack.ErrNoAppURL) {
		t.Errorf("without app URL: %v, want ErrNoAppURL", err)
	}
	s.SetTransport(fakeslack.TransportSocket)
	if _, err := s.SlashCommand(ctx, alice, "x"); !errors.Is(err, fakeslack.ErrSocketNotConnected) {
		t.Errorf("socket without connection: %v, want ErrSocketNotConnected", err)
	}
	if _, err := s.Click(ctx, alice, fakeslack.Message{Channel: opsID, TS: "1.0"}, "approve"); !errors.Is(err, fakeslack.ErrNoSuchButton) {
		t.Errorf("click without buttons: %v, want ErrNoSuchButton", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendEvent(ctx, json.RawMessage(`{}`)); !errors.Is(err, fakeslack.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
