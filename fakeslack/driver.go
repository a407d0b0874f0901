package fakeslack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Reply is the app's answer to something the driver sent: the HTTP response
// in [TransportHTTP] mode, or the Socket Mode ack in [TransportSocket] mode
// (Status 200, Body the ack payload, empty if the ack had none).
type Reply struct {
	Status int
	Body   []byte
	// ResponseType, Text and Blocks are decoded from a JSON body. When the
	// body is not JSON, Text is the whole body, as Slack shows a plain-text
	// answer to a slash command as the message text.
	ResponseType string
	Text         string
	Blocks       json.RawMessage
	// ResponseAction, Errors and View are decoded from a JSON body answering
	// a view_submission: response_action ("errors", "update", "push",
	// "clear"), the errors by block_id, and the new view for "update" and
	// "push".
	ResponseAction string
	Errors         map[string]string
	View           json.RawMessage

	// TriggerID is the trigger_id the driver sent with a slash command or
	// an interaction; empty for events.
	TriggerID string
	// EventID is the event_id of the Events API body the driver sent, if it
	// had one.
	EventID string
	// Payload is the JSON the driver delivered: the event body, the
	// interaction payload (the payload form field over HTTP), or a slash
	// command's fields as a JSON object of strings. Send an event's Payload
	// again with [Server.SendEventRetry] to imitate Slack's retries. Nil
	// when nothing was sent.
	Payload json.RawMessage
}

func newReply(status int, body []byte) Reply {
	r := Reply{Status: status, Body: body}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return r
	}
	if json.Valid(trimmed) {
		var v struct {
			ResponseType   string          `json:"response_type"`
			Text           string          `json:"text"`
			Blocks         json.RawMessage `json:"blocks"`
			ResponseAction string          `json:"response_action"`
			Errors         json.RawMessage `json:"errors"`
			View           json.RawMessage `json:"view"`
		}
		if json.Unmarshal(trimmed, &v) == nil {
			r.ResponseType, r.Text = v.ResponseType, v.Text
			if len(v.Blocks) > 0 && string(v.Blocks) != "null" {
				r.Blocks = v.Blocks
			}
			r.ResponseAction = v.ResponseAction
			var errs map[string]string
			if json.Unmarshal(v.Errors, &errs) == nil { // Slack's is an object of strings.
				r.Errors = errs
			}
			if len(v.View) > 0 && string(v.View) != "null" {
				r.View = v.View
			}
		}
		return r
	}
	r.Text = string(trimmed)
	return r
}

// responseTarget is what a response_url refers to. Guarded by Server.mu.
type responseTarget struct {
	user, channel string
	// messageTS is the message replace_original and delete_original act on:
	// the message a button was clicked on, or for a slash command (command
	// set) the latest message shown through the command's reply or its
	// response_url; ephemeral tells where to find it.
	messageTS string
	ephemeral bool
	command   bool
	issued    time.Time
	uses      int
}

// SignedRequest is a request the driver sent to the app over HTTP, with
// everything needed to send it again byte for byte.
type SignedRequest struct {
	// Path is the app path (AppCommandsPath, AppInteractionsPath or
	// AppEventsPath) under the app URL.
	Path        string
	ContentType string
	Body        []byte
	// Timestamp is the X-Slack-Request-Timestamp (unix seconds) and
	// Signature the X-Slack-Signature sent.
	Timestamp int64
	Signature string
	// RetryNum and RetryReason are the X-Slack-Retry-Num and
	// X-Slack-Retry-Reason headers; no retry headers are sent when RetryNum
	// is 0.
	RetryNum    int
	RetryReason string
}

func (r SignedRequest) clone() SignedRequest {
	r.Body = slices.Clone(r.Body)
	return r
}

// Sign returns the X-Slack-Signature header value for body sent at unix time
// ts: "v0=" + hex(HMAC-SHA256(secret, "v0:" + ts + ":" + body)).
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	_, _ = fmt.Fprintf(mac, "v0:%d:", ts)
	_, _ = mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// SetAppURL sets the app's base URL, e.g. "http://127.0.0.1:8080"; the
// driver posts to AppCommandsPath, AppInteractionsPath and AppEventsPath
// under it.
func (s *Server) SetAppURL(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appURL = strings.TrimRight(base, "/")
}

