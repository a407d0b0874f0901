package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults applied by [New] to zero-valued [Options] fields.
const (
	DefaultBotUserID         = "B0GATEPASS"
	DefaultBotName           = "gatepass"
	DefaultTeamID            = "T0GATEPASS"
	DefaultTeamDomain        = "gatepass"
	DefaultAppID             = "A0GATEPASS"
	DefaultVerificationToken = "fakeslack-verification-token"
	DefaultChannelID         = "C0GENERAL"
	DefaultChannelName       = "general"
	DefaultCommand           = "/access"
	DefaultPingInterval      = 5 * time.Second
	// DefaultTriggerTTL is how long a trigger_id handed out by the driver
	// can be exchanged (views.open, views.push). Slack allows 3 seconds;
	// the stand-in is lenient for slow test machines.
	DefaultTriggerTTL = 30 * time.Second
	// DefaultResponseURLMaxUses is how many times a response_url can be
	// used, as in Slack.
	DefaultResponseURLMaxUses = 5
	// DefaultResponseURLTTL is how long a response_url can be used, as in
	// Slack.
	DefaultResponseURLTTL = 30 * time.Minute
)

// Paths on the app (relative to the URL given to [Server.SetAppURL]) that the
// driver posts to in [TransportHTTP] mode.
const (
	AppCommandsPath     = "/slack/commands"
	AppInteractionsPath = "/slack/interactions"
	AppEventsPath       = "/slack/events"
)

// MethodResponseURL is the [Call.Method] under which posts to a response_url
// handed out by the driver are recorded. [Server.FailNext] and
// [Server.SetLatency] apply to it like to any Web API method.
const MethodResponseURL = "response_url"

// maxBodyBytes bounds how much of a request or response body is read.
const maxBodyBytes = 8 << 20

// Errors returned by the server's driver methods. They are wrapped with
// context; test for them with [errors.Is].
var (
	// ErrNoSuchButton is returned by [Server.Click] when the message has no
	// button with the requested action_id.
	ErrNoSuchButton = errors.New("fakeslack: no such button")
	// ErrSocketNotConnected is returned in [TransportSocket] mode when no app
	// is connected over Socket Mode.
	ErrSocketNotConnected = errors.New("fakeslack: no socket mode connection")
	// ErrNoAppURL is returned in [TransportHTTP] mode when [Server.SetAppURL]
	// has not been called.
	ErrNoAppURL = errors.New("fakeslack: app URL not set")
	// ErrNoPublicURL is returned when a response_url must be handed out but
	// the server's own address is unknown: neither [Options.PublicURL] nor
	// [Server.SetPublicURL] was set and no Web API request has been seen yet.
	ErrNoPublicURL = errors.New("fakeslack: public URL unknown")
	// ErrClosed is returned by driver methods after [Server.Close].
	ErrClosed = errors.New("fakeslack: server closed")
	// ErrNoSuchView is returned by the view drivers ([Server.SubmitView],
	// [Server.SelectInView], [Server.ClickInView], [Server.CloseView]) when
	// the view is unknown, closed, not the user's, or (for modals) not the
	// top of the user's modal stack, so the user cannot see it.
	ErrNoSuchView = errors.New("fakeslack: no such view")
	// ErrNoSuchElement is returned when a view has no stateful element
	// (input, select, date picker, …) with the given block_id and
	// action_id.
	ErrNoSuchElement = errors.New("fakeslack: no such element in view")
	// ErrNoSuchOption is returned when a value is not one of the options of
	// a select, radio buttons or checkboxes element that lists its options.
	ErrNoSuchOption = errors.New("fakeslack: no such option")
	// ErrMissingInput is returned by [Server.SubmitView] when a required
	// input block has no value: Slack's client refuses to submit such a
	// form, so nothing is sent to the app.
	ErrMissingInput = errors.New("fakeslack: required input missing")
	// ErrNothingToReplay is returned by [Server.Replay] for a zero
	// [SignedRequest].
	ErrNothingToReplay = errors.New("fakeslack: nothing to replay")
)

