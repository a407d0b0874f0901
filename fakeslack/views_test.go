package fakeslack_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/gatepass/gatepass/fakeslack"
)

func plain(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, text, false, false)
}

func option(value, text string) *slack.OptionBlockObject {
	return slack.NewOptionBlockObject(value, plain(text), nil)
}

// requestModal is an access request form: a required resource select, a
// required reason, an optional ticket, and a level select in an actions
// block (whose changes Slack sends to the app at once).
func requestModal(externalID string) slack.ModalViewRequest {
	ticket := slack.NewInputBlock("ticket", plain("Ticket"), plain("e.g. INC-42"), slack.NewPlainTextInputBlockElement(plain("INC-…"), "text"))
	ticket.Optional = true
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain("Request access"),
		Submit:          plain("Request"),
		Close:           plain("Cancel"),
		CallbackID:      "request",
		PrivateMetadata: "channel=C0OPS",
		ExternalID:      externalID,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("resource", plain("Resource"), nil,
				slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose"), "pick", option("prod-db", "Production DB"), option("staging", "Staging"))),
			slack.NewInputBlock("reason", plain("Reason"), nil, slack.NewPlainTextInputBlockElement(plain("Why?"), "text")),
			ticket,
			slack.NewActionBlock("level",
				slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Level"), "choose", option("read", "Read"), option("write", "Write")),
				slack.NewButtonBlockElement("help", "h1", plain("Help"))),
		}},
	}
}

// newAppServer serves app over httptest and points s at it.
func newAppServer(t *testing.T, s *fakeslack.Server, app *testApp) {
	t.Helper()
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	s.SetAppURL(srv.URL)
}

// openModal opens requestModal for user through the stand-in's own trigger.
func openModal(t *testing.T, s *fakeslack.Server, api *slack.Client, user, externalID string) *slack.ViewResponse {
	t.Helper()
	resp, err := api.OpenView(s.NewTriggerID(user), requestModal(externalID))
	if err != nil {
		t.Fatalf("OpenView: %v", err)
	}
	return resp
}

