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
}

func newReply(status int, body []byte) Reply {
	r := Reply{Status: status, Body: body}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return r
	}
	if json.Valid(trimmed) {
		var v struct {
			ResponseType string          `json:"response_type"`
			Text         string          `json:"text"`
			Blocks       json.RawMessage `json:"blocks"`
		}
		if json.Unmarshal(trimmed, &v) == nil {
			r.ResponseType, r.Text = v.ResponseType, v.Text
			if len(v.Blocks) > 0 && string(v.Blocks) != "null" {
				r.Blocks = v.Blocks
			}
		}
		return r
	}
	r.Text = string(trimmed)
	return r
}

// responseTarget is what a response_url refers to.
type responseTarget struct {
	user, channel string
	// messageTS is the message a button was clicked on (empty for slash
	// commands); ephemeral tells where to find it.
	messageTS string
	ephemeral bool
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
// "in_channel". A non-200 status is not an error; it is in the Reply.
func (s *Server) SlashCommandIn(ctx context.Context, channel, userID, text string) (Reply, error) {
	s.mu.Lock()
	channel = s.canonicalLocked(channel)
	responseURL, err := s.newResponseURLLocked(responseTarget{user: userID, channel: channel})
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
		"trigger_id":            {s.triggerIDLocked()},
	}
	transport := s.transport
	s.mu.Unlock()
	if err != nil {
		return Reply{}, fmt.Errorf("fakeslack: slash command %s %q: %w", s.opts.Command, text, err)
	}

	var reply Reply
	if transport == TransportSocket {
		payload := make(map[string]string, len(form))
		for k := range form {
			payload[k] = form.Get(k)
		}
		reply, err = s.deliver(ctx, "slash_commands", payload)
	} else {
		reply, err = s.postToApp(ctx, AppCommandsPath, "application/x-www-form-urlencoded", []byte(form.Encode()))
	}
	if err != nil {
		return reply, fmt.Errorf("fakeslack: slash command %s %q: %w", s.opts.Command, text, err)
	}
	if reply.Status == http.StatusOK {
		s.showCommandReply(channel, userID, reply)
	}
	return reply, nil
}

// showCommandReply records a slash command's synchronous answer.
func (s *Server) showCommandReply(channel, userID string, reply Reply) {
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
		if c, code := s.conversationLocked(channel, true); code == "" {
			s.appendMessageLocked(c, s.opts.BotUserID, reply.Text, blocks, "")
			return
		}
	}
	s.appendEphemeralLocked(channel, userID, reply.Text, blocks)
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
// messages.
func (s *Server) ClickButton(ctx context.Context, userID string, m Message, b Button) (Reply, error) {
	s.mu.Lock()
	responseURL, err := s.newResponseURLLocked(responseTarget{user: userID, channel: m.Channel, messageTS: m.TS, ephemeral: m.Ephemeral})
	now := s.now()
	action := obj{
		"type":      "button",
		"action_id": b.ActionID,
		"block_id":  b.BlockID,
		"text":      obj{"type": "plain_text", "text": b.Text, "emoji": true},
		"action_ts": fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000),
	}
	if b.Value != "" {
		action["value"] = b.Value
	}
	if b.Style != "" {
		action["style"] = b.Style
	}
	name := s.userName(userID)
	payload := obj{
		"type":                  "block_actions",
		"user":                  obj{"id": userID, "username": name, "name": name, "team_id": s.opts.TeamID},
		"api_app_id":            s.opts.AppID,
		"token":                 s.opts.VerificationToken,
		"container":             obj{"type": "message", "message_ts": m.TS, "channel_id": m.Channel, "is_ephemeral": m.Ephemeral},
		"trigger_id":            s.triggerIDLocked(),
		"team":                  obj{"id": s.opts.TeamID, "domain": s.opts.TeamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               obj{"id": m.Channel, "name": s.channelNameLocked(m.Channel)},
		"state":                 obj{"values": obj{}},
		"response_url":          responseURL,
		"actions":               []obj{action},
	}
	if !m.Ephemeral {
		payload["message"] = s.messageJSON(&m)
	}
	transport := s.transport
	s.mu.Unlock()
	if err != nil {
		return Reply{}, fmt.Errorf("fakeslack: click %q: %w", b.ActionID, err)
	}

	var reply Reply
	if transport == TransportSocket {
		reply, err = s.deliver(ctx, "interactive", payload)
	} else {
		var data []byte
		if data, err = json.Marshal(payload); err != nil {
			return Reply{}, fmt.Errorf("fakeslack: click %q: encoding payload: %w", b.ActionID, err)
		}
		form := url.Values{"payload": {string(data)}}
		reply, err = s.postToApp(ctx, AppInteractionsPath, "application/x-www-form-urlencoded", []byte(form.Encode()))
	}
	if err != nil {
		return reply, fmt.Errorf("fakeslack: click %q: %w", b.ActionID, err)
	}
	return reply, nil
}