// SetTransport selects how the driver delivers to the app. The default is
// [TransportHTTP].
func (s *Server) SetTransport(t Transport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transport = t
}

// SlashCommand sends the slash command (Options.Command) with text, typed
// by userID in the default channel. See [Server.SlashCommandIn].
func (s *Server) SlashCommand(ctx context.Context, userID, text string) (Reply, error) {
	return s.SlashCommandIn(ctx, s.opts.DefaultChannel, userID, text)
}

// SlashCommandIn sends the slash command with text, typed by userID in
// channel, the way Slack does: a signed form POST to AppCommandsPath, or a
// slash_commands envelope in socket mode. The payload carries a response_url
// served by this server. When the reply (HTTP 200 body or ack payload) has
// text or blocks, it is shown like Slack shows it: as an ephemeral message
// for userID, or as a message in the channel when response_type is
// "in_channel"; replace_original on the response_url then replaces that
// message. A non-200 status is not an error; it is in the Reply. The
// Reply's TriggerID is the trigger_id sent, which the app may exchange once
// with views.open within Options.TriggerTTL.
func (s *Server) SlashCommandIn(ctx context.Context, channel, userID, text string) (Reply, error) {
	s.mu.Lock()
	channel = s.canonicalLocked(channel)
	target := &responseTarget{user: userID, channel: channel, command: true}
	responseURL, err := s.newResponseURLLocked(target)
	triggerID := s.triggerIDLocked(userID)
	form := url.Values{
		"token":                 {s.opts.VerificationToken},
		"team_id":               {s.opts.TeamID},
		"team_domain":           {s.opts.TeamDomain},
		"channel_id":            {channel},
		"channel_name":          {s.channelNameLocked(channel)},
		"user_id":               {userID},
		"user_name":             {s.userName(userID)},
		"command":               {s.opts.Command},
		"text":                  {text},
		"api_app_id":            {s.opts.AppID},
		"is_enterprise_install": {"false"},
		"response_url":          {responseURL},
		"trigger_id":            {triggerID},
	}
	transport := s.transport
	s.mu.Unlock()
	if err != nil {
		return Reply{}, fmt.Errorf("fakeslack: slash command %s %q: %w", s.opts.Command, text, err)
	}

	payload := make(map[string]string, len(form))
	for k := range form {
		payload[k] = form.Get(k)
	}
	sent, err := json.Marshal(payload)
	if err != nil {
		return Reply{}, fmt.Errorf("fakeslack: slash command %s %q: encoding payload: %w", s.opts.Command, text, err)
	}
	var reply Reply
	if transport == TransportSocket {
		reply, err = s.deliver(ctx, "slash_commands", json.RawMessage(sent))
	} else {
		reply, err = s.postToApp(ctx, AppCommandsPath, "application/x-www-form-urlencoded", []byte(form.Encode()), 0, "")
	}
	if err != nil {
		return reply, fmt.Errorf("fakeslack: slash command %s %q: %w", s.opts.Command, text, err)
	}
	reply.TriggerID, reply.Payload = triggerID, sent
	if reply.Status == http.StatusOK {
		s.showCommandReply(target, reply)
	}
	return reply, nil
}