// Options configures a [Server]. The zero value is usable.
type Options struct {
	// BotToken, when set, is the only bot token accepted by Web API methods;
	// other tokens get invalid_auth and a missing token gets not_authed.
	BotToken string
	// AppToken, when set, is the only app-level token accepted by
	// apps.connections.open. When empty any token starting with "xapp-" is
	// accepted.
	AppToken string
	// SigningSecret signs everything the driver sends to the app.
	SigningSecret string
	// PublicURL is the externally visible base URL of the server, including
	// any mount prefix, e.g. "http://127.0.0.1:8080/slack". See the package
	// documentation.
	PublicURL string
	// BotUserID identifies the bot; it is returned by auth.test as user_id and
	// bot_id and is the User of every message the bot posts.
	// Default DefaultBotUserID.
	BotUserID string
	// Users are the workspace members known to users.info and used to fill
	// user names in payloads sent to the app.
	Users []User
	// Groups maps user group IDs (S…) to member user IDs for
	// usergroups.users.list.
	Groups map[string][]string
	// Channels are the configured channels. The default channel (see
	// DefaultChannel) is added if missing.
	Channels []Channel
	// StrictChannels rejects posts to channels that are not configured with
	// channel_not_found (and direct messages to users not in Users), instead
	// of creating them on the fly.
	StrictChannels bool
	// Now is the clock for message timestamps and request signatures.
	// Default time.Now. Timestamps stay unique and increasing even if it is
	// frozen.
	Now func() time.Time

	// TeamID is the workspace ID sent in payloads. Default DefaultTeamID.
	TeamID string
	// TeamDomain is the workspace domain sent in payloads.
	// Default DefaultTeamDomain.
	TeamDomain string
	// AppID is the api_app_id sent in payloads. Default DefaultAppID.
	AppID string
	// VerificationToken is the legacy token field sent in payloads.
	// Default DefaultVerificationToken.
	VerificationToken string
	// DefaultChannel is the channel slash commands are typed in.
	// Default DefaultChannelID (named DefaultChannelName).
	DefaultChannel string
	// Command is the slash command name. Default DefaultCommand.
	Command string
	// PingInterval is how often WebSocket pings are sent to Socket Mode
	// connections. Default DefaultPingInterval.
	PingInterval time.Duration
	// HTTPClient sends requests to the app. Default: a new http.Client.
	HTTPClient *http.Client

	// StrictTriggers makes views.open and views.push reject trigger IDs the
	// server never handed out with invalid_trigger_id. Trigger IDs it did
	// hand out are always checked: a second use gets exchanged_trigger_id
	// and a use after TriggerTTL gets expired_trigger_id.
	StrictTriggers bool
	// TriggerTTL is how long a trigger_id stays usable, by Now.
	// Default DefaultTriggerTTL.
	TriggerTTL time.Duration
	// ResponseURLMaxUses is how many successful posts a response_url
	// accepts. Default DefaultResponseURLMaxUses; negative means unlimited.
	ResponseURLMaxUses int
	// ResponseURLTTL is how long after it was handed out a response_url
	// can be used, by Now. Default DefaultResponseURLTTL; negative means
	// forever.
	ResponseURLTTL time.Duration
}

// User is a workspace member.
type User struct {
	ID       string
	Name     string
	RealName string
}

// Channel is a conversation. Direct message conversations have IDs "D"+userID.
type Channel struct {
	ID   string
	Name string
}

// Call is one recorded request to the Web API (or to a response_url, with
// Method [MethodResponseURL]).
type Call struct {
	// Method is the Web API method, e.g. "chat.postMessage".
	Method string
	// Params are the request parameters: query string, form fields or, for
	// JSON bodies, the top-level fields (strings as they are, other values as
	// their compact JSON text; null fields are omitted).
	Params url.Values
	// Body is the raw request body.
	Body string
	// At is when the request arrived, by [Options.Now].
	At time.Time
	// Status is the HTTP status of the response, or 0 if the client gave up
	// before the response was sent (see [Server.SetLatency]).
	Status int
}

// Ack is a Socket Mode acknowledgement received from the app.
type Ack struct {
	// EnvelopeID identifies the envelope acknowledged.
	EnvelopeID string
	// Type is the envelope type ("slash_commands", "interactive",
	// "events_api"), or empty for an ack of an unknown envelope.
	Type string
	// Payload is the ack's payload, nil if it had none.
	Payload json.RawMessage
	// Latency is the wall-clock time between sending the envelope and
	// receiving the ack (0 for unknown envelopes).
	Latency time.Duration
}

// Transport selects how the driver delivers payloads to the app.
type Transport int

const (
	// TransportHTTP posts signed requests to the app's HTTP endpoints.
	TransportHTTP Transport = iota
	// TransportSocket delivers Socket Mode envelopes over the WebSocket.
	TransportSocket
)

// String returns "http" or "socket".
func (t Transport) String() string {
	switch t {
	case TransportHTTP:
		return "http"
	case TransportSocket:
		return "socket"
	default:
		return fmt.Sprintf("Transport(%d)", int(t))
	}
}

