// Package playground lets a newcomer try gatepass without a Slack
// workspace. It holds an example policy with demo users and resources
// ([Policy], [Users]), and [Playground], an HTTP handler serving a small web
// page that behaves like Slack for the demo, on top of a
// [fakeslack.Server]: the same Slack stand-in the project's end-to-end tests
// use.
//
// The page shows the stand-in's channels and direct messages, renders the
// Block Kit the bot sends, and lets the visitor type /access as any demo
// user and click buttons, which the stand-in sends to gatepass as signed
// slash commands and interactions. gatepass itself runs unchanged: the
// stand-in is just its SLACK_API_URL. `gatepass playground` wires the two
// together.
//
// Views work as in Slack: when gatepass opens a modal for a demo user
// (views.open), the page shows it over the conversation, and submits,
// selects and button clicks in it go back to gatepass through the
// stand-in's view driver; the Home tab of each demo user is opened with an
// app_home_opened event and shows what gatepass published (views.publish).
// Thread replies (reminders) are shown under their message.
//
// Routes served by a Playground:
//
//	GET  /                 the page (static files under /static/)
//	GET  /state            everything the page shows, as JSON
//	GET  /events           server-sent events: every change to the stand-in's messages and views
//	POST /command          {"user","text","channel"}: type a slash command
//	POST /click            {"user","channel","ts","action_id","value"}: click a button on a message
//	POST /message          {"user","channel","text"}: post an ordinary message
//	POST /home             {"user"}: the user opens gatepass's Home tab (app_home_opened)
//	POST /view/submit      {"user","view_id","values":{block_id:{action_id:{"value"|"values"}}}}: submit a modal
//	POST /view/select      {"user","view_id","block_id","action_id","value"}: pick an option (or type) in a view
//	POST /view/click       {"user","view_id","action_id","value"}: click a button in a modal or Home tab
//	POST /view/close       {"user","view_id"}: close a modal
//	     /v1/introspect    gatepass's introspection endpoint, forwarded (with Config.AppURL)
//	     /fake-slack/…     the Slack stand-in itself (Web API, response URLs)
package playground

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatepass/gatepass/fakeslack"
)

//go:embed static
var staticFiles embed.FS

// maxEchoes bounds the slash commands remembered for the page.
const maxEchoes = 500

// Timeouts of the page's API calls.
const (
	commandTimeout = 10 * time.Second // Slack itself gives an app 3 s
	keepAlive      = 15 * time.Second // SSE comment, so proxies keep the stream
)

// Config configures a [Playground].
type Config struct {
	// Slack is the stand-in the page shows and drives. Required. Its
	// PublicURL must be the playground's URL followed by SlackPrefix.
	Slack *fakeslack.Server
	// SlackPrefix is the path the stand-in is served under. Default
	// [SlackPrefix].
	SlackPrefix string
	// Users are the people the visitor can act as. Default [Users].
	Users []User
	// Groups are the user groups mentions may name. Default [Groups].
	Groups []Group
	// BotUserID is the bot's user ID in the stand-in. Default
	// fakeslack.DefaultBotUserID.
	BotUserID string
	// BotName is the bot's display name. Default "gatepass".
	BotName string
	// AppURL is gatepass's own base URL (such as http://127.0.0.1:41234).
	// When set, the playground forwards /v1/introspect there, so a token
	// can be checked on the page's own address as a production service
	// would, and the page shows how with IntrospectionKey.
	AppURL string
	// IntrospectionKey is the key the page shows for /v1/introspect.
	IntrospectionKey string
	// Proxy, when set, describes a resource behind gatepass's http_proxy
	// provider, which the page explains with curl lines.
	Proxy *ProxyDemo
	// Log receives the page's API failures. Default: discarded.
	Log *slog.Logger
}

