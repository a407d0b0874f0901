package bot

import (
	"context"
	"fmt"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives slash commands, clicks and events over a Socket
// Mode connection until ctx ends, handling each exactly as the HTTP
// endpoints do and acknowledging each envelope with the same reply.
// Envelopes under way when ctx ends are finished before it returns.
func (b *Bot) RunSocketMode(ctx context.Context, client *socketmode.Client) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	errc := make(chan error, 1)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { errc <- client.RunContext(runCtx) }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("socket mode: %w", err)
		case evt, ok := <-client.Events:
			if !ok {
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
		ctx, cancel := context.WithTimeout(ctx, answerBudget)
		defer cancel()
		reply := b.Command(ctx, sc)
		if err := client.AckCtx(ctx, evt.Request.EnvelopeID, reply); err != nil {
			b.log.Warn("socket mode: ack slash command", "err", err)
		}
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		ctx, cancel := context.WithTimeout(ctx, answerBudget)
		defer cancel()
		b.Interaction(ctx, cb)
		if err := client.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
			b.log.Warn("socket mode: ack interaction", "err", err)
		}
	case socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			if err := client.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
				b.log.Warn("socket mode: ack event", "err", err)
			}
		}
		if ev, ok := evt.Data.(slackevents.EventsAPIEvent); ok {
			b.Event(ev)
		}
	}
}
