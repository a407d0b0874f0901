package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives slash commands, clicks, form submissions and
// events over a Socket Mode connection until ctx ends, handling each
// exactly as the HTTP endpoints do and acknowledging each envelope with the
// same answer. Envelopes under way when ctx ends are answered before the
// connection is closed and it returns.
func (b *Bot) RunSocketMode(ctx context.Context, client *socketmode.Client) error {
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	b.socketDownSince.Store(b.svc.Now().UnixNano())
	// The connection outlives ctx until the envelopes under way are acked.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() { errc <- client.RunContext(runCtx) }()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			b.flushAcks()
			return nil
		case err := <-errc:
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("socket mode: %w", err)
		case evt, ok := <-client.Events:
			if !ok {
				wg.Wait()
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.socketEvent(context.WithoutCancel(ctx), client, evt)
			}()
		}
	}
}

// SocketHealthy reports whether the Socket Mode connection has been down
// for less than grace (true when Socket Mode is not in use).
func (b *Bot) SocketHealthy(now time.Time, grace time.Duration) bool {
	if b.socketUp.Load() {
		return true
	}
	since := b.socketDownSince.Load()
	return since == 0 || now.Sub(time.Unix(0, since)) < grace
}

func (b *Bot) socketDown() {
	if b.socketUp.Swap(false) || b.socketDownSince.Load() == 0 {
		b.socketDownSince.Store(b.svc.Now().UnixNano())
	}
}

func (b *Bot) socketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.log.Debug("socket mode: connecting to Slack")
	case socketmode.EventTypeConnected:
		b.socketUp.Store(true)
		b.socketDownSince.Store(0)
		b.log.Info("socket mode: connected")
	case socketmode.EventTypeDisconnect:
		// Slack refreshes connections routinely; the client reconnects.
		b.socketDown()
		b.log.Debug("socket mode: Slack asked to reconnect", "reason", describe(evt.Data))
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed, socketmode.EventTypeErrorBadMessage:
		b.socketDown()
		b.log.Warn("socket mode: connection trouble; reconnecting", "event", evt.Type, "reason", describe(evt.Data))
	case socketmode.EventTypeInvalidAuth:
		b.socketDown()
		err := errors.New("Slack refused SLACK_APP_TOKEN (invalid_auth)")
		b.log.Error("socket mode: Slack refused SLACK_APP_TOKEN")
		if b.OnAppTokenRejected != nil {
			b.OnAppTokenRejected(err)
		}
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, answerBudget)
		answer, _ := b.once(cctx, "envelope:"+evt.Request.EnvelopeID, func() []byte { return jsonBody(b.Command(cctx, sc)) })
		cancel()
		if answer == nil {
			answer = jsonBody(ephemeral("gatepass already received this command, or is busy; nothing more was done."))
		}
		b.ack(ctx, client, evt.Request.EnvelopeID, rawJSON(answer))
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, answerBudget)
		answer := b.answerInteraction(cctx, "envelope:"+evt.Request.EnvelopeID, cb)
		cancel()
		var payload any
		if len(answer) > 0 {
			payload = rawJSON(answer)
		}
		b.ack(ctx, client, evt.Request.EnvelopeID, payload)
	case socketmode.EventTypeEventsAPI:
		if evt.Request == nil {
			return
		}
		b.ack(ctx, client, evt.Request.EnvelopeID, nil)
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			return
		}
		key := "envelope:" + evt.Request.EnvelopeID
		if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok && cb.EventID != "" {
			key = "event:" + cb.EventID
		}
		b.once(ctx, key, func() []byte { b.Event(ev); return []byte{} })
	}
}

// describe renders what a Socket Mode event carries about a failure.
func describe(data any) string {
	switch d := data.(type) {
	case nil:
		return ""
	case error:
		return d.Error()
	default:
		return fmt.Sprint(d)
	}
}

// rawJSON is an ack payload already encoded.
type rawJSON []byte

// MarshalJSON returns the payload as it is.
func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// ack acknowledges an envelope, with its own short deadline so that a slow
// answer still gets acknowledged.
func (b *Bot) ack(ctx context.Context, client *socketmode.Client, envelopeID string, payload any) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	if err := client.AckCtx(ctx, envelopeID, payload); err != nil {
		b.log.Warn("socket mode: ack", "envelope", envelopeID, "err", err)
	}
	b.lastAck.Store(time.Now().UnixNano())
}

// flushAcks gives acknowledgements queued in the Socket Mode client a moment
// to reach the socket before the connection is closed. (The client queues
// an ack and writes it from another goroutine, and says nothing when done.)
func (b *Bot) flushAcks() {
	if since := time.Since(time.Unix(0, b.lastAck.Load())); since < ackFlush {
		time.Sleep(ackFlush - since)
	}
}

const (
	ackTimeout = 2 * time.Second        // sending one acknowledgement
	ackFlush   = 300 * time.Millisecond // the longest an ack can wait in the client's queue, locally
)
