package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// socketWriteTimeout bounds every write to a Socket Mode connection.
const socketWriteTimeout = 5 * time.Second

// disconnectGrace is how long a connection told to disconnect may stay open
// before the server closes it.
const disconnectGrace = 5 * time.Second

// socketConn is one Socket Mode WebSocket connection from the app.
type socketConn struct {
	ws        *websocket.Conn
	writeMu   sync.Mutex // gorilla allows one concurrent writer
	done      chan struct{}
	closeOnce sync.Once
	ready     bool // hello sent; guarded by Server.mu
}

func (sc *socketConn) writeJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding socket message: %w", err)
	}
	sc.writeMu.Lock()
	defer sc.writeMu.Unlock()
	if err := sc.ws.SetWriteDeadline(time.Now().Add(socketWriteTimeout)); err != nil {
		return fmt.Errorf("setting write deadline: %w", err)
	}
	if err := sc.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("writing socket message: %w", err)
	}
	return nil
}

// close closes the connection once; later calls return nil.
func (sc *socketConn) close() error {
	var err error
	sc.closeOnce.Do(func() {
		close(sc.done)
		err = sc.ws.Close()
	})
	return err
}

// pendingEnvelope is an envelope waiting for its ack.
type pendingEnvelope struct {
	typ  string
	sent time.Time
	ack  chan json.RawMessage // buffered 1
}

// serveSocket serves the Socket Mode WebSocket at /socket: it greets the app
// with hello, pings it every Options.PingInterval and reads acks until the
// connection ends.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		http.Error(w, "fakeslack: server closed", http.StatusServiceUnavailable)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has replied with an HTTP error.
	}
	sc := &socketConn{ws: ws, done: make(chan struct{})}
	defer s.dropSocket(sc)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.sockets = append(s.sockets, sc)
	n := len(s.sockets)
	s.mu.Unlock()

	hello := obj{
		"type":            "hello",
		"num_connections": n,
		"connection_info": obj{"app_id": s.opts.AppID},
		"debug_info":      obj{"host": "fakeslack", "approximate_connection_time": 18060},
	}
	if err := sc.writeJSON(hello); err != nil {
		return
	}
	s.mu.Lock()
	sc.ready = true
	s.broadcastLocked()
	s.mu.Unlock()

	go s.pingLoop(sc)
	s.readAcks(sc)
}

// pingLoop sends WebSocket pings until the connection ends; slack-go's
// socketmode client reconnects when Slack's pings stop.
func (s *Server) pingLoop(sc *socketConn) {
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-sc.done:
			return
		case <-t.C:
			if err := sc.ws.WriteControl(websocket.PingMessage, []byte("fakeslack"), time.Now().Add(socketWriteTimeout)); err != nil {
				return
			}
		}
	}
}

// readAcks reads messages from the app until the connection fails; pongs
// are handled by the websocket library while reading.
func (s *Server) readAcks(sc *socketConn) {
	for {
		_, data, err := sc.ws.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.receiveAck(ack.EnvelopeID, ack.Payload)
	}
}

// receiveAck records an ack and hands it to the waiting driver call.
func (s *Server) receiveAck(id string, payload json.RawMessage) {
	if string(payload) == "null" {
		payload = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := Ack{EnvelopeID: id, Payload: cloneRaw(payload)}
	if p, ok := s.pending[id]; ok {
		delete(s.pending, id)
		a.Type, a.Latency = p.typ, time.Since(p.sent)
		p.ack <- cloneRaw(payload)
	}
	s.acks = append(s.acks, a)
	s.broadcastLocked()
}

// dropSocket forgets and closes a connection.
func (s *Server) dropSocket(sc *socketConn) {
	s.mu.Lock()
	if i := slices.Index(s.sockets, sc); i >= 0 {
		s.sockets = slices.Delete(s.sockets, i, i+1)
		s.broadcastLocked()
	}
	s.mu.Unlock()
	_ = sc.close()
}

// readySocketLocked returns the newest connection that has been greeted.
func (s *Server) readySocketLocked() *socketConn {
	for i := len(s.sockets) - 1; i >= 0; i-- {
		if s.sockets[i].ready {
			return s.sockets[i]
		}
	}
	return nil
}

// deliver sends a Socket Mode envelope to the newest connection and waits
// for its ack.
func (s *Server) deliver(ctx context.Context, typ string, payload any) (Reply, error) {
	return s.deliverRetry(ctx, typ, payload, 0, "")
}

// deliverRetry is deliver with the envelope's retry_attempt and
// retry_reason set.
func (s *Server) deliverRetry(ctx context.Context, typ string, payload any, retryAttempt int, retryReason string) (Reply, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Reply{}, ErrClosed
	}
	sc := s.readySocketLocked()
	if sc == nil {
		s.mu.Unlock()
		return Reply{}, ErrSocketNotConnected
	}
	id := newEnvelopeID()
	p := &pendingEnvelope{typ: typ, sent: time.Now(), ack: make(chan json.RawMessage, 1)}
	s.pending[id] = p
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	}()

	env := obj{
		"envelope_id": id,
		"type":        typ,
		"payload":     payload,
		// Slack does not accept a response payload in events_api acks.
		"accepts_response_payload": typ != "events_api",
		"retry_attempt":            retryAttempt,
		"retry_reason":             retryReason,
	}
	if err := sc.writeJSON(env); err != nil {
		return Reply{}, fmt.Errorf("sending %s envelope: %w", typ, err)
	}
	select {
	case ack := <-p.ack:
		return newReply(http.StatusOK, ack), nil
	case <-ctx.Done():
		return Reply{}, fmt.Errorf("waiting for ack of %s envelope %s: %w", typ, id, ctx.Err())
	case <-sc.done:
		select {
		case ack := <-p.ack:
			return newReply(http.StatusOK, ack), nil
		default:
		}
		return Reply{}, fmt.Errorf("waiting for ack of %s envelope %s: connection closed: %w", typ, id, ErrSocketNotConnected)
	}
}

// SocketConnected reports whether an app is connected over Socket Mode.
func (s *Server) SocketConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readySocketLocked() != nil
}

// WaitSocketConnected blocks until an app is connected over Socket Mode.
func (s *Server) WaitSocketConnected(ctx context.Context) error {
	if err := s.WaitUntil(ctx, s.SocketConnected); err != nil {
		return fmt.Errorf("fakeslack: waiting for socket mode connection: %w", err)
	}
	return nil
}

// DisconnectSockets asks every connected app to reconnect, as Slack does
// periodically: it sends a disconnect message with reason (e.g. "warning"
// or "refresh_requested"), stops using the connections at once and closes
// them when the app does, or after a grace period. It returns the number of
// connections affected.
func (s *Server) DisconnectSockets(reason string) int {
	s.mu.Lock()
	socks := s.sockets
	s.sockets = nil
	s.broadcastLocked()
	s.mu.Unlock()
	msg := obj{"type": "disconnect", "reason": reason, "debug_info": obj{"host": "fakeslack"}}
	for _, sc := range socks {
		if err := sc.writeJSON(msg); err != nil {
			_ = sc.close()
			continue
		}
		time.AfterFunc(disconnectGrace, func() { _ = sc.close() })
	}
	return len(socks)
}