// stateValue returns a value from a raw interaction payload's
// view.state.values.
func stateValue(t *testing.T, payload json.RawMessage, blockID, actionID string) map[string]any {
	t.Helper()
	var p struct {
		View struct {
			State struct {
				Values map[string]map[string]map[string]any `json:"values"`
			} `json:"state"`
		} `json:"view"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatalf("payload: %v", err)
	}
	return p.View.State.Values[blockID][actionID]
}

func TestOpenAndUpdateViewWithSlackGo(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)
	var (
		mu     sync.Mutex
		opened *slack.ViewResponse
	)
	app.onCommand = func(cmd slack.SlashCommand) any {
		resp, err := app.api.OpenView(cmd.TriggerID, requestModal("form-"+cmd.UserID))
		if err != nil {
			app.t.Errorf("OpenView: %v", err)
			return nil
		}
		mu.Lock()
		opened = resp
		mu.Unlock()
		return nil
	}

	reply, err := s.SlashCommand(testContext(t), alice, "")
	if err != nil {
		t.Fatalf("SlashCommand: %v", err)
	}
	if cmd := app.gotCommands()[0]; reply.TriggerID == "" || reply.TriggerID != cmd.TriggerID {
		t.Errorf("Reply.TriggerID = %q, the app got %q", reply.TriggerID, cmd.TriggerID)
	}
	mu.Lock()
	resp := opened
	mu.Unlock()
	if resp == nil {
		t.Fatal("modal not opened")
	}
	// slack-go parses Slack's response shape.
	if resp.View.ID == "" || resp.View.Type != slack.VTModal || resp.View.Hash == "" || resp.View.RootViewID != resp.View.ID ||
		resp.View.CallbackID != "request" || resp.View.PrivateMetadata != "channel=C0OPS" || resp.View.ExternalID != "form-"+alice ||
		resp.View.TeamID != fakeslack.DefaultTeamID || resp.View.AppID != fakeslack.DefaultAppID || resp.View.BotID != fakeslack.DefaultBotUserID ||
		resp.View.Title.Text != "Request access" || len(resp.View.Blocks.BlockSet) != 4 || resp.View.State == nil {
		t.Errorf("view = %+v", resp.View)
	}

	open := s.OpenViews(alice)
	if len(open) != 1 {
		t.Fatalf("OpenViews = %+v", open)
	}
	v := open[0]
	if v.ID != resp.View.ID || v.Type != fakeslack.ViewTypeModal || v.UserID != alice || !v.Open || v.Title != "Request access" ||
		v.Submit != "Request" || v.Close != "Cancel" || v.Hash != resp.View.Hash || v.Updates != 0 {
		t.Errorf("stored view = %+v", v)
	}
	if got, ok := s.View(v.ID); !ok || got.ID != v.ID {
		t.Errorf("View(%s) = %+v, %v", v.ID, got, ok)
	}
	if text := fakeslack.ViewText(v); !strings.Contains(text, "Request access\nResource\nReason\nTicket\ne.g. INC-42") {
		t.Errorf("ViewText = %q", text)
	}
	if b := fakeslack.ViewButtons(v); len(b) != 1 || b[0].ActionID != "help" || b[0].BlockID != "level" {
		t.Errorf("ViewButtons = %+v", b)
	}

	// The trigger was used up.
	if _, err := app.api.OpenView(reply.TriggerID, requestModal("")); err == nil || err.Error() != "exchanged_trigger_id" {
		t.Errorf("second OpenView error = %v, want exchanged_trigger_id", err)
	}

	// views.update by view_id, with the right and a stale hash.
	updated := requestModal("form-" + alice)
	updated.Title = plain("Request sent")
	up, err := app.api.UpdateView(updated, "", v.Hash, v.ID)
	if err != nil {
		t.Fatalf("UpdateView: %v", err)
	}
	if up.View.ID != v.ID || up.View.Hash == v.Hash || up.View.Title.Text != "Request sent" {
		t.Errorf("updated view = %+v", up.View)
	}
	if _, err := app.api.UpdateView(updated, "", v.Hash, v.ID); err == nil || err.Error() != "hash_conflict" {
		t.Errorf("UpdateView(stale hash) error = %v, want hash_conflict", err)
	}
	// By external_id, without a hash.
	updated.Title = plain("Third title")
	if _, err := app.api.UpdateView(updated, "form-"+alice, "", ""); err != nil {
		t.Fatalf("UpdateView(external_id): %v", err)
	}
	v = s.OpenViews(alice)[0]
	if v.Title != "Third title" || v.Updates != 2 {
		t.Errorf("after updates: %+v", v)
	}
	if _, err := app.api.UpdateView(updated, "", "", "V00000000"); err == nil || err.Error() != "not_found" {
		t.Errorf("UpdateView(unknown) error = %v, want not_found", err)
	}

	// external_id is unique among open views.
	if _, err := app.api.OpenView(s.NewTriggerID(bob), requestModal("form-"+alice)); err == nil || err.Error() != "duplicate_external_id" {
		t.Errorf("OpenView(duplicate external_id) error = %v", err)
	}
	// A new views.open replaces the user's stack and may reuse its external_id.
	again := openModal(t, s, app.api, alice, "form-"+alice)
	if open := s.OpenViews(alice); len(open) != 1 || open[0].ID != again.View.ID {
		t.Errorf("OpenViews after reopen = %+v", open)
	}
	if old, _ := s.View(v.ID); old.Open {
		t.Error("replaced modal still open")
	}
}

func TestViewValidation(t *testing.T) {
	t.Parallel()
	s, _, api := newServer(t, testOptions())

	tests := []struct {
		name string
		view slack.ModalViewRequest
		want string
	}{
		{name: "no title", view: slack.ModalViewRequest{Type: slack.VTModal}, want: "invalid_arguments"},
		{name: "long title", view: slack.ModalViewRequest{Type: slack.VTModal, Title: plain("A title that is far too long")}, want: "invalid_arguments"},
		{name: "home type", view: slack.ModalViewRequest{Type: slack.VTHomeTab, Title: plain("x")}, want: "invalid_arguments"},
		{name: "inputs without submit", view: slack.ModalViewRequest{Type: slack.VTModal, Title: plain("x"), Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("b", plain("l"), nil, slack.NewPlainTextInputBlockElement(nil, "a")),
		}}}, want: "invalid_arguments"},
		{name: "private_metadata too long", view: slack.ModalViewRequest{Type: slack.VTModal, Title: plain("x"), PrivateMetadata: strings.Repeat("x", 3001)}, want: "invalid_arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trigger := s.NewTriggerID(alice)
			if _, err := api.OpenView(trigger, tt.view); err == nil || err.Error() != tt.want {
				t.Errorf("OpenView error = %v, want %s", err, tt.want)
			}
			// A failed call does not use the trigger up.
			if _, err := api.OpenView(trigger, requestModal("")); err != nil {
				t.Errorf("OpenView after failure: %v", err)
			}
		})
	}
}

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestTriggerIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		strict  bool
		trigger func(*fakeslack.Server, *clock, *slack.Client) string
		want    string // empty for success
	}{
		{name: "fresh", trigger: func(s *fakeslack.Server, _ *clock, _ *slack.Client) string { return s.NewTriggerID(alice) }},
		{name: "just in time", trigger: func(s *fakeslack.Server, c *clock, _ *slack.Client) string {
			id := s.NewTriggerID(alice)
			c.Advance(fakeslack.DefaultTriggerTTL)
			return id
		}},
		{name: "expired", trigger: func(s *fakeslack.Server, c *clock, _ *slack.Client) string {
			id := s.NewTriggerID(alice)
			c.Advance(fakeslack.DefaultTriggerTTL + time.Second)
			return id
		}, want: "expired_trigger_id"},
		{name: "used", trigger: func(s *fakeslack.Server, _ *clock, api *slack.Client) string {
			id := s.NewTriggerID(alice)
			_, _ = api.OpenView(id, requestModal(""))
			return id
		}, want: "exchanged_trigger_id"},
		{name: "unknown, lenient", trigger: func(*fakeslack.Server, *clock, *slack.Client) string { return "123.456.abc" }},
		{name: "unknown, strict", strict: true, trigger: func(*fakeslack.Server, *clock, *slack.Client) string { return "123.456.abc" }, want: "invalid_trigger_id"},
		{name: "forgotten by Reset", strict: true, trigger: func(s *fakeslack.Server, _ *clock, _ *slack.Client) string {
			id := s.NewTriggerID(alice)
			s.Reset()
			return id
		}, want: "invalid_trigger_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			opts := testOptions()
			opts.Now = c.Now
			opts.StrictTriggers = tt.strict
			s, _, api := newServer(t, opts)
			_, err := api.OpenView(tt.trigger(s, c, api), requestModal(""))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("OpenView: %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("OpenView error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestSubmitViewHTTP(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)
	var answers []any // what the app answers to successive submissions
	var mu sync.Mutex
	app.onInteraction = func(cb slack.InteractionCallback) any {
		if cb.Type != slack.InteractionTypeViewSubmission {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		answer := answers[0]
		answers = answers[1:]
		return answer
	}
	setAnswers := func(a ...any) {
		mu.Lock()
		defer mu.Unlock()
		answers = a
	}
	ctx := testContext(t)
	viewID := openModal(t, s, app.api, alice, "").View.ID

	// Slack's client refuses to submit without the required inputs.
	_, err := s.SubmitView(ctx, alice, viewID, map[string]map[string]fakeslack.ViewValue{"reason": {"text": {Value: "incident"}}})
	if !errors.Is(err, fakeslack.ErrMissingInput) || !strings.Contains(err.Error(), "resource") {
		t.Errorf("SubmitView without resource: %v, want ErrMissingInput naming resource", err)
	}
	if n := len(app.gotInteractions()); n != 0 {
		t.Fatalf("app got %d interactions, want none", n)
	}
	for _, tt := range []struct {
		values map[string]map[string]fakeslack.ViewValue
		want   error
	}{
		{map[string]map[string]fakeslack.ViewValue{"nope": {"text": {Value: "x"}}}, fakeslack.ErrNoSuchElement},
		{map[string]map[string]fakeslack.ViewValue{"resource": {"pick": {Value: "prod-mainframe"}}}, fakeslack.ErrNoSuchOption},
	} {
		if _, err := s.SubmitView(ctx, alice, viewID, tt.values); !errors.Is(err, tt.want) {
			t.Errorf("SubmitView(%v) error = %v, want %v", tt.values, err, tt.want)
		}
	}
	if _, err := s.SubmitView(ctx, bob, viewID, nil); !errors.Is(err, fakeslack.ErrNoSuchView) {
		t.Errorf("SubmitView by another user: %v, want ErrNoSuchView", err)
	}

	// The app rejects the reason: the modal stays open with the errors. The
	// reason typed earlier is still in the view.
	setAnswers(slack.NewErrorsViewSubmissionResponse(map[string]string{"reason": "Say more"}))
	reply, err := s.SubmitView(ctx, alice, viewID, map[string]map[string]fakeslack.ViewValue{"resource": {"pick": {Value: "prod-db"}}})
	if err != nil {
		t.Fatalf("SubmitView: %v", err)
	}
	if reply.Status != http.StatusOK || reply.ResponseAction != "errors" || reply.Errors["reason"] != "Say more" || reply.TriggerID == "" {
		t.Errorf("reply = %+v", reply)
	}
	cb := app.gotInteractions()[0]
	if cb.Type != slack.InteractionTypeViewSubmission || cb.User.ID != alice || cb.View.ID != viewID || cb.View.CallbackID != "request" ||
		cb.View.PrivateMetadata != "channel=C0OPS" || cb.View.Hash == "" || cb.TriggerID != reply.TriggerID || cb.APIAppID != fakeslack.DefaultAppID {
		t.Errorf("callback = %+v", cb)
	}
	values := cb.View.State.Values
	if values["resource"]["pick"].SelectedOption.Value != "prod-db" || values["resource"]["pick"].SelectedOption.Text.Text != "Production DB" ||
		values["reason"]["text"].Value != "incident" || values["ticket"]["text"].Value != "" || values["level"]["choose"].Type != "static_select" {
		t.Errorf("state values = %+v", values)
	}
	// The raw payload has Slack's shape.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(reply.Payload, &raw); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"type", "user", "api_app_id", "token", "trigger_id", "team", "view", "response_urls"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("payload lacks %q: %s", key, reply.Payload)
		}
	}
	if string(raw["response_urls"]) != "[]" {
		t.Errorf("response_urls = %s", raw["response_urls"])
	}
	if got := stateValue(t, reply.Payload, "ticket", "text"); got["type"] != "plain_text_input" || got["value"] != nil {
		t.Errorf("empty optional input = %v, want type and null value", got)
	}
	if got := stateValue(t, reply.Payload, "resource", "pick"); got["type"] != "static_select" {
		t.Errorf("select state = %v", got)
	}
	v, _ := s.View(viewID)
	if !v.Open || v.Errors["reason"] != "Say more" {
		t.Errorf("view after errors = %+v", v)
	}

	// The app updates the form; the same view gets new content.
	next := requestModal("")
	next.Title = plain("Confirm")
	setAnswers(slack.NewUpdateViewSubmissionResponse(&next))
	reply, err = s.SubmitView(ctx, alice, viewID, map[string]map[string]fakeslack.ViewValue{"reason": {"text": {Value: "incident 42, db down"}}})
	if err != nil || reply.ResponseAction != "update" || reply.View == nil {
		t.Fatalf("SubmitView = %+v, %v", reply, err)
	}
	v, _ = s.View(viewID)
	if v.Title != "Confirm" || v.Errors != nil || v.Updates != 1 || v.Hash == cb.View.Hash {
		t.Errorf("view after update = %+v", v)
	}

	// Then it pushes a confirmation on top.
	confirm := slack.ModalViewRequest{Type: slack.VTModal, Title: plain("Sure?"), Submit: plain("Yes"), Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Production access is logged.", false, false), nil, nil),
	}}}
	setAnswers(slack.NewPushViewSubmissionResponse(&confirm))
	if _, err := s.SubmitView(ctx, alice, viewID, nil); err != nil {
		t.Fatal(err)
	}
	open := s.OpenViews(alice)
	if len(open) != 2 || open[0].ID != viewID || open[1].PreviousViewID != viewID || open[1].RootViewID != viewID || open[1].Title != "Sure?" {
		t.Fatalf("OpenViews after push = %+v", open)
	}
	if _, err := s.SubmitView(ctx, alice, viewID, nil); !errors.Is(err, fakeslack.ErrNoSuchView) {
		t.Errorf("submitting the covered view: %v, want ErrNoSuchView", err)
	}
	// An empty answer closes the pushed view only.
	setAnswers(nil)
	if _, err := s.SubmitView(ctx, alice, open[1].ID, nil); err != nil {
		t.Fatal(err)
	}
	if open := s.OpenViews(alice); len(open) != 1 || open[0].ID != viewID {
		t.Errorf("OpenViews after empty answer = %+v", open)
	}
	// clear closes everything.
	setAnswers(slack.NewClearViewSubmissionResponse())
	if _, err := s.SubmitView(ctx, alice, viewID, nil); err != nil {
		t.Fatal(err)
	}
	if open := s.OpenViews(alice); len(open) != 0 {
		t.Errorf("OpenViews after clear = %+v", open)
	}
	if v, _ := s.View(viewID); v.Open {
		t.Error("view still open after clear")
	}
}

func TestSubmitViewFailedAnswerKeepsModal(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.SigningSecret = "not-the-app-secret" // the app answers 401
	s, _, api := newServer(t, opts)
	newAppServer(t, s, &testApp{t: t, api: api})
	viewID := openModal(t, s, api, alice, "").View.ID
	reply, err := s.SubmitView(testContext(t), alice, viewID, map[string]map[string]fakeslack.ViewValue{
		"resource": {"pick": {Value: "staging"}}, "reason": {"text": {Value: "x"}},
	})
	if err != nil || reply.Status != http.StatusUnauthorized {
		t.Fatalf("SubmitView = %+v, %v", reply, err)
	}
	if open := s.OpenViews(alice); len(open) != 1 {
		t.Errorf("OpenViews = %+v, want the modal still open", open)
	}
}

func TestSelectAndClickInView(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)
	var mu sync.Mutex
	var pushed string
	app.onClick = func(cb slack.InteractionCallback) {
		if cb.Type != slack.InteractionTypeBlockActions || cb.ActionCallback.BlockActions[0].ActionID != "help" {
			return
		}
		// A button in a modal gives a trigger to push a view.
		resp, err := app.api.PushView(cb.TriggerID, slack.ModalViewRequest{Type: slack.VTModal, Title: plain("Help")})
		if err != nil {
			app.t.Errorf("PushView: %v", err)
			return
		}
		mu.Lock()
		pushed = resp.View.ID
		mu.Unlock()
	}
	ctx := testContext(t)
	viewID := openModal(t, s, app.api, alice, "").View.ID

	// A select in an input block without dispatch_action: Slack sends
	// nothing, but the view keeps the choice.
	reply, err := s.SelectInView(ctx, alice, viewID, "resource", "pick", "staging")
	if err != nil || reply.Status != 0 || reply.Payload != nil {
		t.Errorf("SelectInView(input) = %+v, %v; want nothing sent", reply, err)
	}
	if n := len(app.gotInteractions()); n != 0 {
		t.Errorf("app got %d interactions", n)
	}

	// A select in an actions block is sent at once, with the whole state.
	reply, err = s.SelectInView(ctx, alice, viewID, "level", "choose", "write")
	if err != nil || reply.Status != http.StatusOK {
		t.Fatalf("SelectInView(actions) = %+v, %v", reply, err)
	}
	cb := app.gotInteractions()[0]
	if cb.Type != slack.InteractionTypeBlockActions || cb.Container.Type != "view" || cb.Container.ViewID != viewID || cb.View.ID != viewID ||
		cb.View.Type != slack.VTModal || cb.ResponseURL != "" || cb.TriggerID != reply.TriggerID {
		t.Errorf("callback = type %q container %+v view %s/%s response_url %q", cb.Type, cb.Container, cb.View.ID, cb.View.Type, cb.ResponseURL)
	}
	a := cb.ActionCallback.BlockActions[0]
	if a.ActionID != "choose" || a.BlockID != "level" || a.Type != "static_select" || a.SelectedOption.Value != "write" || a.SelectedOption.Text.Text != "Write" {
		t.Errorf("action = %+v", a)
	}
	if got := cb.View.State.Values["resource"]["pick"].SelectedOption.Value; got != "staging" {
		t.Errorf("state resource = %q, want the earlier choice", got)
	}
	if _, err := s.SelectInView(ctx, alice, viewID, "level", "choose", "admin"); !errors.Is(err, fakeslack.ErrNoSuchOption) {
		t.Errorf("unknown option: %v", err)
	}
	if _, err := s.SelectInView(ctx, alice, viewID, "level", "nope", "read"); !errors.Is(err, fakeslack.ErrNoSuchElement) {
		t.Errorf("unknown element: %v", err)
	}

	// Clicking Help pushes a view with the click's trigger.
	v, _ := s.View(viewID)
	help := fakeslack.ViewButtons(v)[0]
	if _, err := s.ClickInView(ctx, alice, viewID, help); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	pushedID := pushed
	mu.Unlock()
	if open := s.OpenViews(alice); len(open) != 2 || open[1].ID != pushedID {
		t.Fatalf("OpenViews = %+v, want the help view on top", open)
	}
	if _, err := s.ClickInView(ctx, alice, viewID, help); !errors.Is(err, fakeslack.ErrNoSuchView) {
		t.Errorf("click on the covered view: %v", err)
	}

	// The earlier choices are submitted once the user is back.
	if _, err := s.CloseView(ctx, alice, pushedID); err != nil {
		t.Fatal(err)
	}
	reply, err = s.SubmitView(ctx, alice, viewID, map[string]map[string]fakeslack.ViewValue{"reason": {"text": {Value: "deploy"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := stateValue(t, reply.Payload, "resource", "pick"); got["selected_option"].(map[string]any)["value"] != "staging" {
		t.Errorf("submitted resource = %v", got)
	}
	if got := stateValue(t, reply.Payload, "level", "choose"); got["selected_option"].(map[string]any)["value"] != "write" {
		t.Errorf("submitted level = %v", got)
	}
}

func TestPushLimit(t *testing.T) {
	t.Parallel()
	s, _, api := newServer(t, testOptions())
	openModal(t, s, api, alice, "")
	small := slack.ModalViewRequest{Type: slack.VTModal, Title: plain("More")}
	for i := 1; i < fakeslack.MaxViewStack; i++ {
		if _, err := api.PushView(s.NewTriggerID(alice), small); err != nil {
			t.Fatalf("PushView %d: %v", i, err)
		}
	}
	if _, err := api.PushView(s.NewTriggerID(alice), small); err == nil || err.Error() != "push_limit_reached" {
		t.Errorf("PushView over the limit: %v", err)
	}
	if _, err := api.PushView(s.NewTriggerID(bob), small); err == nil || err.Error() != "not_found" {
		t.Errorf("PushView without a modal: %v", err)
	}
	if n := len(s.OpenViews(alice)); n != fakeslack.MaxViewStack {
		t.Errorf("OpenViews = %d", n)
	}
}

func TestCloseViewNotifies(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)
	ctx := testContext(t)
	m := requestModal("")
	m.NotifyOnClose = true
	resp, err := app.api.OpenView(s.NewTriggerID(alice), m)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := s.CloseView(ctx, alice, resp.View.ID)
	if err != nil || reply.Status != http.StatusOK {
		t.Fatalf("CloseView = %+v, %v", reply, err)
	}
	cb := app.gotInteractions()[0]
	if cb.Type != slack.InteractionTypeViewClosed || cb.View.ID != resp.View.ID || !cb.IsCleared || cb.User.ID != alice {
		t.Errorf("view_closed = type %q view %q cleared %v", cb.Type, cb.View.ID, cb.IsCleared)
	}
	if len(s.OpenViews(alice)) != 0 {
		t.Error("modal still open")
	}

	// Without notify_on_close nothing is sent.
	viewID := openModal(t, s, app.api, alice, "").View.ID
	if reply, err := s.CloseView(ctx, alice, viewID); err != nil || reply.Status != 0 {
		t.Errorf("CloseView = %+v, %v", reply, err)
	}
	if n := len(app.gotInteractions()); n != 1 {
		t.Errorf("interactions = %d, want 1", n)
	}
}

func TestHomeTab(t *testing.T) {
	t.Parallel()
	s, app := newDriverSetup(t)
	ctx := testContext(t)
	home := slack.HomeTabViewRequest{
		Type:       slack.VTHomeTab,
		CallbackID: "home",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewHeaderBlock(plain("Your access")),
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "prod-db until 14:00", false, false), nil,
				slack.NewAccessory(slack.NewButtonBlockElement("revoke", "g1", plain("Revoke")))),
		}},
	}
	first, err := app.api.PublishView(alice, home, "")
	if err != nil {
		t.Fatalf("PublishView: %v", err)
	}
	if first.View.ID == "" || first.View.Type != slack.VTHomeTab || first.View.Hash == "" || first.View.CallbackID != "home" {
		t.Errorf("published view = %+v", first.View)
	}
	v, ok := s.HomeView(alice)
	if !ok || v.ID != first.View.ID || v.UserID != alice || v.Type != fakeslack.ViewTypeHome || !v.Open {
		t.Fatalf("HomeView = %+v, %v", v, ok)
	}
	if text := fakeslack.ViewText(v); text != "Your access\nprod-db until 14:00\nRevoke" {
		t.Errorf("ViewText = %q", text)
	}
	if _, ok := s.HomeView(bob); ok {
		t.Error("bob has a Home tab")
	}

	// Publishing again replaces the content; the ID stays, the hash moves.
	home.Blocks.BlockSet = home.Blocks.BlockSet[:1]
	second, err := app.api.PublishView(alice, home, first.View.Hash)
	if err != nil {
		t.Fatalf("PublishView with hash: %v", err)
	}
	if second.View.ID != first.View.ID || second.View.Hash == first.View.Hash {
		t.Errorf("republished view = %+v", second.View)
	}
	if _, err := app.api.PublishView(alice, home, first.View.Hash); err == nil || err.Error() != "hash_conflict" {
		t.Errorf("PublishView(stale hash) error = %v", err)
	}
	if v, _ := s.HomeView(alice); len(fakeslack.ViewButtons(v)) != 0 || v.Updates != 1 {
		t.Errorf("HomeView after republish = %+v", v)
	}
	if _, err := app.api.PublishView("C0OPS", home, ""); err == nil || err.Error() != "invalid_arguments" {
		t.Errorf("PublishView(channel) error = %v", err)
	}
	modal := slack.HomeTabViewRequest{Type: slack.VTModal}
	if _, err := app.api.PublishView(alice, modal, ""); err == nil || err.Error() != "invalid_arguments" {
		t.Errorf("PublishView(modal) error = %v", err)
	}

	// A button on the Home tab.
	reply, err := s.ClickInView(ctx, alice, first.View.ID, fakeslack.Button{BlockID: "b", ActionID: "refresh", Text: "Refresh"})
	if err != nil || reply.Status != http.StatusOK {
		t.Fatalf("ClickInView = %+v, %v", reply, err)
	}
	cb := app.gotInteractions()[0]
	if cb.Container.Type != "view" || cb.Container.ViewID != first.View.ID || cb.View.Type != slack.VTHomeTab || cb.View.CallbackID != "home" ||
		cb.ActionCallback.BlockActions[0].ActionID != "refresh" {
		t.Errorf("home click = container %+v view %s/%s", cb.Container, cb.View.ID, cb.View.Type)
	}
	if _, err := s.ClickInView(ctx, bob, first.View.ID, fakeslack.Button{ActionID: "refresh"}); !errors.Is(err, fakeslack.ErrNoSuchView) {
		t.Errorf("bob clicking alice's Home tab: %v", err)
	}
	if _, err := s.SubmitView(ctx, alice, first.View.ID, nil); !errors.Is(err, fakeslack.ErrNoSuchView) {
		t.Errorf("submitting a Home tab: %v", err)
	}

	s.Reset()
	if _, ok := s.HomeView(alice); ok {
		t.Error("Home tab survived Reset")
	}
}

func TestSubmitViewSocketMode(t *testing.T) {
	t.Parallel()
	s, base, api := newServer(t, testOptions())
	s.SetTransport(fakeslack.TransportSocket)

	var mu sync.Mutex
	var got []slack.InteractionCallback
	runSocketClient(t, base, func(client *socketmode.Client, evt socketmode.Event) {
		if evt.Type != socketmode.EventTypeInteractive {
			return
		}
		cb := evt.Data.(slack.InteractionCallback)
		mu.Lock()
		got = append(got, cb)
		n := len(got)
		mu.Unlock()
		if n == 1 {
			_ = client.Ack(*evt.Request, slack.NewErrorsViewSubmissionResponse(map[string]string{"resource": "Not today"}))
		} else {
			_ = client.Ack(*evt.Request)
		}
	})
	tctx := testContext(t)
	if err := s.WaitSocketConnected(tctx); err != nil {
		t.Fatal(err)
	}

	viewID := openModal(t, s, api, alice, "").View.ID
	values := map[string]map[string]fakeslack.ViewValue{"resource": {"pick": {Value: "prod-db"}}, "reason": {"text": {Value: "x"}}}
	reply, err := s.SubmitView(tctx, alice, viewID, values)
	if err != nil || reply.ResponseAction != "errors" || reply.Errors["resource"] != "Not today" {
		t.Fatalf("SubmitView = %+v, %v", reply, err)
	}
	if v, _ := s.View(viewID); !v.Open || v.Errors["resource"] != "Not today" {
		t.Errorf("view = %+v", v)
	}
	if _, err := s.SubmitView(tctx, alice, viewID, nil); err != nil {
		t.Fatal(err)
	}
	if open := s.OpenViews(alice); len(open) != 0 {
		t.Errorf("OpenViews after empty ack = %+v", open)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Type != slack.InteractionTypeViewSubmission || got[0].View.State.Values["reason"]["text"].Value != "x" {
		t.Errorf("socket interactions = %+v", got)
	}
	if acks := s.Acks(); len(acks) != 2 || !strings.Contains(string(acks[0].Payload), `"response_action":"errors"`) {
		t.Errorf("acks = %+v", acks)
	}
}

func TestViewValueKinds(t *testing.T) {
	t.Parallel()
	s, base, api := newServer(t, testOptions())
	app := &testApp{t: t, api: api}
	newAppServer(t, s, app)
	blocks := `[
		{"type":"input","block_id":"who","label":{"type":"plain_text","text":"Who"},"element":{"type":"multi_users_select","action_id":"users","initial_users":["U0BOB"]}},
		{"type":"input","block_id":"when","label":{"type":"plain_text","text":"When"},"element":{"type":"datepicker","action_id":"day"}},
		{"type":"input","block_id":"what","label":{"type":"plain_text","text":"What"},"element":{"type":"checkboxes","action_id":"boxes","options":[
			{"text":{"type":"mrkdwn","text":"*Read*"},"value":"r"},{"text":{"type":"plain_text","text":"Write"},"value":"w"}]}},
		{"type":"input","block_id":"note","optional":true,"label":{"type":"plain_text","text":"Note"},"element":{"type":"plain_text_input","action_id":"t","initial_value":"none"}}
	]`
	view := `{"type":"modal","title":{"type":"plain_text","text":"Kinds"},"submit":{"type":"plain_text","text":"Go"},"blocks":` + blocks + `}`
	resp, err := http.PostForm(base+"/api/views.open", map[string][]string{
		"token": {botToken}, "trigger_id": {s.NewTriggerID(alice)}, "view": {view},
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	open := s.OpenViews(alice)
	if len(open) != 1 {
		t.Fatalf("form-encoded views.open did not open a view: status %d", resp.StatusCode)
	}
	reply, err := s.SubmitView(testContext(t), alice, open[0].ID, map[string]map[string]fakeslack.ViewValue{
		"when": {"day": {Value: "2030-01-02"}},
		"what": {"boxes": {Values: []string{"r", "w"}}},
	})
	if err != nil {
		t.Fatalf("SubmitView: %v", err)
	}
	cb := app.gotInteractions()[0]
	vals := cb.View.State.Values
	if !slices.Equal(vals["who"]["users"].SelectedUsers, []string{bob}) || vals["when"]["day"].SelectedDate != "2030-01-02" ||
		len(vals["what"]["boxes"].SelectedOptions) != 2 || vals["what"]["boxes"].SelectedOptions[0].Text.Text != "*Read*" ||
		vals["note"]["t"].Value != "none" {
		t.Errorf("values = %+v", vals)
	}
	if got := stateValue(t, reply.Payload, "who", "users"); got["type"] != "multi_users_select" {
		t.Errorf("raw who = %v", got)
	}
}