// showCommandReply records a slash command's synchronous answer; it becomes
// the message the command's response_url replaces.
func (s *Server) showCommandReply(t *responseTarget, reply Reply) {
	if reply.Text == "" && reply.Blocks == nil {
		return
	}
	blocks, ok := parseBlocks(string(reply.Blocks))
	if !ok {
		blocks = cloneRaw(reply.Blocks)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if reply.ResponseType == "in_channel" {
		if c, code := s.conversationLocked(t.channel, true); code == "" {
			m := s.appendMessageLocked(c, s.opts.BotUserID, reply.Text, blocks, "", nil, false)
			t.messageTS, t.ephemeral = m.TS, false
			return
		}
	}
	m := s.appendEphemeralLocked(t.channel, t.user, reply.Text, blocks)
	t.messageTS, t.ephemeral = m.TS, true
}

// Click clicks the first button with actionID in m as userID. m is used as
// given, like a Slack client that shows it; pass a fresh copy (from
// [Server.Message]) to click on the current state. It returns an error
// wrapping [ErrNoSuchButton] when m has no such button.
func (s *Server) Click(ctx context.Context, userID string, m Message, actionID string) (Reply, error) {
	for _, b := range Buttons(m) {
		if b.ActionID == actionID {
			return s.ClickButton(ctx, userID, m, b)
		}
	}
	return Reply{}, fmt.Errorf("fakeslack: click %q on message %s/%s: %w", actionID, m.Channel, m.TS, ErrNoSuchButton)
}

// ClickButton sends a block_actions interaction for button b of message m,
// clicked by userID: a signed POST of the form field payload to
// AppInteractionsPath, or an interactive envelope in socket mode. b need not
// be one of m's buttons, which allows forging clicks. The payload carries a
// response_url on which replace_original and delete_original act on m. As in
// Slack, the message object is left out of the payload for ephemeral
// messages. The Reply's TriggerID is the trigger_id sent.
func (s *Server) ClickButton(ctx context.Context, userID string, m Message, b Button) (Reply, error) {
	s.mu.Lock()
	responseURL, err := s.newResponseURLLocked(&responseTarget{user: userID, channel: m.Channel, messageTS: m.TS, ephemeral: m.Ephemeral})
	triggerID := s.triggerIDLocked(userID)
	payload := obj{
		"type":                  "block_actions",
		"user":                  s.userPayloadLocked(userID),
		"api_app_id":            s.opts.AppID,
		"token":                 s.opts.VerificationToken,
		"container":             obj{"type": "message", "message_ts": m.TS, "channel_id": m.Channel, "is_ephemeral": m.Ephemeral},
		"trigger_id":            triggerID,
		"team":                  obj{"id": s.opts.TeamID, "domain": s.opts.TeamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               obj{"id": m.Channel, "name": s.channelNameLocked(m.Channel)},
		"state":                 obj{"values": obj{}},
		"response_url":          responseURL,
		"actions":               []obj{s.buttonActionLocked(b)},
	}
	if !m.Ephemeral {
		payload["message"] = s.messageJSON(&m)
	}
	transport := s.transport
	s.mu.Unlock()
	if err != nil {
		return Reply{}, fmt.Errorf("fakeslack: click %q: %w", b.ActionID, err)
	}
	reply, err := s.sendInteraction(ctx, transport, payload, triggerID)
	if err != nil {
		return reply, fmt.Errorf("fakeslack: click %q: %w", b.ActionID, err)
	}
	return reply, nil
}

// buttonActionLocked renders the action object of a button click.
func (s *Server) buttonActionLocked(b Button) obj {
	action := obj{
		"type":      "button",
		"action_id": b.ActionID,
		"block_id":  b.BlockID,
		"text":      obj{"type": "plain_text", "text": b.Text, "emoji": true},
		"action_ts": s.actionTSLocked(),
	}
	if b.Value != "" {
		action["value"] = b.Value
	}
	if b.Style != "" {
		action["style"] = b.Style
	}
	return action
}

// actionTSLocked returns an action_ts for now.
func (s *Server) actionTSLocked() string {
	now := s.now()
	return fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
}

// sendInteraction delivers an interaction payload: a signed POST of the
// payload form field to AppInteractionsPath, or an interactive envelope.
func (s *Server) sendInteraction(ctx context.Context, transport Transport, payload obj, triggerID string) (Reply, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return Reply{}, fmt.Errorf("encoding payload: %w", err)
	}
	var reply Reply
	if transport == TransportSocket {
		reply, err = s.deliver(ctx, "interactive", json.RawMessage(data))
	} else {
		form := url.Values{"payload": {string(data)}}
		reply, err = s.postToApp(ctx, AppInteractionsPath, "application/x-www-form-urlencoded", []byte(form.Encode()), 0, "")
	}
	if err != nil {
		return reply, err
	}
	reply.TriggerID, reply.Payload = triggerID, data
	return reply, nil
}

// URLVerification sends Slack's url_verification challenge to AppEventsPath
// over HTTP (whatever the transport); the app should echo the challenge.
func (s *Server) URLVerification(ctx context.Context, challenge string) (Reply, error) {
	body, err := json.Marshal(obj{"token": s.opts.VerificationToken, "challenge": challenge, "type": "url_verification"})
	if err != nil {
		return Reply{}, fmt.Errorf("fakeslack: url verification: %w", err)
	}
	reply, err := s.postToApp(ctx, AppEventsPath, "application/json", body, 0, "")
	if err != nil {
		return reply, fmt.Errorf("fakeslack: url verification: %w", err)
	}
	reply.Payload = body
	return reply, nil
}

// postToApp signs body as sent now, remembers it for [Server.LastSigned]
// and posts it to the app.
func (s *Server) postToApp(ctx context.Context, path, contentType string, body []byte, retryNum int, retryReason string) (Reply, error) {
	s.mu.Lock()
	base, closed := s.appURL, s.closed
	ts := s.now().Unix()
	r := SignedRequest{
		Path:        path,
		ContentType: contentType,
		Body:        slices.Clone(body),
		Timestamp:   ts,
		Signature:   Sign(s.opts.SigningSecret, ts, body),
		RetryNum:    retryNum,
		RetryReason: retryReason,
	}
	if !closed && base != "" {
		kept := r.clone()
		s.lastSigned = &kept
	}
	s.mu.Unlock()
	return s.sendSigned(ctx, base, closed, r)
}

// sendSigned posts r to the app at base as it is.
func (s *Server) sendSigned(ctx context.Context, base string, closed bool, r SignedRequest) (Reply, error) {
	switch {
	case closed:
		return Reply{}, ErrClosed
	case base == "":
		return Reply{}, ErrNoAppURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+r.Path, bytes.NewReader(r.Body))
	if err != nil {
		return Reply{}, fmt.Errorf("building request to %s: %w", r.Path, err)
	}
	req.Header.Set("Content-Type", r.ContentType)
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(r.Timestamp, 10))
	req.Header.Set("X-Slack-Signature", r.Signature)
	if r.RetryNum > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(r.RetryNum))
		req.Header.Set("X-Slack-Retry-Reason", r.RetryReason)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("posting to app: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return Reply{}, fmt.Errorf("reading app response from %s: %w", r.Path, err)
	}
	return newReply(resp.StatusCode, data), nil
}

