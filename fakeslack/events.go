package fakeslack

import "sync"

// Event kinds delivered by [Server.Subscribe].
const (
	// EventMessage: a message was posted to a conversation. Thread replies
	// (Message.ThreadTS set) are delivered too, though [Server.Messages]
	// lists only top-level messages; reload them with [Server.Thread].
	EventMessage = "message"
	// EventUpdate: a message (possibly ephemeral) was updated; Message is the
	// new state.
	EventUpdate = "update"
	// EventEphemeral: an ephemeral message was posted for Message.ForUser.
	EventEphemeral = "ephemeral"
	// EventDelete: a message (possibly ephemeral) was deleted; Message is its
	// last state.
	EventDelete = "delete"
	// EventResync: the subscriber's view may be stale, because events were
	// dropped while its buffer was full or because of [Server.Reset]. Reload
	// the full state (Channels, Messages, Ephemerals). Message is empty.
	EventResync = "resync"
)

// SubscriberBuffer is the capacity of the channel returned by
// [Server.Subscribe].
const SubscriberBuffer = 256

// Event is a state change delivered to subscribers.
type Event struct {
	// Kind is one of EventMessage, EventUpdate, EventEphemeral, EventDelete
	// or EventResync.
	Kind string
	// Message is the affected message.
	Message Message
}

type subscriber struct {
	ch chan Event
}

// deliver sends ev without blocking. The last buffer slot is reserved for
// an EventResync: once the buffer is that full, events are dropped and a
// resync marker is queued instead, so a subscriber that falls behind always
// learns about it and reloads state after the dropped changes happened.
// Called with Server.mu held, which makes it the only sender.
func (sub *subscriber) deliver(ev Event) {
	switch n := len(sub.ch); {
	case n < cap(sub.ch)-1:
		sub.ch <- ev
	case n == cap(sub.ch)-1:
		sub.ch <- Event{Kind: EventResync}
	default:
		// Full; the last queued event is a resync marker already.
	}
}

// Subscribe returns a channel of state changes and a function that ends the
// subscription and closes the channel. The server never blocks on a
// subscriber: when its buffer (SubscriberBuffer events) fills up, further
// events are dropped and an [EventResync] is delivered instead, after which
// the subscriber should reload the full state. Because a reload may already
// include changes whose events are still queued, apply events as
// idempotent upserts keyed by Channel and TS (compare Updates for ordering).
// The channel is also closed by [Server.Close]. Views (modals, Home tabs)
// are not delivered; [Server.WaitUntil] wakes on their changes.
func (s *Server) Subscribe() (<-chan Event, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := &subscriber{ch: make(chan Event, SubscriberBuffer)}
	id := s.nextSubID
	s.nextSubID++
	if s.closed {
		close(sub.ch)
		return sub.ch, func() {}
	}
	s.subs[id] = sub
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if _, ok := s.subs[id]; ok {
				delete(s.subs, id)
				close(sub.ch)
			}
		})
	}
	return sub.ch, cancel
}

// publishLocked notifies subscribers and waiters of a message change.
func (s *Server) publishLocked(kind string, m *Message) {
	for _, sub := range s.subs {
		// Each subscriber gets its own copy so none can alter another's.
		sub.deliver(Event{Kind: kind, Message: m.clone()})
	}
	s.broadcastLocked()
}
