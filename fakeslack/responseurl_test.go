package fakeslack_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/gatepass/gatepass/fakeslack"
)

// postJSON posts body to url and returns the status and Slack error code.
func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Error
}

func TestSlashCommandResponseURLReplacesReceipt(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)
	app.onCommand = func(cmd slack.SlashCommand) any {
		return map[string]any{"response_type": "ephemeral", "text": "Request r1 received", "blocks": []any{
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "Request *r1* received"}},
		}}
	}
	if _, err := s.SlashCommand(testContext(t), alice, "prod-db"); err != nil {
		t.Fatal(err)
	}
	responseURL := app.gotCommands()[0].ResponseURL

	// slack-go's replace_original replaces the ephemeral receipt.
	_, _, err := app.api.PostMessage("", slack.MsgOptionReplaceOriginal(responseURL), slack.MsgOptionText("Request r1 approved by bob", false))
	if err != nil {
		t.Fatalf("replace_original: %v", err)
	}
	eph := s.Ephemerals(alice)
	if len(eph) != 1 || eph[0].Text != "Request r1 approved by bob" || eph[0].Blocks != nil || eph[0].Updates != 1 || eph[0].History[0].Text != "Request r1 received" {
		t.Fatalf("Ephemerals after replace = %+v", eph)
	}
	// A raw post with blocks replaces it again.
	if code, _ := postJSON(t, responseURL, `{"replace_original":true,"text":"granted","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*granted* until 14:00"}}]}`); code != http.StatusOK {
		t.Fatalf("replace_original with blocks: %d", code)
	}
	if eph := s.Ephemerals(alice); len(eph) != 1 || fakeslack.PlainText(eph[0]) != "granted\n*granted* until 14:00" {
		t.Errorf("Ephemerals = %+v", eph)
	}
	// A new message through the URL becomes the one later replaced.
	if code, _ := postJSON(t, responseURL, `{"text":"a second note"}`); code != http.StatusOK {
		t.Fatal(code)
	}
	if code, _ := postJSON(t, responseURL, `{"replace_original":true,"text":"second note, replaced"}`); code != http.StatusOK {
		t.Fatal(code)
	}
	eph = s.Ephemerals(alice)
	if len(eph) != 2 || eph[0].Text != "granted" || eph[1].Text != "second note, replaced" {
		t.Errorf("Ephemerals = %+v", eph)
	}
	// The fifth use deletes it; Slack allows no more.
	if code, _ := postJSON(t, responseURL, `{"delete_original":true}`); code != http.StatusOK {
		t.Fatalf("fifth use: %d", code)
	}
	if eph := s.Ephemerals(alice); len(eph) != 1 || eph[0].Text != "granted" {
		t.Errorf("Ephemerals after delete = %+v", eph)
	}
	if code, errCode := postJSON(t, responseURL, `{"text":"one more"}`); code != http.StatusNotFound || errCode != "used_url" {
		t.Errorf("sixth use: %d %q, want 404 used_url", code, errCode)
	}
	if n := len(s.Ephemerals(alice)); n != 1 {
		t.Errorf("the refused post changed state: %d ephemerals", n)
	}
	if calls := s.CallsTo(fakeslack.MethodResponseURL); len(calls) != 6 || calls[5].Status != http.StatusNotFound {
		t.Errorf("response_url calls = %d, last status %d", len(calls), calls[len(calls)-1].Status)
	}
}

func TestSlashCommandResponseURLWithoutReceipt(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t) // the app answers with an empty 200
	if _, err := s.SlashCommandIn(testContext(t), opsID, alice, "x"); err != nil {
		t.Fatal(err)
	}
	responseURL := app.gotCommands()[0].ResponseURL
	// Nothing to replace yet: replace_original posts, then replaces that.
	if code, _ := postJSON(t, responseURL, `{"replace_original":true,"response_type":"in_channel","text":"working on it"}`); code != http.StatusOK {
		t.Fatal(code)
	}
	if code, _ := postJSON(t, responseURL, `{"replace_original":true,"text":"done"}`); code != http.StatusOK {
		t.Fatal(code)
	}
	msgs := s.Messages(opsID)
	if len(msgs) != 1 || msgs[0].Text != "done" || msgs[0].Updates != 1 {
		t.Errorf("Messages = %+v", msgs)
	}
	if code, _ := postJSON(t, responseURL, `{"delete_original":true}`); code != http.StatusOK {
		t.Fatal(code)
	}
	if len(s.Messages(opsID)) != 0 {
		t.Error("delete_original left the message")
	}
}

func TestResponseURLExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		maxUses  int
		ttl      time.Duration
		wait     time.Duration
		uses     int
		wantLast int
		wantErr  string
	}{
		{name: "default ttl", wait: 31 * time.Minute, uses: 1, wantLast: http.StatusNotFound, wantErr: "expired_url"},
		{name: "within ttl", wait: 29 * time.Minute, uses: 1, wantLast: http.StatusOK},
		{name: "custom ttl", ttl: time.Minute, wait: 2 * time.Minute, uses: 1, wantLast: http.StatusNotFound, wantErr: "expired_url"},
		{name: "no ttl", ttl: -1, wait: 48 * time.Hour, uses: 1, wantLast: http.StatusOK},
		{name: "custom uses", maxUses: 2, uses: 3, wantLast: http.StatusNotFound, wantErr: "used_url"},
		{name: "unlimited uses", maxUses: -1, uses: 20, wantLast: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			opts := testOptions()
			opts.Now = c.Now
			opts.ResponseURLMaxUses = tt.maxUses
			opts.ResponseURLTTL = tt.ttl
			s, _, api := newServer(t, opts)
			app := &testApp{t: t, api: api}
			newAppServer(t, s, app)
			if _, err := s.SlashCommand(testContext(t), alice, "x"); err != nil {
				t.Fatal(err)
			}
			responseURL := app.gotCommands()[0].ResponseURL
			c.Advance(tt.wait)
			var code int
			var errCode string
			for range tt.uses {
				code, errCode = postJSON(t, responseURL, `{"text":"update"}`)
			}
			if code != tt.wantLast || errCode != tt.wantErr {
				t.Errorf("last post: %d %q, want %d %q", code, errCode, tt.wantLast, tt.wantErr)
			}
		})
	}
}
