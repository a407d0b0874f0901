package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// obj is a JSON object under construction.
type obj = map[string]any

func apiError(code string) obj { return obj{"ok": false, "error": code} }

// result is a handled request's HTTP status and JSON response.
type result struct {
	status int
	body   obj
}

// callHandler handles one recorded request. It takes Server.mu itself as
// needed.
type callHandler func(r *http.Request, params url.Values) result

// serveAPI serves /api/{method}.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, method string) {
	s.serveCall(w, r, method, true, func(r *http.Request, p url.Values) result {
		return result{status: http.StatusOK, body: s.dispatch(r, method, p)}
	})
}

// serveCall reads and records a request, applies latency, injected failures
// and rate limits, and runs h. The call is recorded after h has changed
// state and before the response is written, so a client that got the
// response always finds its call recorded.
func (s *Server) serveCall(w http.ResponseWriter, r *http.Request, method string, learn bool, h callHandler) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	call := Call{Method: method, Body: string(body), At: s.now()}
	if err != nil {
		call.Status = http.StatusBadRequest
		s.mu.Lock()
		s.recordLocked(call)
		s.mu.Unlock()
		http.Error(w, fmt.Sprintf("reading request body: %v", err), http.StatusBadRequest)
		return
	}
	call.Params = parseParams(r, body)

	s.mu.Lock()
	if learn {
		s.learnedBase = requestBase(r)
	}
	latency := s.latency
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.mu.Lock()
			s.recordLocked(call) // Status 0: the client gave up.
			s.mu.Unlock()
			return
		}
	}

	s.mu.Lock()
	if q := s.failures[method]; len(q) > 0 {
		f := q[0]
		if len(q) == 1 {
			delete(s.failures, method)
		} else {
			s.failures[method] = q[1:]
		}
		call.Status = f.status
		s.recordLocked(call)
		s.mu.Unlock()
		writeFailure(w, f)
		return
	}
	if wait := s.rateLimitedLocked(method, call.Params); wait > 0 {
		call.Status = http.StatusTooManyRequests
		s.recordLocked(call)
		s.mu.Unlock()
		writeFailure(w, failure{status: http.StatusTooManyRequests, retryAfter: wait})
		return
	}
	s.mu.Unlock()

	res := h(r, call.Params)
	call.Status = res.status
	s.mu.Lock()
	s.recordLocked(call)
	s.mu.Unlock()
	writeJSON(w, res.status, res.body)
}

// dispatch runs a Web API method.
func (s *Server) dispatch(r *http.Request, method string, p url.Values) obj {
	var run func(*http.Request, url.Values) obj
	switch method {
	case "apps.connections.open":
		if code := s.checkAppToken(r, p); code != "" {
			return apiError(code)
		}
		return s.appsConnectionsOpen(r, p)
	case "auth.test":
		run = s.authTest
	case "chat.postMessage":
		run = s.chatPostMessage
	case "chat.update":
		run = s.chatUpdate
	case "chat.postEphemeral":
		run = s.chatPostEphemeral
	case "chat.delete":
		run = s.chatDelete
	case "conversations.open":
		run = s.conversationsOpen
	case "usergroups.users.list":
		run = s.usergroupsUsersList
	case "users.info":
		run = s.usersInfo
	case "views.open":
		run = s.viewsOpen
	case "views.push":
		run = s.viewsPush
	case "views.update":
		run = s.viewsUpdate
	case "views.publish":
		run = s.viewsPublish
	default:
		return apiError("unknown_method")
	}
	if code := s.checkBotToken(r, p); code != "" {
		return apiError(code)
	}
	return run(r, p)
}

// requestToken returns the bearer token, or the token parameter.
func requestToken(r *http.Request, p url.Values) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return p.Get("token")
}

