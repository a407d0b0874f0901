package fakeslack_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/gatepass/gatepass/fakeslack"
)

var eventIDPattern = regexp.MustCompile(`^Ev[0-9A-Z]{10}$`)

func TestAppHomeOpened(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)
	ctx := testContext(t)

	reply, err := s.AppHomeOpened(ctx, alice)
	if err != nil || reply.Status != http.StatusOK {
		t.Fatalf("AppHomeOpened = %+v, %v", reply, err)
	}
	if !eventIDPattern.MatchString(reply.EventID) {
		t.Errorf("EventID = %q", reply.EventID)
	}
	body := app.gotEvents()[0]
	if !bytes.Equal(body, reply.Payload) {
		t.Errorf("Payload %s differs from the body sent %s", reply.Payload, body)
	}
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok || cb.EventID != reply.EventID || cb.EventTime == 0 || cb.TeamID != fakeslack.DefaultTeamID || cb.APIAppID != fakeslack.DefaultAppID {
		t.Errorf("callback = %+v", ev.Data)
	}
	inner, ok := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent)
	if !ok || inner.User != alice || inner.Channel != "D"+alice || inner.Tab != "home" || inner.EventTimeStamp == "" || inner.View != nil {
		t.Fatalf("inner event = %+v", ev.InnerEvent.Data)
	}

	// Once a Home tab is published, the event carries it.
	published, err := app.api.PublishView(alice, slack.HomeTabViewRequest{Type: slack.VTHomeTab, CallbackID: "home"}, "")
	if err != nil {
		t.Fatal(err)
	}
	reply2, err := s.AppHomeOpened(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if reply2.EventID == reply.EventID {
		t.Error("event_id reused")
	}
	ev, err = slackevents.ParseEvent(json.RawMessage(app.gotEvents()[1]), slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatal(err)
	}
	if inner := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); inner.View == nil || inner.View.ID != published.View.ID || inner.View.Hash != published.View.Hash {
		t.Errorf("view in event = %+v", inner.View)
	}
}