// ProxyDemo describes a resource behind gatepass's http_proxy provider, as
// the page shows it.
type ProxyDemo struct {
	// Resource is the resource's name, such as billing-api.
	Resource string `json:"resource"`
	// URL is where the proxy listens, such as http://127.0.0.1:8089.
	URL string `json:"url"`
	// Path is a path worth a GET, such as /invoices.
	Path string `json:"path"`
}

// Playground is the web page and its JSON and server-sent-events API. It
// keeps no state of its own beyond the slash commands typed (shown to
// their typist, as Slack does); everything else is read from the stand-in.
// Create it with [New].
type Playground struct {
	cfg    Config
	slack  *fakeslack.Server
	mux    *http.ServeMux
	static fs.FS

	mu     sync.Mutex
	echoes []message     // slash commands typed, and failures to deliver them
	notify chan struct{} // closed and replaced when echoes change
	done   chan struct{} // closed by Close
	once   sync.Once
	userBy map[string]User
	app    *httputil.ReverseProxy // /v1/introspect, nil without Config.AppURL
	// viewsRead is when views were last read for the page (Unix ns).
	viewsRead int64
}

// New returns a Playground for cfg.
func New(cfg Config) (*Playground, error) {
	if cfg.Slack == nil {
		return nil, errors.New("playground: Config.Slack is required")
	}
	if cfg.SlackPrefix == "" {
		cfg.SlackPrefix = SlackPrefix
	}
	cfg.SlackPrefix = "/" + strings.Trim(cfg.SlackPrefix, "/")
	if cfg.Users == nil {
		cfg.Users = Users()
	}
	if cfg.Groups == nil {
		cfg.Groups = Groups()
	}
	if cfg.BotUserID == "" {
		cfg.BotUserID = fakeslack.DefaultBotUserID
	}
	if cfg.BotName == "" {
		cfg.BotName = fakeslack.DefaultBotName
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, fmt.Errorf("playground: %w", err)
	}
	p := &Playground{
		cfg:    cfg,
		slack:  cfg.Slack,
		static: static,
		notify: make(chan struct{}),
		done:   make(chan struct{}),
		userBy: make(map[string]User, len(cfg.Users)),
	}
	for _, u := range cfg.Users {
		p.userBy[u.ID] = u
	}
	if cfg.AppURL != "" {
		target, err := url.Parse(cfg.AppURL)
		if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
			return nil, fmt.Errorf("playground: Config.AppURL %q is not an http URL", cfg.AppURL)
		}
		p.app = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				cfg.Log.Warn("playground: forward to gatepass", "path", r.URL.Path, "err", err)
				writeError(w, http.StatusBadGateway, "gatepass did not answer: "+err.Error())
			},
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.serveIndex)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(p.serveStatic)))
	mux.HandleFunc("GET /state", p.serveState)
	mux.HandleFunc("GET /events", p.serveEvents)
	mux.HandleFunc("POST /command", p.serveCommand)
	mux.HandleFunc("POST /click", p.serveClick)
	mux.HandleFunc("POST /message", p.serveMessage)
	mux.HandleFunc("POST /home", p.serveHome)
	mux.HandleFunc("POST /view/submit", p.serveViewSubmit)
	mux.HandleFunc("POST /view/select", p.serveViewSelect)
	mux.HandleFunc("POST /view/click", p.serveViewClick)
	mux.HandleFunc("POST /view/close", p.serveViewClose)
	mux.HandleFunc("/v1/introspect", p.serveIntrospect)
	mux.Handle(cfg.SlackPrefix+"/", http.StripPrefix(cfg.SlackPrefix, cfg.Slack))
	p.mux = mux
	return p, nil
}

// ServeHTTP serves the page, its API and, under Config.SlackPrefix, the
// Slack stand-in.
func (p *Playground) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mux.ServeHTTP(w, r)
}

// Close ends the event streams of open pages, so that an http.Server
// serving the playground can shut down. The rest keeps working.
func (p *Playground) Close() {
	p.once.Do(func() { close(p.done) })
}

