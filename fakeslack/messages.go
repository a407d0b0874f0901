package fakeslack

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Message is a message as it currently stands in a conversation, or an
// ephemeral message shown to one user.
type Message struct {
	// Channel is the conversation ID ("D"+userID for direct messages).
	Channel string
	// TS is the message timestamp, unique across the server.
	TS string
	// ThreadTS is the parent's timestamp for a threaded reply (posted with
	// thread_ts); empty for top-level messages, including thread parents.
	// Replies are listed by [Server.Thread], not by [Server.Messages].
	ThreadTS string
	// Broadcast marks a reply posted with reply_broadcast, which Slack also
	// shows in the channel; [Server.Messages] lists it.
	Broadcast bool
	// User is the bot user ID for messages the bot posted, or the human's
	// user ID for messages posted with [Server.PostAsUser].
	User string
	// Text is the message text (the notification fallback when Blocks is set).
	Text string
	// Blocks is the Block Kit JSON array, nil if the message has none.
	Blocks json.RawMessage
	// Metadata is the message metadata ({"event_type":…,"event_payload":…})
	// posted with chat.postMessage or set by chat.update, nil if none.
	Metadata json.RawMessage
	// Ephemeral marks a message visible only to ForUser.
	Ephemeral bool
	// ForUser is the user an ephemeral message is shown to.
	ForUser string
	// Updates counts the updates (chat.update or replace_original) applied.
	Updates int
	// History holds the versions replaced by updates, oldest first.
	History []MessageVersion
	// PostedAt is when the message was posted, by [Options.Now].
	PostedAt time.Time
	// UpdatedAt is when the message last changed (PostedAt if never updated).
	UpdatedAt time.Time
}

// MessageVersion is an earlier version of an updated message.
type MessageVersion struct {
	Text     string
	Blocks   json.RawMessage
	Metadata json.RawMessage
	// At is when this version was posted or last updated.
	At time.Time
}

func (m *Message) clone() Message {
	c := *m
	c.Blocks = cloneRaw(m.Blocks)
	c.Metadata = cloneRaw(m.Metadata)
	c.History = make([]MessageVersion, len(m.History))
	for i, v := range m.History {
		v.Blocks = cloneRaw(v.Blocks)
		v.Metadata = cloneRaw(v.Metadata)
		c.History[i] = v
	}
	return c
}

func cloneRaw(r json.RawMessage) json.RawMessage {
	if r == nil {
		return nil
	}
	return slices.Clone(r)
}

// update replaces the message content, keeping the current version in History.
func (m *Message) update(text string, setText bool, blocks json.RawMessage, setBlocks bool, metadata json.RawMessage, setMetadata bool, at time.Time) {
	m.History = append(m.History, MessageVersion{Text: m.Text, Blocks: m.Blocks, Metadata: m.Metadata, At: m.UpdatedAt})
	if setText {
		m.Text = text
	}
	if setBlocks {
		m.Blocks = blocks
	}
	if setMetadata {
		m.Metadata = metadata
	}
	m.Updates++
	m.UpdatedAt = at
}

// isUserID reports whether id looks like a Slack user ID.
func isUserID(id string) bool {
	return len(id) > 1 && (id[0] == 'U' || id[0] == 'W')
}

// canonicalLocked maps a channel reference (ID, user ID, "#name" or name of a
// known channel) to a conversation ID without creating anything.
func (s *Server) canonicalLocked(ref string) string {
	if isUserID(ref) {
		return "D" + ref
	}
	if _, ok := s.convs[ref]; ok {
		return ref
	}
	name := strings.TrimPrefix(ref, "#")
	for _, id := range s.convOrder {
		if c := s.convs[id]; c.ch.Name == name && !strings.HasPrefix(id, "D") {
			return id
		}
	}
	return ref
}

// conversationLocked resolves ref and returns its conversation, creating it
// when create is set and the channel rules allow. The error is a Slack error
// code.
func (s *Server) conversationLocked(ref string, create bool) (*conversation, string) {
	if ref == "" {
		return nil, "channel_not_found"
	}
	id := s.canonicalLocked(ref)
	if c, ok := s.convs[id]; ok {
		return c, ""
	}
	if !create {
		return nil, "channel_not_found"
	}
	ch := Channel{ID: id, Name: id}
	if userID, ok := strings.CutPrefix(id, "D"); ok && isUserID(userID) {
		u, known := s.users[userID]
		if s.opts.StrictChannels && !known {
			return nil, "channel_not_found"
		}
		ch.Name = userID
		if known && u.Name != "" {
			ch.Name = u.Name
		}
	} else if s.opts.StrictChannels {
		return nil, "channel_not_found"
	}
	c := &conversation{ch: ch}
	s.convs[id] = c
	s.convOrder = append(s.convOrder, id)
	return c, ""
}