// Server is the Slack stand-in. Create it with [New]; it serves
//
//	/api/{method}     the Web API
//	/socket           the Socket Mode WebSocket
//	/response/{id}    response URLs handed to the app
type Server struct {
	opts     Options
	client   *http.Client
	upgrader websocket.Upgrader

	mu          sync.Mutex
	notify      chan struct{} // closed and replaced on every state change
	publicURL   string
	learnedBase string
	appURL      string
	transport   Transport
	latency     time.Duration
	failures    map[string][]failure
	calls       []Call
	callsGen    int // incremented by Reset so waiters rescan
	acks        []Ack
	convs       map[string]*conversation
	convOrder   []string
	ephemerals  []*Message
	users       map[string]User
	lastMicros  int64
	seq         uint64
	subs        map[int]*subscriber
	nextSubID   int
	responses   map[string]*responseTarget
	sockets     []*socketConn
	pending     map[string]*pendingEnvelope
	closed      bool

	views        map[string]*view    // by view ID, open or closed
	modalStacks  map[string][]string // user ID → open modal view IDs, root first
	homes        map[string]string   // user ID → Home tab view ID
	externalIDs  map[string]string   // external_id → view ID of open views
	triggers     map[string]*trigger // trigger IDs handed out
	triggerOrder []string            // trigger IDs in issue order, for pruning
	lastSigned   *SignedRequest
	limits       rateLimits
}

type conversation struct {
	ch   Channel
	msgs []*Message
}

type failure struct {
	status     int
	retryAfter time.Duration
}

// New returns a Server configured by opts.
func New(opts Options) *Server {
	if opts.BotUserID == "" {
		opts.BotUserID = DefaultBotUserID
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TeamID == "" {
		opts.TeamID = DefaultTeamID
	}
	if opts.TeamDomain == "" {
		opts.TeamDomain = DefaultTeamDomain
	}
	if opts.AppID == "" {
		opts.AppID = DefaultAppID
	}
	if opts.VerificationToken == "" {
		opts.VerificationToken = DefaultVerificationToken
	}
	if opts.DefaultChannel == "" {
		opts.DefaultChannel = DefaultChannelID
	}
	if opts.Command == "" {
		opts.Command = DefaultCommand
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.TriggerTTL <= 0 {
		opts.TriggerTTL = DefaultTriggerTTL
	}
	if opts.ResponseURLMaxUses == 0 {
		opts.ResponseURLMaxUses = DefaultResponseURLMaxUses
	}
	if opts.ResponseURLTTL == 0 {
		opts.ResponseURLTTL = DefaultResponseURLTTL
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	opts.Users = slices.Clone(opts.Users)
	opts.Channels = slices.Clone(opts.Channels)
	groups := make(map[string][]string, len(opts.Groups))
	for id, members := range opts.Groups {
		groups[id] = slices.Clone(members)
	}
	opts.Groups = groups
	if !slices.ContainsFunc(opts.Channels, func(c Channel) bool { return c.ID == opts.DefaultChannel }) {
		name := opts.DefaultChannel
		if name == DefaultChannelID {
			name = DefaultChannelName
		}
		opts.Channels = append(opts.Channels, Channel{ID: opts.DefaultChannel, Name: name})
	}

	s := &Server{
		opts:   opts,
		client: client,
		upgrader: websocket.Upgrader{
			// slack-go sends Origin: https://api.slack.com.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		notify:    make(chan struct{}),
		publicURL: strings.TrimRight(opts.PublicURL, "/"),
		users:     make(map[string]User, len(opts.Users)),
		subs:      make(map[int]*subscriber),
		pending:   make(map[string]*pendingEnvelope),
	}
	for _, u := range opts.Users {
		s.users[u.ID] = u
	}
	s.resetStateLocked()
	return s
}

// resetStateLocked (re)initialises conversations and recorded data.
func (s *Server) resetStateLocked() {
	s.failures = make(map[string][]failure)
	s.calls = nil
	s.acks = nil
	s.convs = make(map[string]*conversation)
	s.convOrder = nil
	s.ephemerals = nil
	s.responses = make(map[string]*responseTarget)
	s.latency = 0
	s.views = make(map[string]*view)
	s.modalStacks = make(map[string][]string)
	s.homes = make(map[string]string)
	s.externalIDs = make(map[string]string)
	s.triggers = make(map[string]*trigger)
	s.triggerOrder = nil
	s.lastSigned = nil
	s.limits = rateLimits{}
	for _, c := range s.opts.Channels {
		if _, ok := s.convs[c.ID]; ok {
			continue
		}
		s.convs[c.ID] = &conversation{ch: c}
		s.convOrder = append(s.convOrder, c.ID)
	}
}

// ServeHTTP routes /api/{method}, /socket and /response/{id}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/"):
		s.serveAPI(w, r, strings.TrimPrefix(p, "/api/"))
	case p == "/socket":
		s.serveSocket(w, r)
	case strings.HasPrefix(p, "/response/"):
		s.serveResponseURL(w, r, strings.TrimPrefix(p, "/response/"))
	default:
		http.NotFound(w, r)
	}
}

// Close disconnects all Socket Mode connections and closes all subscription
// channels. The Web API keeps working; the driver methods return [ErrClosed].
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	socks := s.sockets
	s.sockets = nil
	for id, sub := range s.subs {
		close(sub.ch)
		delete(s.subs, id)
	}
	s.broadcastLocked()
	s.mu.Unlock()
	var errs []error
	for _, sc := range socks {
		if err := sc.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fakeslack: closing sockets: %w", err)
	}
	return nil
}

// SetPublicURL sets the externally visible base URL, overriding
// [Options.PublicURL]. Use it with httptest.NewServer, whose URL is only
// known after the server has been created.
func (s *Server) SetPublicURL(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publicURL = strings.TrimRight(base, "/")
}

// Reset clears messages, ephemeral messages, conversations created on the
// fly, recorded calls and acks, pending failures, latency, rate limits,
// views (modals and Home tabs), the last signed request, and issued response
// URLs and trigger IDs. Configuration (tokens, app URL, transport), Socket
// Mode connections and subscriptions are kept; subscribers receive an
// [EventResync].
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetStateLocked()
	s.callsGen++
	for _, sub := range s.subs {
		sub.deliver(Event{Kind: EventResync})
	}
	s.broadcastLocked()
}