// securityHeaders keeps the page to its own origin: no inline script, no
// third-party anything.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}

func (p *Playground) serveIndex(w http.ResponseWriter, r *http.Request) {
	p.serveFile(w, r, "index.html")
}

func (p *Playground) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" || name == "index.html" || strings.Contains(name, "..") {
		http.NotFound(w, r)
		return
	}
	p.serveFile(w, r, name)
}

func (p *Playground) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	b, err := fs.ReadFile(p.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	securityHeaders(w)
	ctype := mime.TypeByExtension(name[strings.LastIndexByte(name, '.'):])
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	_, _ = w.Write(b)
}

// message is a message as the page sees it.
type message struct {
	Channel  string `json:"channel"`
	TS       string `json:"ts"`
	ThreadTS string `json:"thread_ts,omitempty"`
	// Broadcast marks a thread reply also shown in the channel.
	Broadcast bool            `json:"broadcast,omitempty"`
	User      string          `json:"user"`
	Text      string          `json:"text"`
	Blocks    json.RawMessage `json:"blocks,omitempty"`
	Ephemeral bool            `json:"ephemeral,omitempty"`
	ForUser   string          `json:"for_user,omitempty"`
	Updates   int             `json:"updates"`
	PostedAt  time.Time       `json:"posted_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// Kind is "command" for a slash command the user typed and "error" for
	// one Slack could not deliver; empty for Slack's own messages.
	Kind string `json:"kind,omitempty"`
	// Replies are the replies in the message's thread, oldest first (in
	// GET /state only; events carry replies as messages with ThreadTS).
	Replies []message `json:"replies,omitempty"`
}

func fromSlack(m fakeslack.Message) message {
	blocks := m.Blocks
	if len(blocks) == 0 || string(blocks) == "null" {
		blocks = nil
	}
	return message{
		Channel: m.Channel, TS: m.TS, ThreadTS: m.ThreadTS, Broadcast: m.Broadcast, User: m.User, Text: m.Text, Blocks: blocks,
		Ephemeral: m.Ephemeral, ForUser: m.ForUser, Updates: m.Updates, PostedAt: m.PostedAt, UpdatedAt: m.UpdatedAt,
	}
}

// conversation is a channel or a direct message conversation.
type conversation struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Kind is "channel" or "dm".
	Kind string `json:"kind"`
	// User is the person of a direct message conversation with the bot.
	User     string    `json:"user,omitempty"`
	Topic    string    `json:"topic,omitempty"`
	Messages []message `json:"messages"`
}

// state is everything the page shows, as GET /state answers it.
type state struct {
	Bot        User                 `json:"bot"`
	Users      []User               `json:"users"`
	Groups     []Group              `json:"groups"`
	Channels   []conversation       `json:"channels"`
	DMs        []conversation       `json:"dms"`
	Ephemerals map[string][]message `json:"ephemerals"`
	Views      map[string]userViews `json:"views"`
	// ViewsAt orders Views with those of "views" events: the page keeps
	// the views read last (Unix nanoseconds).
	ViewsAt       int64          `json:"views_at"`
	Introspection *introspection `json:"introspection,omitempty"`
	Proxy         *ProxyDemo     `json:"proxy,omitempty"`
}

// introspection tells the page how to call /v1/introspect: at Path on the
// page's own address, with Key.
type introspection struct {
	Path string `json:"path"`
	Key  string `json:"key"`
}

// topic describes a demo conversation in its header.
func topic(id string) string {
	switch id {
	case ApproverChannel:
		return "Requests wait here for an approver to click Approve or Deny."
	case AnnounceChannel:
		return "gatepass announces expiries, revocations and break-glass access here."
	case GeneralChannel:
		return "Anything goes. /access works in every conversation."
	}
	return ""
}

func (p *Playground) snapshot() state {
	st := state{
		Bot:        User{ID: p.cfg.BotUserID, Name: p.cfg.BotName, RealName: p.cfg.BotName, Role: "the gatepass bot"},
		Users:      p.cfg.Users,
		Groups:     p.cfg.Groups,
		Channels:   []conversation{},
		DMs:        []conversation{},
		Ephemerals: map[string][]message{},
	}
	if p.app != nil {
		st.Introspection = &introspection{Path: "/v1/introspect", Key: p.cfg.IntrospectionKey}
	}
	st.Proxy = p.cfg.Proxy
	st.Views, st.ViewsAt = p.views()
	msgs := func(id string) []message {
		out := []message{}
		for _, m := range p.slack.Messages(id) {
			msg := fromSlack(m)
			if m.ThreadTS == "" {
				for _, r := range p.slack.Thread(id, m.TS) {
					msg.Replies = append(msg.Replies, fromSlack(r))
				}
			}
			out = append(out, msg)
		}
		return out
	}
	seenDM := map[string]bool{}
	for _, u := range p.cfg.Users {
		id := "D" + u.ID
		seenDM[id] = true
		st.DMs = append(st.DMs, conversation{ID: id, Name: u.Name, Kind: "dm", User: u.ID,
			Topic: "Only " + u.Name + " sees this conversation with gatepass: tokens and notices arrive here.", Messages: msgs(id)})
	}
	for _, c := range p.slack.Channels() {
		if user, ok := strings.CutPrefix(c.ID, "D"); ok {
			if !seenDM[c.ID] {
				st.DMs = append(st.DMs, conversation{ID: c.ID, Name: c.Name, Kind: "dm", User: user, Messages: msgs(c.ID)})
			}
			continue
		}
		st.Channels = append(st.Channels, conversation{ID: c.ID, Name: c.Name, Kind: "channel", Topic: topic(c.ID), Messages: msgs(c.ID)})
	}
	for _, u := range p.cfg.Users {
		list := []message{}
		for _, m := range p.slack.Ephemerals(u.ID) {
			list = append(list, fromSlack(m))
		}
		st.Ephemerals[u.ID] = list
	}
	p.mu.Lock()
	for _, e := range p.echoes {
		st.Ephemerals[e.ForUser] = append(st.Ephemerals[e.ForUser], e)
	}
	p.mu.Unlock()
	for id, list := range st.Ephemerals {
		slices.SortStableFunc(list, func(a, b message) int { return compareTS(a.TS, b.TS) })
		st.Ephemerals[id] = list
	}
	return st
}

// compareTS orders Slack timestamps ("seconds.micros").
func compareTS(a, b string) int {
	as, af, _ := strings.Cut(a, ".")
	bs, bf, _ := strings.Cut(b, ".")
	if len(as) != len(bs) {
		return len(as) - len(bs)
	}
	if c := strings.Compare(as, bs); c != 0 {
		return c
	}
	return strings.Compare(af, bf)
}

func (p *Playground) serveState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, p.snapshot())
}

// event is one server-sent event's data.
type event struct {
	// Kind is a fakeslack event kind, or "resync" when the page should
	// reload /state.
	Kind    string   `json:"kind"`
	Message *message `json:"message,omitempty"`
	// Views are every user's views, in a "views" event: sent when a modal
	// or Home tab opens, changes or closes.
	Views   map[string]userViews `json:"views,omitempty"`
	ViewsAt int64                `json:"views_at,omitempty"`
}

// serveEvents streams the stand-in's changes as server-sent events, each a
// JSON event. A "resync" event asks the page to reload /state.
func (p *Playground) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	events, cancel := p.slack.Subscribe()
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(ev event) bool {
		b, err := json.Marshal(ev)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if _, err := io.WriteString(w, "retry: 1000\n\n"); err != nil {
		return
	}
	if !send(event{Kind: "hello"}) {
		return
	}
	viewsChanged := p.watchViews(r.Context())
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		p.mu.Lock()
		notify := p.notify
		p.mu.Unlock()
		select {
		case <-r.Context().Done():
			return
		case <-p.done:
			return
		case <-viewsChanged:
			views, at := p.views()
			if !send(event{Kind: eventViews, Views: views, ViewsAt: at}) {
				return
			}
		case <-tick.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-notify:
			if !send(event{Kind: fakeslack.EventResync}) {
				return
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			out := event{Kind: ev.Kind}
			if ev.Kind != fakeslack.EventResync {
				m := fromSlack(ev.Message)
				out.Message = &m
			}
			if !send(out) {
				return
			}
		}
	}
}

// addEcho remembers something shown to one user only and tells the open
// pages.
func (p *Playground) addEcho(m message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.echoes = append(p.echoes, m)
	if len(p.echoes) > maxEchoes {
		p.echoes = slices.Delete(p.echoes, 0, len(p.echoes)-maxEchoes)
	}
	close(p.notify)
	p.notify = make(chan struct{})
}

// tsAt formats t as a Slack timestamp.
func tsAt(t time.Time) string {
	us := t.UnixMicro()
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// commandRequest is the body of POST /command.
// typedRequest is something a demo user typed: a command or a message.
type typedRequest struct {
	User string `json:"user"`
	Text string `json:"text"`
	// Channel is where it is typed; for a command, default #general.
	Channel string `json:"channel"`
}

// readTyped decodes a typedRequest and finds the conversation it was typed
// in, answering 400 (and returning ok=false) for an unknown user or
// conversation.
func (p *Playground) readTyped(w http.ResponseWriter, r *http.Request) (req typedRequest, channel string, ok bool) {
	if !readJSON(w, r, &req) || !p.knownUser(w, req.User) {
		return req, "", false
	}
	channel, ok = p.conversationFor(req.Channel, req.User)
	if !ok {
		writeError(w, http.StatusBadRequest, "unknown conversation "+req.Channel)
	}
	return req, channel, ok
}

// commandResponse is what POST /command answers: the app's reply (also
// shown to the user as an ephemeral message, like Slack does).
type commandResponse struct {
	Status       int             `json:"status"`
	ResponseType string          `json:"response_type,omitempty"`
	Text         string          `json:"text,omitempty"`
	Blocks       json.RawMessage `json:"blocks,omitempty"`
	Error        string          `json:"error,omitempty"`
}

func (p *Playground) serveCommand(w http.ResponseWriter, r *http.Request) {
	req, channel, ok := p.readTyped(w, r)
	if !ok {
		return
	}
	command := fakeslack.DefaultCommand
	text := strings.TrimSpace(req.Text)
	if rest, ok := strings.CutPrefix(text, command); ok && (rest == "" || rest[0] == ' ') {
		text = strings.TrimSpace(rest)
	}
	now := time.Now()
	p.addEcho(message{Channel: channel, TS: tsAt(now), User: req.User, Text: strings.TrimSpace(command + " " + text),
		Ephemeral: true, ForUser: req.User, PostedAt: now, UpdatedAt: now, Kind: "command"})

	ctx, cancel := context.WithTimeout(r.Context(), commandTimeout)
	defer cancel()
	reply, err := p.slack.SlashCommandIn(ctx, channel, req.User, text)
	fail := func(status int, what string) {
		at := time.Now()
		p.addEcho(message{Channel: channel, TS: tsAt(at), User: p.cfg.BotUserID, Text: what,
			Ephemeral: true, ForUser: req.User, PostedAt: at, UpdatedAt: at, Kind: "error"})
		writeJSON(w, status, commandResponse{Status: reply.Status, Error: what})
	}
	switch {
	case err != nil:
		p.cfg.Log.Warn("playground: slash command not delivered", "user", req.User, "err", err)
		fail(http.StatusBadGateway, fmt.Sprintf("%s failed: gatepass did not answer (%v).", command, err))
		return
	case reply.Status != http.StatusOK:
		p.cfg.Log.Warn("playground: slash command refused", "user", req.User, "status", reply.Status, "body", string(reply.Body))
		fail(http.StatusBadGateway, fmt.Sprintf("%s failed with HTTP %d.", command, reply.Status))
		return
	}
	writeJSON(w, http.StatusOK, commandResponse{Status: reply.Status, ResponseType: reply.ResponseType, Text: reply.Text, Blocks: reply.Blocks})
}

// conversationFor resolves where user types: a channel, or user's own
// direct message conversation with the bot. Empty means #general.
func (p *Playground) conversationFor(ref, user string) (string, bool) {
	if ref == "" {
		return GeneralChannel, true
	}
	if ref == "D"+user {
		return ref, true
	}
	if strings.HasPrefix(ref, "D") {
		return "", false
	}
	for _, c := range p.slack.Channels() {
		if c.ID == ref {
			return ref, true
		}
	}
	return "", false
}

// clickRequest is the body of POST /click.
type clickRequest struct {
	User     string `json:"user"`
	Channel  string `json:"channel"`
	TS       string `json:"ts"`
	ActionID string `json:"action_id"`
	// Value, when set, must match the button's value too.
	Value string `json:"value"`
}

// findButton finds the button with actionID (and value, when given).
func findButton(buttons []fakeslack.Button, actionID, value string) (fakeslack.Button, bool) {
	i := slices.IndexFunc(buttons, func(b fakeslack.Button) bool {
		return b.ActionID == actionID && (value == "" || b.Value == value)
	})
	if i < 0 {
		return fakeslack.Button{}, false
	}
	return buttons[i], true
}

// clickResponse is what POST /click answers.
type clickResponse struct {
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

func (p *Playground) serveClick(w http.ResponseWriter, r *http.Request) {
	var req clickRequest
	if !readJSON(w, r, &req) || !p.knownUser(w, req.User) {
		return
	}
	// Click on the message as it stands now, as a Slack client showing the
	// latest version would.
	m, ok := p.slack.Message(req.Channel, req.TS)
	if !ok || (m.Ephemeral && m.ForUser != req.User) {
		writeError(w, http.StatusNotFound, "no such message")
		return
	}
	button, found := findButton(fakeslack.Buttons(m), req.ActionID, req.Value)
	if !found {
		writeError(w, http.StatusConflict, "that button is no longer on the message")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), commandTimeout)
	defer cancel()
	reply, err := p.slack.ClickButton(ctx, req.User, m, button)
	if err != nil {
		p.cfg.Log.Warn("playground: click not delivered", "user", req.User, "err", err)
		writeJSON(w, http.StatusBadGateway, clickResponse{Error: "gatepass did not answer: " + err.Error()})
		return
	}
	if reply.Status != http.StatusOK {
		writeJSON(w, http.StatusBadGateway, clickResponse{Status: reply.Status, Error: fmt.Sprintf("gatepass answered HTTP %d", reply.Status)})
		return
	}
	writeJSON(w, http.StatusOK, clickResponse{Status: reply.Status})
}

// messageRequest is the body of POST /message.
// serveMessage posts an ordinary message written by a person. gatepass
// does not read it; it is there so the page feels like a chat.
func (p *Playground) serveMessage(w http.ResponseWriter, r *http.Request) {
	req, channel, ok := p.readTyped(w, r)
	if !ok {
		return
	}
	text := strings.TrimSpace(req.Text)
	if text == "" {
		writeError(w, http.StatusBadRequest, "a message needs text")
		return
	}
	m, err := p.slack.PostAsUser(channel, req.User, text)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, fromSlack(m))
}

// readJSON decodes a small JSON body. Only application/json is accepted,
// which a cross-site form cannot send without the browser asking first.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