// LastSigned returns the last request the driver signed and sent to the app
// over HTTP (slash command, interaction, event or url_verification), or
// the zero SignedRequest if there was none. Socket Mode deliveries are not
// signed and not recorded.
func (s *Server) LastSigned() SignedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastSigned == nil {
		return SignedRequest{}
	}
	return s.lastSigned.clone()
}

// Replay sends r to the app again over HTTP exactly as given, whatever the
// transport: same body, timestamp, signature and retry headers, as an
// attacker who captured the request would. An app must not act on it twice.
// Altering r before replaying forges a request. Replay does not record r as
// the last signed request and, unlike the driver methods, applies nothing
// from the reply (no ephemeral message, no view change). It returns an error
// wrapping [ErrNothingToReplay] for a zero r.
func (s *Server) Replay(ctx context.Context, r SignedRequest) (Reply, error) {
	if r.Path == "" {
		return Reply{}, fmt.Errorf("fakeslack: replay: %w", ErrNothingToReplay)
	}
	s.mu.Lock()
	base, closed := s.appURL, s.closed
	s.mu.Unlock()
	reply, err := s.sendSigned(ctx, base, closed, r.clone())
	if err != nil {
		return reply, fmt.Errorf("fakeslack: replay %s: %w", r.Path, err)
	}
	return reply, nil
}

// newResponseURLLocked registers a response_url for t.
func (s *Server) newResponseURLLocked(t *responseTarget) (string, error) {
	base := s.publicURL
	if base == "" {
		base = s.learnedBase
	}
	if base == "" {
		return "", ErrNoPublicURL
	}
	id := randomHex(16)
	t.issued = s.now()
	s.responses[id] = t
	return base + "/response/" + id, nil
}

// channelNameLocked returns the channel_name Slack sends for id.
func (s *Server) channelNameLocked(id string) string {
	if strings.HasPrefix(id, "D") {
		return "directmessage"
	}
	if c, ok := s.convs[id]; ok && c.ch.Name != "" {
		return c.ch.Name
	}
	return id
}

// userName returns the user's name, or the ID for unknown users.
func (s *Server) userName(id string) string {
	if u, ok := s.users[id]; ok && u.Name != "" {
		return u.Name
	}
	return id
}