func (s *Server) checkBotToken(r *http.Request, p url.Values) string {
	if s.opts.BotToken == "" {
		return ""
	}
	switch tok := requestToken(r, p); {
	case tok == "":
		return "not_authed"
	case tok != s.opts.BotToken:
		return "invalid_auth"
	}
	return ""
}

func (s *Server) checkAppToken(r *http.Request, p url.Values) string {
	switch tok := requestToken(r, p); {
	case tok == "":
		return "not_authed"
	case s.opts.AppToken != "" && tok != s.opts.AppToken:
		return "invalid_auth"
	case s.opts.AppToken == "" && !strings.HasPrefix(tok, "xapp-"):
		return "not_allowed_token_type"
	}
	return ""
}

func (s *Server) authTest(*http.Request, url.Values) obj {
	return obj{
		"ok":      true,
		"url":     "https://" + s.opts.TeamDomain + ".slack.com/",
		"team":    s.opts.TeamDomain,
		"user":    DefaultBotName,
		"team_id": s.opts.TeamID,
		"user_id": s.opts.BotUserID,
		"bot_id":  s.opts.BotUserID,
	}
}

func (s *Server) chatPostMessage(_ *http.Request, p url.Values) obj {
	blocks, ok := parseBlocks(p.Get("blocks"))
	if !ok {
		return apiError("invalid_blocks")
	}
	text := p.Get("text")
	if text == "" && blocks == nil && p.Get("attachments") == "" {
		return apiError("no_text")
	}
	metadata, ok := parseMetadata(p.Get("metadata"))
	if !ok {
		return apiError("invalid_metadata_format")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, code := s.conversationLocked(p.Get("channel"), true)
	if code != "" {
		return apiError(code)
	}
	threadTS, code := c.threadParent(p.Get("thread_ts"))
	if code != "" {
		return apiError(code)
	}
	broadcast := threadTS != "" && isTrue(p.Get("reply_broadcast"))
	m := s.appendMessageLocked(c, s.opts.BotUserID, text, blocks, threadTS, metadata, broadcast)
	return obj{"ok": true, "channel": m.Channel, "ts": m.TS, "message": s.messageJSON(m)}
}

// isTrue reports whether a boolean parameter is set.
func isTrue(v string) bool { return v == "true" || v == "1" }

// parseMetadata validates a metadata parameter (Slack message metadata):
// empty, or a JSON object whose event_type, if present, is a non-empty
// string and whose event_payload, if present, is an object.
func parseMetadata(v string) (json.RawMessage, bool) {
	v = strings.TrimSpace(v)
	if v == "" || v == "null" {
		return nil, true
	}
	var md map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &md); err != nil || md == nil {
		return nil, false
	}
	if et, ok := md["event_type"]; ok {
		var str string
		if json.Unmarshal(et, &str) != nil || str == "" {
			return nil, false
		}
	}
	if ep, ok := md["event_payload"]; ok && string(ep) != "null" {
		var payload map[string]json.RawMessage
		if json.Unmarshal(ep, &payload) != nil {
			return nil, false
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(v)); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

func (s *Server) chatUpdate(_ *http.Request, p url.Values) obj {
	var blocks json.RawMessage
	if p.Has("blocks") {
		var ok bool
		if blocks, ok = parseBlocks(p.Get("blocks")); !ok {
			return apiError("invalid_blocks")
		}
	}
	metadata, ok := parseMetadata(p.Get("metadata"))
	if !ok {
		return apiError("invalid_metadata_format")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, code := s.conversationLocked(p.Get("channel"), false)
	if code != "" {
		return apiError(code)
	}
	_, m := c.find(p.Get("ts"))
	if m == nil {
		return apiError("message_not_found")
	}
	m.update(p.Get("text"), p.Has("text"), blocks, p.Has("blocks"), metadata, p.Has("metadata"), s.now())
	s.publishLocked(EventUpdate, m)
	return obj{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text, "message": s.messageJSON(m)}
}

func (s *Server) chatPostEphemeral(_ *http.Request, p url.Values) obj {
	blocks, ok := parseBlocks(p.Get("blocks"))
	if !ok {
		return apiError("invalid_blocks")
	}
	text := p.Get("text")
	if text == "" && blocks == nil && p.Get("attachments") == "" {
		return apiError("no_text")
	}
	user := p.Get("user")
	if user == "" {
		return apiError("user_not_found")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, code := s.conversationLocked(p.Get("channel"), true)
	if code != "" {
		return apiError(code)
	}
	m := s.appendEphemeralLocked(c.ch.ID, user, text, blocks)
	return obj{"ok": true, "message_ts": m.TS}
}

func (s *Server) chatDelete(_ *http.Request, p url.Values) obj {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, code := s.conversationLocked(p.Get("channel"), false)
	if code != "" {
		return apiError(code)
	}
	i, m := c.find(p.Get("ts"))
	if m == nil {
		return apiError("message_not_found")
	}
	c.msgs = slices.Delete(c.msgs, i, i+1)
	s.publishLocked(EventDelete, m)
	return obj{"ok": true, "channel": c.ch.ID, "ts": m.TS}
}

func (s *Server) conversationsOpen(_ *http.Request, p url.Values) obj {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := p.Get("channel"); ch != "" {
		c, code := s.conversationLocked(ch, false)
		if code != "" {
			return apiError(code)
		}
		return obj{"ok": true, "no_op": true, "already_open": true, "channel": obj{"id": c.ch.ID}}
	}
	var users []string
	for u := range strings.SplitSeq(p.Get("users"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	switch {
	case len(users) == 0:
		return apiError("users_list_not_supplied")
	case len(users) > 1:
		return apiError("not_supported")
	case !isUserID(users[0]):
		return apiError("user_not_found")
	}
	_, existed := s.convs["D"+users[0]]
	c, code := s.conversationLocked(users[0], true)
	if code != "" {
		return apiError("user_not_found")
	}
	return obj{
		"ok":           true,
		"no_op":        existed,
		"already_open": existed,
		"channel":      obj{"id": c.ch.ID, "is_im": true, "user": users[0]},
	}
}

func (s *Server) usergroupsUsersList(_ *http.Request, p url.Values) obj {
	members, ok := s.opts.Groups[p.Get("usergroup")]
	if !ok {
		return apiError("no_such_subteam")
	}
	users := slices.Clone(members)
	if users == nil {
		users = []string{}
	}
	return obj{"ok": true, "users": users}
}

func (s *Server) usersInfo(_ *http.Request, p url.Values) obj {
	if list := p.Get("users"); list != "" {
		var out []obj
		for id := range strings.SplitSeq(list, ",") {
			u, ok := s.userJSON(strings.TrimSpace(id))
			if !ok {
				return apiError("user_not_found")
			}
			out = append(out, u)
		}
		return obj{"ok": true, "users": out}
	}
	u, ok := s.userJSON(p.Get("user"))
	if !ok {
		return apiError("user_not_found")
	}
	return obj{"ok": true, "user": u}
}

// userJSON renders a user object as users.info does.
func (s *Server) userJSON(id string) (obj, bool) {
	u, ok := s.users[id]
	isBot := false
	if !ok {
		if id != s.opts.BotUserID {
			return nil, false
		}
		u, isBot = User{ID: id, Name: DefaultBotName, RealName: DefaultBotName}, true
	}
	return obj{
		"id":        u.ID,
		"team_id":   s.opts.TeamID,
		"name":      u.Name,
		"real_name": u.RealName,
		"deleted":   false,
		"is_bot":    isBot,
		"profile": obj{
			"real_name":    u.RealName,
			"display_name": u.Name,
			"team":         s.opts.TeamID,
		},
	}, true
}

func (s *Server) appsConnectionsOpen(r *http.Request, _ url.Values) obj {
	s.mu.Lock()
	base := s.publicURL
	s.mu.Unlock()
	if base == "" {
		base = requestBase(r)
	}
	return obj{"ok": true, "url": websocketURL(base) + "/socket"}
}

// messageJSON renders m as Slack's message object. Called with s.mu held;
// the result shares no mutable data with m.
func (s *Server) messageJSON(m *Message) obj {
	o := obj{"type": "message", "user": m.User, "text": m.Text, "ts": m.TS, "team": s.opts.TeamID}
	if m.User == s.opts.BotUserID {
		o["bot_id"] = s.opts.BotUserID
		o["app_id"] = s.opts.AppID
	}
	if m.Blocks != nil {
		o["blocks"] = cloneRaw(m.Blocks)
	}
	if m.ThreadTS != "" {
		o["thread_ts"] = m.ThreadTS
		if m.Broadcast {
			o["subtype"] = "thread_broadcast"
		}
	}
	if m.Metadata != nil {
		o["metadata"] = cloneRaw(m.Metadata)
	}
	if m.Updates > 0 {
		at := m.UpdatedAt.UnixMicro()
		o["edited"] = obj{"user": m.User, "ts": fmt.Sprintf("%d.%06d", at/1e6, at%1e6)}
	}
	return o
}

// parseBlocks validates a blocks parameter: a JSON array of objects that
// each have a type. Empty input, null and [] yield nil.
func parseBlocks(v string) (json.RawMessage, bool) {
	v = strings.TrimSpace(v)
	if v == "" || v == "null" {
		return nil, true
	}
	var blocks []struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal([]byte(v), &blocks); err != nil {
		return nil, false
	}
	for _, b := range blocks {
		if b.Type == "" {
			return nil, false
		}
	}
	if len(blocks) == 0 {
		return nil, true
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(v)); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// parseParams extracts request parameters from the query string and the
// body (form, multipart or JSON).
func parseParams(r *http.Request, body []byte) url.Values {
	params := url.Values{}
	ct, mp, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	trimmed := bytes.TrimSpace(body)
	switch {
	case ct == "application/json" || (ct == "" && bytes.HasPrefix(trimmed, []byte("{"))):
		params = flattenJSON(trimmed)
	case ct == "multipart/form-data":
		form, err := multipart.NewReader(bytes.NewReader(body), mp["boundary"]).ReadForm(maxBodyBytes)
		if err == nil {
			for k, vs := range form.Value {
				params[k] = vs
			}
			_ = form.RemoveAll()
		}
	case len(trimmed) > 0:
		// ParseQuery returns what it could parse along with the first error.
		params, _ = url.ParseQuery(string(trimmed))
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			params.Add(k, v)
		}
	}
	return params
}

// flattenJSON turns a JSON object's top-level fields into parameters:
// strings as they are, other values as their compact JSON text.
func flattenJSON(body []byte) url.Values {
	params := url.Values{}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return params
	}
	for k, v := range top {
		switch {
		case string(v) == "null":
		case len(v) > 0 && v[0] == '"':
			var str string
			if json.Unmarshal(v, &str) == nil {
				params.Set(k, str)
			}
		default:
			var buf bytes.Buffer
			if json.Compact(&buf, v) == nil {
				params.Set(k, buf.String())
			}
		}
	}
	return params
}

// requestBase returns scheme://host of an incoming request.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// websocketURL turns an http(s) base URL into a ws(s) one.
func websocketURL(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest
	}
	if rest, ok := strings.CutPrefix(base, "http://"); ok {
		return "ws://" + rest
	}
	return base
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("encoding response: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func writeFailure(w http.ResponseWriter, f failure) {
	if f.status == http.StatusTooManyRequests {
		if f.retryAfter > 0 {
			secs := max(int64((f.retryAfter+time.Second-1)/time.Second), 1)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		}
		writeJSON(w, f.status, apiError("ratelimited"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(f.status)
	_, _ = fmt.Fprintf(w, "%d %s\n", f.status, http.StatusText(f.status))
}
