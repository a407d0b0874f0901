package fakeslack_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/gatepass/gatepass/fakeslack"
)

// socketApp runs slack-go's real socketmode client against the stand-in.
type socketApp struct {
	mu           sync.Mutex
	hellos       []socketmode.Request
	interactions []slack.InteractionCallback
	events       []slackevents.EventsAPIEvent
}

// startSocketApp connects a socketmode client to the stand-in at base
// (the Web API must be at base+"/api/") and handles requests until the test
// ends: slash commands are acked with a text payload, interactions and
// events with an empty ack.
func startSocketApp(t *testing.T, base string, opts ...socketmode.Option) *socketApp {
	t.Helper()
	app := &socketApp{}
	runSocketClient(t, base, func(c *socketmode.Client, evt socketmode.Event) { app.handle(t, c, evt) }, opts...)
	return app
}

// runSocketClient runs slack-go's socketmode client against the stand-in
// at base, handing every event to handle, until the test ends.
func runSocketClient(t testing.TB, base string, handle func(*socketmode.Client, socketmode.Event), opts ...socketmode.Option) {
	t.Helper()
	api := slack.New(botToken, slack.OptionAPIURL(base+"/api/"), slack.OptionAppLevelToken(appToken))
	client := socketmode.New(api, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = client.RunContext(ctx) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-client.Events:
				handle(client, evt)
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

func (a *socketApp) handle(t *testing.T, c *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeHello:
		a.mu.Lock()
		a.hellos = append(a.hellos, *evt.Request)
		a.mu.Unlock()
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok {
			t.Errorf("slash command data is %T", evt.Data)
			return
		}
		payload := map[string]any{"response_type": "ephemeral", "text": "socket got " + cmd.Text + " from " + cmd.UserName + " in " + cmd.ChannelID}
		if err := c.Ack(*evt.Request, payload); err != nil {
			t.Errorf("Ack: %v", err)
		}
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok {
			t.Errorf("interactive data is %T", evt.Data)
			return
		}
		a.mu.Lock()
		a.interactions = append(a.interactions, cb)
		a.mu.Unlock()
		if err := c.Ack(*evt.Request); err != nil {
			t.Errorf("Ack: %v", err)
		}
	case socketmode.EventTypeEventsAPI:
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			t.Errorf("events_api data is %T", evt.Data)
			return
		}
		a.mu.Lock()
		a.events = append(a.events, ev)
		a.mu.Unlock()
		if err := c.Ack(*evt.Request); err != nil {
			t.Errorf("Ack: %v", err)
		}
	}
}

func (a *socketApp) snapshot() ([]socketmode.Request, []slack.InteractionCallback, []slackevents.EventsAPIEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]socketmode.Request(nil), a.hellos...),
		append([]slack.InteractionCallback(nil), a.interactions...),
		append([]slackevents.EventsAPIEvent(nil), a.events...)
}

func TestSocketMode(t *testing.T) {
	t.Parallel()
	s, base, api := newServer(t, testOptions())
	s.SetTransport(fakeslack.TransportSocket)
	app := startSocketApp(t, base)
	ctx := testContext(t)
	if err := s.WaitSocketConnected(ctx); err != nil {
		t.Fatal(err)
	}

	// Slash command: the ack payload is the reply, and shown to the user.
	reply, err := s.SlashCommand(ctx, alice, "prod-db")
	if err != nil {
		t.Fatalf("SlashCommand: %v", err)
	}
	wantText := "socket got prod-db from alice in " + fakeslack.DefaultChannelID
	if reply.Status != http.StatusOK || reply.Text != wantText || reply.ResponseType != "ephemeral" {
		t.Errorf("reply = %+v (body %s)", reply, reply.Body)
	}
	if eph := s.Ephemerals(alice); len(eph) != 1 || eph[0].Text != wantText {
		t.Errorf("Ephemerals(alice) = %+v", eph)
	}

	// Interactive: the envelope decodes into slack.InteractionCallback.
	_, ts, err := api.PostMessage(opsID, slack.MsgOptionText("Access request", false), slack.MsgOptionBlocks(approvalBlocks("r5")...))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Message(opsID, ts)
	reply, err = s.Click(ctx, bob, m, "deny")
	if err != nil {
		t.Fatalf("Click: %v", err)
	}
	if reply.Status != http.StatusOK || len(reply.Body) != 0 {
		t.Errorf("click reply = %+v", reply)
	}

	// Events API.
	event := json.RawMessage(`{"type":"event_callback","team_id":"T0GATEPASS","event":{"type":"app_mention","user":"U0ALICE","text":"hi","channel":"C0OPS","ts":"1.000001"}}`)
	if _, err := s.SendEvent(ctx, event); err != nil {
		t.Fatalf("SendEvent: %v", err)
	}

	hellos, interactions, events := app.snapshot()
	if len(hellos) != 1 || hellos[0].NumConnections != 1 || hellos[0].ConnectionInfo.AppID != fakeslack.DefaultAppID {
		t.Errorf("hello = %+v", hellos)
	}
	if len(interactions) != 1 {
		t.Fatalf("interactions = %d", len(interactions))
	}
	cb := interactions[0]
	if cb.User.ID != bob || cb.Container.ChannelID != opsID || cb.Container.MessageTs != ts ||
		len(cb.ActionCallback.BlockActions) != 1 || cb.ActionCallback.BlockActions[0].ActionID != "deny" || cb.ActionCallback.BlockActions[0].Value != "r5" {
		t.Errorf("interaction = %+v", cb)
	}
	if len(events) != 1 || events[0].InnerEvent.Type != "app_mention" {
		t.Errorf("events = %+v", events)
	}

	acks := s.Acks()
	wantTypes := []string{"slash_commands", "interactive", "events_api"}
	if len(acks) != len(wantTypes) {
		t.Fatalf("acks = %+v", acks)
	}
	for i, a := range acks {
		if a.Type != wantTypes[i] || a.EnvelopeID == "" || a.Latency <= 0 || a.Latency > 3*time.Second {
			t.Errorf("ack %d = %+v", i, a)
		}
	}
	if !strings.Contains(string(acks[0].Payload), "socket got prod-db") || acks[1].Payload != nil {
		t.Errorf("ack payloads = %s / %s", acks[0].Payload, acks[1].Payload)
	}
}