// SendEvent delivers an Events API body (typically {"type":"event_callback",
// "event":{…},…}) to the app: a signed JSON POST to AppEventsPath, or an
// events_api envelope in socket mode.
func (s *Server) SendEvent(ctx context.Context, event json.RawMessage) (Reply, error) {
	if !json.Valid(event) {
		return Reply{}, fmt.Errorf("fakeslack: send event: body is not valid JSON")
	}
	s.mu.Lock()
	transport := s.transport
	s.mu.Unlock()
	var (
		reply Reply
		err   error
	)
	if transport == TransportSocket {
		reply, err = s.deliver(ctx, "events_api", slices.Clone(event))
	} else {
		reply, err = s.postToApp(ctx, AppEventsPath, "application/json", event)
	}
	if err != nil {
		return reply, fmt.Errorf("fakeslack: send event: %w", err)
	}
	return reply, nil
}

// URLVerification sends Slack's url_verification challenge to AppEventsPath
// over HTTP (whatever the transport); the app should echo the challenge.
func (s *Server) URLVerification(ctx context.Context, challenge string) (Reply, error) {
	body, err := json.Marshal(obj{"token": s.opts.VerificationToken, "challenge": challenge, "type": "url_verification"})
	if err != nil {
		return Reply{}, fmt.Errorf("fakeslack: url verification: %w", err)
	}
	reply, err := s.postToApp(ctx, AppEventsPath, "application/json", body)
	if err != nil {
		return reply, fmt.Errorf("fakeslack: url verification: %w", err)
	}
	return reply, nil
}

// postToApp sends a signed POST to the app.
func (s *Server) postToApp(ctx context.Context, path, contentType string, body []byte) (Reply, error) {
	s.mu.Lock()
	base, closed := s.appURL, s.closed
	ts := s.now().Unix()
	s.mu.Unlock()
	switch {
	case closed:
		return Reply{}, ErrClosed
	case base == "":
		return Reply{}, ErrNoAppURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return Reply{}, fmt.Errorf("building request to %s: %w", path, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", Sign(s.opts.SigningSecret, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("posting to app: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return Reply{}, fmt.Errorf("reading app response from %s: %w", path, err)
	}
	return newReply(resp.StatusCode, data), nil
}

// newResponseURLLocked registers a response_url for t.
func (s *Server) newResponseURLLocked(t responseTarget) (string, error) {
	base := s.publicURL
	if base == "" {
		base = s.learnedBase
	}
	if base == "" {
		return "", ErrNoPublicURL
	}
	id := randomHex(16)
	s.responses[id] = t
	return base + "/response/" + id, nil
}

// triggerIDLocked returns a new trigger_id shaped like Slack's.
func (s *Server) triggerIDLocked() string {
	s.seq++
	return fmt.Sprintf("%d.%d.%s", s.now().Unix(), s.seq, randomHex(16))
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
// the text and blocks of the message a button was clicked on;
// delete_original deletes it. For slash commands, which have no source
// message, replace_original posts a new message. Response URLs do not expire
// and may be used any number of times.
func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request, id string) {
	s.serveCall(w, r, MethodResponseURL, false, func(_ *http.Request, p url.Values) (int, obj) {
		return s.respond(id, p)
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
	if t.messageTS != "" && (p.Get("delete_original") == "true" || p.Get("replace_original") == "true") {
		m, remove := s.sourceMessageLocked(t)
		if m == nil {
			return http.StatusNotFound, apiError("message_not_found")
		}
		if p.Get("delete_original") == "true" {
			remove()
			s.publishLocked(EventDelete, m)
			return http.StatusOK, obj{"ok": true}
		}
		m.update(text, true, blocks, true, s.now())
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
		s.appendMessageLocked(c, s.opts.BotUserID, text, blocks, p.Get("thread_ts"))
		return http.StatusOK, obj{"ok": true}
	}
	s.appendEphemeralLocked(t.channel, t.user, text, blocks)
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