// threadParent resolves a thread_ts parameter to the parent's timestamp:
// empty stays empty, a reply's timestamp means its parent (Slack asks apps to
// use the parent's), and an unknown timestamp is thread_not_found.
func (c *conversation) threadParent(ts string) (string, string) {
	if ts == "" {
		return "", ""
	}
	_, m := c.find(ts)
	if m == nil {
		return "", "thread_not_found"
	}
	if m.ThreadTS != "" {
		return m.ThreadTS, ""
	}
	return m.TS, ""
}

func (c *conversation) find(ts string) (int, *Message) {
	for i, m := range c.msgs {
		if m.TS == ts {
			return i, m
		}
	}
	return -1, nil
}

func (s *Server) findEphemeralLocked(channel, ts string) (int, *Message) {
	for i, m := range s.ephemerals {
		if m.Channel == channel && m.TS == ts {
			return i, m
		}
	}
	return -1, nil
}

// Messages returns the current top-level messages of a conversation in post
// order, as Slack's channel history shows them: thread replies are left out
// (see [Server.Thread]) unless posted with reply_broadcast, and so are
// ephemeral messages. channel may be a conversation ID, a user ID (meaning
// the DM with that user) or a configured channel's name.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[s.canonicalLocked(channel)]
	if !ok {
		return nil
	}
	out := make([]Message, 0, len(c.msgs))
	for _, m := range c.msgs {
		if m.ThreadTS == "" || m.Broadcast {
			out = append(out, m.clone())
		}
	}
	return out
}

// Thread returns the replies in the thread of the message with timestamp ts
// in channel, in post order, without the parent (fetch it with
// [Server.Message]). Replies stay listed after their parent is deleted.
func (s *Server) Thread(channel, ts string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[s.canonicalLocked(channel)]
	if !ok || ts == "" {
		return nil
	}
	var out []Message
	for _, m := range c.msgs {
		if m.ThreadTS == ts {
			out = append(out, m.clone())
		}
	}
	return out
}

// DM returns the top-level messages in the direct message conversation with
// userID, like [Server.Messages].
func (s *Server) DM(userID string) []Message {
	return s.Messages("D" + strings.TrimPrefix(userID, "D"))
}

// Ephemerals returns the ephemeral messages shown to userID, in post order,
// across all conversations.
func (s *Server) Ephemerals(userID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.ephemerals {
		if m.ForUser == userID {
			out = append(out, m.clone())
		}
	}
	return out
}

// Message returns the message with timestamp ts in channel, looking at
// regular messages first and then at ephemeral ones.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.canonicalLocked(channel)
	if c, ok := s.convs[id]; ok {
		if _, m := c.find(ts); m != nil {
			return m.clone(), true
		}
	}
	if _, m := s.findEphemeralLocked(id, ts); m != nil {
		return m.clone(), true
	}
	return Message{}, false
}

// Channels returns the configured conversations followed by those created on
// the fly (including direct messages, named after the user), in creation
// order.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, len(s.convOrder))
	for i, id := range s.convOrder {
		out[i] = s.convs[id].ch
	}
	return out
}

// PostAsUser posts a message written by a human (userID) to channel, as the
// playground does when a person types into a channel. It changes state and
// notifies subscribers; it sends nothing to the app.
func (s *Server) PostAsUser(channel, userID, text string) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, errCode := s.conversationLocked(channel, true)
	if errCode != "" {
		return Message{}, fmt.Errorf("fakeslack: post to %q: %s", channel, errCode)
	}
	m := s.appendMessageLocked(c, userID, text, nil, "", nil, false)
	return m.clone(), nil
}

// appendMessageLocked stores a new message in c and publishes it.
func (s *Server) appendMessageLocked(c *conversation, user, text string, blocks json.RawMessage, threadTS string, metadata json.RawMessage, broadcast bool) *Message {
	now := s.now()
	m := &Message{
		Channel:   c.ch.ID,
		TS:        s.nextTSLocked(),
		ThreadTS:  threadTS,
		Broadcast: broadcast,
		User:      user,
		Text:      text,
		Blocks:    blocks,
		Metadata:  metadata,
		PostedAt:  now,
		UpdatedAt: now,
	}
	c.msgs = append(c.msgs, m)
	s.publishLocked(EventMessage, m)
	return m
}

// appendEphemeralLocked stores a new ephemeral message and publishes it.
func (s *Server) appendEphemeralLocked(channel, forUser, text string, blocks json.RawMessage) *Message {
	now := s.now()
	m := &Message{
		Channel:   channel,
		TS:        s.nextTSLocked(),
		User:      s.opts.BotUserID,
		Text:      text,
		Blocks:    blocks,
		Ephemeral: true,
		ForUser:   forUser,
		PostedAt:  now,
		UpdatedAt: now,
	}
	s.ephemerals = append(s.ephemerals, m)
	s.publishLocked(EventEphemeral, m)
	return m
}
