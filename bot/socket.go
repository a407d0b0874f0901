package bot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives slash commands, clicks and events over a Socket
// Mode connection until ctx ends, handling each exactly as the HTTP
// endpoints do and acknowledging each envelope with the same reply.
// Envelopes under way when ctx ends are answered before the connection is
// closed and it returns.
func (b *Bot) RunSocketMode(ctx context.Context, client *socketmode.Client) error {
	var wg sync.WaitGroup
	errc := make(chan error, 1)
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

func (b *Bot) socketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.log.Info("socket mode: connecting to Slack")
	case socketmode.EventTypeConnected:
		b.log.Info("socket mode: connected")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		b.log.Warn("socket mode: connection trouble; reconnecting", "event", evt.Type)
	case socketmode.EventTypeInvalidAuth:
		b.log.Error("socket mode: Slack refused SLACK_APP_TOKEN")
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, answerBudget)
		reply := b.Command(cctx, sc)
		cancel()
		b.ack(ctx, client, evt.Request.EnvelopeID, reply)
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, answerBudget)
		b.Interaction(cctx, cb)
		cancel()
		b.ack(ctx, client, evt.Request.EnvelopeID, nil)
	case socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			b.ack(ctx, client, evt.Request.EnvelopeID, nil)
		}
		if ev, ok := evt.Data.(slackevents.EventsAPIEvent); ok {
			b.Event(ev)
		}
	}
}

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