func TestSendEventRetryHTTP(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)
	ctx := testContext(t)

	body, err := s.EventCallback(json.RawMessage(`{"type":"app_mention","user":"U0ALICE","text":"<@B0GATEPASS> status","channel":"C0OPS"}`))
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.SendEvent(ctx, body)
	if err != nil || first.Status != http.StatusOK || !eventIDPattern.MatchString(first.EventID) {
		t.Fatalf("SendEvent = %+v, %v", first, err)
	}
	retry, err := s.SendEventRetry(ctx, first.Payload, 2, "http_timeout")
	if err != nil || retry.EventID != first.EventID {
		t.Fatalf("SendEventRetry = %+v, %v", retry, err)
	}
	raw := app.gotRaw()
	if len(raw) != 2 || !bytes.Equal(raw[0].body, raw[1].body) {
		t.Fatalf("requests = %+v, want the same body twice", raw)
	}
	if h := raw[0].header; h.Get("X-Slack-Retry-Num") != "" || h.Get("X-Slack-Retry-Reason") != "" {
		t.Errorf("first delivery has retry headers: %v", h)
	}
	if h := raw[1].header; h.Get("X-Slack-Retry-Num") != "2" || h.Get("X-Slack-Retry-Reason") != "http_timeout" {
		t.Errorf("retry headers = %v", h)
	}
	if len(app.gotEvents()) != 2 {
		t.Error("the retry's fresh signature was not accepted")
	}

	// The inner event got an event_ts; the envelope is Slack's.
	var env struct {
		Type           string           `json:"type"`
		Token          string           `json:"token"`
		EventID        string           `json:"event_id"`
		EventTime      int64            `json:"event_time"`
		Authorizations []map[string]any `json:"authorizations"`
		Event          map[string]any   `json:"event"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	if env.Type != "event_callback" || env.Token != fakeslack.DefaultVerificationToken || env.EventTime == 0 ||
		len(env.Authorizations) != 1 || env.Authorizations[0]["user_id"] != fakeslack.DefaultBotUserID || env.Event["event_ts"] == nil || env.Event["text"] != "<@B0GATEPASS> status" {
		t.Errorf("envelope = %+v", env)
	}
	if _, err := s.EventCallback(json.RawMessage(`[1]`)); err == nil {
		t.Error("EventCallback accepted a non-object")
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)
	ctx := testContext(t)

	if got := s.LastSigned(); got.Path != "" {
		t.Errorf("LastSigned before anything = %+v", got)
	}
	if _, err := s.Replay(ctx, fakeslack.SignedRequest{}); !errors.Is(err, fakeslack.ErrNothingToReplay) {
		t.Errorf("Replay(zero) = %v", err)
	}
	if _, err := s.SlashCommand(ctx, alice, "prod-db"); err != nil {
		t.Fatal(err)
	}
	signed := s.LastSigned()
	if signed.Path != fakeslack.AppCommandsPath || signed.ContentType != "application/x-www-form-urlencoded" || signed.Signature != fakeslack.Sign(secret, signed.Timestamp, signed.Body) {
		t.Fatalf("LastSigned = %+v", signed)
	}
	reply, err := s.Replay(ctx, signed)
	if err != nil || reply.Status != http.StatusOK {
		t.Fatalf("Replay = %+v, %v", reply, err)
	}
	raw := app.gotRaw()
	if len(raw) != 2 {
		t.Fatalf("app got %d requests", len(raw))
	}
	for _, h := range []string{"X-Slack-Request-Timestamp", "X-Slack-Signature", "Content-Type"} {
		if raw[0].header.Get(h) != raw[1].header.Get(h) {
			t.Errorf("%s: %q then %q", h, raw[0].header.Get(h), raw[1].header.Get(h))
		}
	}
	if raw[1].path != fakeslack.AppCommandsPath || !bytes.Equal(raw[0].body, raw[1].body) || raw[1].header.Get("X-Slack-Request-Timestamp") != strconv.FormatInt(signed.Timestamp, 10) {
		t.Error("replayed request differs")
	}
	if got := s.LastSigned(); got.Timestamp != signed.Timestamp || !bytes.Equal(got.Body, signed.Body) {
		t.Error("Replay changed LastSigned")
	}
	// Replay applies nothing: the command's receipt (none here) is not
	// shown again, and no new response_url use is counted.
	if n := len(s.Ephemerals(alice)); n != 0 {
		t.Errorf("ephemerals = %d", n)
	}

	// A tampered body no longer matches its signature.
	forged := signed
	form, _ := url.ParseQuery(string(signed.Body))
	form.Set("text", "prod-db forever")
	forged.Body = []byte(form.Encode())
	if reply, err := s.Replay(ctx, forged); err != nil || reply.Status != http.StatusUnauthorized {
		t.Errorf("forged replay = %+v, %v; want 401 from the app", reply, err)
	}

	// Interactions and events are recorded too.
	if _, err := s.SendEvent(ctx, json.RawMessage(`{"type":"event_callback","event_id":"Ev0000000001","event":{"type":"app_mention"}}`)); err != nil {
		t.Fatal(err)
	}
	if got := s.LastSigned(); got.Path != fakeslack.AppEventsPath || got.ContentType != "application/json" {
		t.Errorf("LastSigned after event = %+v", got)
	}
	// LastSigned returns a copy.
	got := s.LastSigned()
	got.Body[0] = 'X'
	if s.LastSigned().Body[0] == 'X' {
		t.Error("LastSigned shares its body")
	}
}

func TestSocketModeEventRetry(t *testing.T) {
	t.Parallel()
	s, base, _ := newServer(t, testOptions())
	s.SetTransport(fakeslack.TransportSocket)
	var mu sync.Mutex
	var reqs []socketmode.Request
	runSocketClient(t, base, func(client *socketmode.Client, evt socketmode.Event) {
		if evt.Type != socketmode.EventTypeEventsAPI {
			return
		}
		mu.Lock()
		reqs = append(reqs, *evt.Request)
		mu.Unlock()
		_ = client.Ack(*evt.Request)
	})
	tctx := testContext(t)
	if err := s.WaitSocketConnected(tctx); err != nil {
		t.Fatal(err)
	}

	first, err := s.AppHomeOpened(tctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendEventRetry(tctx, first.Payload, 1, "timeout"); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitUntil(tctx, func() bool { return len(s.Acks()) == 2 }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != 2 || reqs[0].RetryAttempt != 0 || reqs[1].RetryAttempt != 1 || reqs[1].RetryReason != "timeout" || !bytes.Equal(reqs[0].Payload, reqs[1].Payload) {
		t.Errorf("requests = %+v", reqs)
	}
	if s.LastSigned().Path != "" {
		t.Error("socket mode deliveries recorded as signed requests")
	}
}