// serveResponseURL serves /response/{id}: what the app posts to a
// response_url. Without replace_original or delete_original, the message is
// shown as an ephemeral message for the user who triggered the request (or
// in the channel with response_type "in_channel"). replace_original replaces
// the text and blocks of the original message and delete_original deletes
// it. The original of a button click is the message clicked on; the
// original of a slash command is the latest message shown through it (the
// app's synchronous answer, or a later post to the response_url); when
// there is none yet, replace_original posts a new message.
//
// As in Slack, a response_url accepts Options.ResponseURLMaxUses successful
// posts (default 5) within Options.ResponseURLTTL (default 30 minutes);
// later posts get HTTP 404 with {"ok":false,"error":"used_url"} or
// {"ok":false,"error":"expired_url"} and change nothing. Unknown response
// URLs (also those forgotten by [Server.Reset]) get expired_url.
func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request, id string) {
	s.serveCall(w, r, MethodResponseURL, false, func(_ *http.Request, p url.Values) result {
		status, body := s.respond(id, p)
		return result{status: status, body: body}
	})
}

func (s *Server) respond(id string, p url.Values) (int, obj) {
	blocks, ok := parseBlocks(p.Get("blocks"))
	if !ok {
		return http.StatusBadRequest, apiError("invalid_blocks")
	}
	text := p.Get("text")
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.responses[id]
	if !ok {
		return http.StatusNotFound, apiError("expired_url")
	}
	if ttl := s.opts.ResponseURLTTL; ttl > 0 && s.now().Sub(t.issued) > ttl {
		return http.StatusNotFound, apiError("expired_url")
	}
	if limit := s.opts.ResponseURLMaxUses; limit > 0 && t.uses >= limit {
		return http.StatusNotFound, apiError("used_url")
	}
	status, resp := s.respondLocked(t, p, text, blocks)
	if status == http.StatusOK {
		t.uses++
	}
	return status, resp
}

func (s *Server) respondLocked(t *responseTarget, p url.Values, text string, blocks json.RawMessage) (int, obj) {
	if t.messageTS != "" && (p.Get("delete_original") == "true" || p.Get("replace_original") == "true") {
		m, remove := s.sourceMessageLocked(*t)
		if m == nil {
			return http.StatusNotFound, apiError("message_not_found")
		}
		if p.Get("delete_original") == "true" {
			remove()
			s.publishLocked(EventDelete, m)
			if t.command {
				t.messageTS = ""
			}
			return http.StatusOK, obj{"ok": true}
		}
		m.update(text, true, blocks, true, nil, false, s.now())
		s.publishLocked(EventUpdate, m)
		return http.StatusOK, obj{"ok": true}
	}
	if text == "" && blocks == nil {
		return http.StatusBadRequest, apiError("no_text")
	}
	if p.Get("response_type") == "in_channel" {
		c, code := s.conversationLocked(t.channel, true)
		if code != "" {
			return http.StatusNotFound, apiError(code)
		}
		threadTS, code := c.threadParent(p.Get("thread_ts"))
		if code != "" {
			return http.StatusNotFound, apiError(code)
		}
		m := s.appendMessageLocked(c, s.opts.BotUserID, text, blocks, threadTS, nil, false)
		if t.command {
			t.messageTS, t.ephemeral = m.TS, false
		}
		return http.StatusOK, obj{"ok": true}
	}
	m := s.appendEphemeralLocked(t.channel, t.user, text, blocks)
	if t.command {
		t.messageTS, t.ephemeral = m.TS, true
	}
	return http.StatusOK, obj{"ok": true}
}

// sourceMessageLocked finds the message a response_url refers to and returns
// it with a function that removes it.
func (s *Server) sourceMessageLocked(t responseTarget) (*Message, func()) {
	if t.ephemeral {
		i, m := s.findEphemeralLocked(t.channel, t.messageTS)
		if m == nil {
			return nil, nil
		}
		return m, func() { s.ephemerals = slices.Delete(s.ephemerals, i, i+1) }
	}
	c, ok := s.convs[t.channel]
	if !ok {
		return nil, nil
	}
	i, m := c.find(t.messageTS)
	if m == nil {
		return nil, nil
	}
	return m, func() { c.msgs = slices.Delete(c.msgs, i, i+1) }
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails.
	return hex.EncodeToString(b)
}

// newEnvelopeID returns a random UUID (version 4) string.
func newEnvelopeID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
