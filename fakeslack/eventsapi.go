package fakeslack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
)

// SendEvent delivers an Events API body (typically {"type":"event_callback",
// "event":{…},…}, see [Server.EventCallback]) to the app as given: a signed
// JSON POST to AppEventsPath, or an events_api envelope in socket mode. The
// Reply's EventID is the body's event_id, if it has one.
func (s *Server) SendEvent(ctx context.Context, event json.RawMessage) (Reply, error) {
	return s.sendEvent(ctx, event, 0, "")
}

// SendEventRetry delivers event like [Server.SendEvent], marked as Slack's
// retry number retryNum (1 to 3 in Slack) for reason (Slack sends
// "http_timeout", "http_error", "connection_failed", "too_many_redirects",
// "ssl_error" or "unknown_error"): over HTTP with the X-Slack-Retry-Num and
// X-Slack-Retry-Reason headers, in socket mode with the envelope's
// retry_attempt and retry_reason. Slack retries with the same body, so pass
// the Payload of the first delivery's Reply (or a body with the same
// event_id) to test that the app handles each event_id once. retryNum <= 0
// sends a first delivery, like SendEvent.
func (s *Server) SendEventRetry(ctx context.Context, event json.RawMessage, retryNum int, reason string) (Reply, error) {
	if retryNum < 0 {
		retryNum = 0
	}
	if retryNum == 0 {
		reason = ""
	}
	return s.sendEvent(ctx, event, retryNum, reason)
}

func (s *Server) sendEvent(ctx context.Context, event json.RawMessage, retryNum int, reason string) (Reply, error) {
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
		reply, err = s.deliverRetry(ctx, "events_api", slices.Clone(event), retryNum, reason)
	} else {
		reply, err = s.postToApp(ctx, AppEventsPath, "application/json", event, retryNum, reason)
	}
	if err != nil {
		return reply, fmt.Errorf("fakeslack: send event: %w", err)
	}
	var ids struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(event, &ids) // Non-objects have no event_id.
	reply.EventID, reply.Payload = ids.EventID, slices.Clone(event)
	return reply, nil
}

// EventCallback wraps an inner event (e.g. {"type":"app_mention",…}) in the
// event_callback body Slack sends: token, team_id, api_app_id, a new unique
// event_id ("Ev…"), event_time, authorizations for the bot and
// is_ext_shared_channel. An inner event without event_ts gets one. Send the
// result with [Server.SendEvent] and again with [Server.SendEventRetry] to
// imitate a retried delivery. It returns an error when event is not a JSON
// object.
func (s *Server) EventCallback(event json.RawMessage) (json.RawMessage, error) {
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(event, &inner); err != nil || inner == nil {
		return nil, fmt.Errorf("fakeslack: event callback: event is not a JSON object")
	}
	s.mu.Lock()
	body := s.eventCallbackLocked(inner)
	s.mu.Unlock()
	data, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("fakeslack: event callback: %w", err)
	}
	return data, nil
}

// eventCallbackLocked builds an event_callback body around inner, which may
// be modified.
func (s *Server) eventCallbackLocked(inner map[string]json.RawMessage) obj {
	now := s.now()
	if _, ok := inner["event_ts"]; !ok {
		ts, _ := json.Marshal(fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000))
		inner["event_ts"] = ts
	}
	return obj{
		"token":      s.opts.VerificationToken,
		"team_id":    s.opts.TeamID,
		"api_app_id": s.opts.AppID,
		"event":      inner,
		"type":       "event_callback",
		"event_id":   newEventID(),
		"event_time": now.Unix(),
		"authorizations": []obj{{
			"enterprise_id":         nil,
			"team_id":               s.opts.TeamID,
			"user_id":               s.opts.BotUserID,
			"is_bot":                true,
			"is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
	}
}

// AppHomeOpened tells the app that userID opened its Home tab: an
// event_callback with an app_home_opened event (user, channel "D"+userID,
// tab "home", event_ts and, once a Home view was published for the user,
// the view), delivered like [Server.SendEvent]. The Reply's EventID and
// Payload identify the delivery for [Server.SendEventRetry].
func (s *Server) AppHomeOpened(ctx context.Context, userID string) (Reply, error) {
	s.mu.Lock()
	inner := obj{
		"type":    "app_home_opened",
		"user":    userID,
		"channel": "D" + userID,
		"tab":     ViewTypeHome,
	}
	if id, ok := s.homes[userID]; ok {
		inner["view"] = s.viewJSONLocked(s.views[id])
	}
	raw := make(map[string]json.RawMessage, len(inner))
	var err error
	for k, v := range inner {
		if raw[k], err = json.Marshal(v); err != nil {
			break
		}
	}
	var body obj
	if err == nil {
		body = s.eventCallbackLocked(raw)
	}
	s.mu.Unlock()
	if err != nil {
		return Reply{}, fmt.Errorf("fakeslack: app_home_opened: %w", err)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return Reply{}, fmt.Errorf("fakeslack: app_home_opened: %w", err)
	}
	return s.SendEvent(ctx, data)
}

// newEventID returns an event ID shaped like Slack's: "Ev" and ten
// characters from [0-9A-Z].
func newEventID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 10)
	_, _ = rand.Read(b) // crypto/rand.Read never fails.
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "Ev" + string(b)
}