// broadcastLocked wakes everybody waiting for a state change.
func (s *Server) broadcastLocked() {
	close(s.notify)
	s.notify = make(chan struct{})
}

// now returns the current time by Options.Now.
func (s *Server) now() time.Time { return s.opts.Now() }

// nextTSLocked returns a new message timestamp, strictly greater than all
// previous ones.
func (s *Server) nextTSLocked() string {
	micros := s.now().UnixMicro()
	if micros <= s.lastMicros {
		micros = s.lastMicros + 1
	}
	s.lastMicros = micros
	return fmt.Sprintf("%d.%06d", micros/1e6, micros%1e6)
}

// Calls returns a copy of all recorded calls, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = c.clone()
	}
	return out
}

// CallsTo returns a copy of the recorded calls to method, oldest first.
func (s *Server) CallsTo(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Method == method {
			out = append(out, c.clone())
		}
	}
	return out
}

// WaitForCall blocks until a recorded call satisfies match and returns it.
// Calls recorded before WaitForCall was called count; match sees each call
// once, in order, and is called without internal locks held. State changes
// made by a call are visible by the time it is recorded.
func (s *Server) WaitForCall(ctx context.Context, match func(Call) bool) (Call, error) {
	next, gen := 0, -1
	for {
		s.mu.Lock()
		if gen != s.callsGen {
			next, gen = 0, s.callsGen
		}
		batch := make([]Call, 0, len(s.calls)-next)
		for _, c := range s.calls[next:] {
			batch = append(batch, c.clone())
		}
		next = len(s.calls)
		ch := s.notify
		s.mu.Unlock()
		for _, c := range batch {
			if match(c) {
				return c, nil
			}
		}
		select {
		case <-ctx.Done():
			return Call{}, fmt.Errorf("fakeslack: waiting for call: %w", ctx.Err())
		case <-ch:
		}
	}
}

// WaitUntil blocks until cond returns true. cond is evaluated once at the
// start and again after every state change (a call recorded, a message
// changed, a socket connecting or disconnecting, an ack received). cond is
// called without internal locks held and may call the server's methods.
func (s *Server) WaitUntil(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.notify
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fakeslack: waiting for condition: %w", ctx.Err())
		case <-ch:
		}
	}
}

// recordLocked appends a call and wakes waiters.
func (s *Server) recordLocked(c Call) {
	s.calls = append(s.calls, c)
	s.broadcastLocked()
}

func (c Call) clone() Call {
	c.Params = cloneValues(c.Params)
	return c
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// FailNext makes the next n calls to method (a Web API method name or
// [MethodResponseURL]) fail with the HTTP status without changing state; the
// calls are recorded with that status. A 429 carries Retry-After: retryAfter
// rounded up to whole seconds (at least 1 when retryAfter > 0; no header when
// retryAfter <= 0) and Slack's ratelimited JSON body; other statuses get a
// plain text body. Failures queue up: FailNext(m, 1, 429, …) followed by
// FailNext(m, 1, 503, 0) fails the next call with 429 and the one after with
// 503. n <= 0 removes the pending failures for method. A status outside
// 400–599 is treated as 500.
func (s *Server) FailNext(method string, n int, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.failures, method)
		return
	}
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	for range n {
		s.failures[method] = append(s.failures[method], failure{status: status, retryAfter: retryAfter})
	}
}

// SetLatency delays every Web API and response_url response by d. A request
// whose context ends during the delay changes no state and is recorded with
// Status 0.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Acks returns a copy of the Socket Mode acknowledgements received, oldest
// first.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Ack, len(s.acks))
	for i, a := range s.acks {
		a.Payload = slices.Clone(a.Payload)
		out[i] = a
	}
	return out
}