func TestSocketModeKeepsConnectionAliveWithPings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		pingInterval  time.Duration
		wantReconnect bool
	}{
		{name: "pings", pingInterval: 50 * time.Millisecond},
		{name: "no pings", pingInterval: time.Hour, wantReconnect: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions()
			opts.PingInterval = tt.pingInterval
			s, base, _ := newServer(t, opts)
			startSocketApp(t, base, socketmode.OptionPingInterval(300*time.Millisecond))
			if err := s.WaitSocketConnected(testContext(t)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 1200*time.Millisecond)
			defer cancel()
			opens := 0
			_, err := s.WaitForCall(ctx, func(c fakeslack.Call) bool {
				if c.Method == "apps.connections.open" {
					opens++
				}
				return opens > 1
			})
			if reconnected := err == nil; reconnected != tt.wantReconnect {
				t.Errorf("reconnected = %v, want %v", reconnected, tt.wantReconnect)
			}
		})
	}
}

func TestSocketModeDisconnect(t *testing.T) {
	t.Parallel()
	s, base, _ := newServer(t, testOptions())
	s.SetTransport(fakeslack.TransportSocket)
	startSocketApp(t, base)
	ctx := testContext(t)
	if err := s.WaitSocketConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.DisconnectSockets("refresh_requested"); n != 1 {
		t.Fatalf("DisconnectSockets = %d, want 1", n)
	}
	if s.SocketConnected() {
		t.Error("still connected right after DisconnectSockets")
	}
	if err := s.WaitSocketConnected(ctx); err != nil {
		t.Fatalf("app did not reconnect: %v", err)
	}
	if n := len(s.CallsTo("apps.connections.open")); n != 2 {
		t.Errorf("apps.connections.open calls = %d, want 2", n)
	}
	if _, err := s.SlashCommand(ctx, alice, "after reconnect"); err != nil {
		t.Errorf("SlashCommand after reconnect: %v", err)
	}
}

func TestSocketModeUnderPrefix(t *testing.T) {
	t.Parallel()
	s := fakeslack.New(testOptions())
	mux := http.NewServeMux()
	mux.Handle("/slack/", http.StripPrefix("/slack", s))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = s.Close() })
	s.SetPublicURL(srv.URL + "/slack")
	s.SetTransport(fakeslack.TransportSocket)

	api := slack.New(botToken, slack.OptionAPIURL(srv.URL+"/slack/api/"), slack.OptionAppLevelToken(appToken))
	_, wsURL, err := api.StartSocketModeContext(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := "ws" + strings.TrimPrefix(srv.URL, "http") + "/slack/socket"; wsURL != want {
		t.Errorf("websocket URL = %q, want %q", wsURL, want)
	}

	startSocketApp(t, srv.URL+"/slack")
	ctx := testContext(t)
	if err := s.WaitSocketConnected(ctx); err != nil {
		t.Fatal(err)
	}
	reply, err := s.SlashCommand(ctx, bob, "via prefix")
	if err != nil || !strings.Contains(reply.Text, "via prefix") {
		t.Errorf("SlashCommand = %+v, %v", reply, err)
	}
}

func TestSocketModeAckTimeout(t *testing.T) {
	t.Parallel()
	s, base, _ := newServer(t, testOptions())
	s.SetTransport(fakeslack.TransportSocket)
	// A client whose events nobody handles never acks.
	runSocketClient(t, base, func(*socketmode.Client, socketmode.Event) {})

	if err := s.WaitSocketConnected(testContext(t)); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancelShort()
	if _, err := s.SlashCommand(short, alice, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unacked envelope error = %v, want deadline exceeded", err)
	}
}
