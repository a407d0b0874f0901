package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatepass/gatepass/workflow"
	"github.com/slack-go/slack"
)

// Interaction handles a button click, a select in the request form or a
// form submission. It acts at once and returns the body of the answer
// (nil for none): for a form submission, Slack's response_action. A
// refused click is explained to the clicker alone, after the answer.
func (b *Bot) Interaction(ctx context.Context, cb slack.InteractionCallback) []byte {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		b.blockAction(ctx, cb)
	case slack.InteractionTypeViewSubmission:
		return b.submitForm(ctx, cb)
	}
	return nil
}

// approverActions are the clicks only an approver makes; they count only
// when they come from a message gatepass posted for that very request (or
// the clicker's own Home tab).
var approverActions = map[string]func(r *workflow.Request, m workflow.MessageRef) bool{
	ActionApprove:    func(_ *workflow.Request, m workflow.MessageRef) bool { return m.Purpose == workflow.MessageApproval },
	ActionDeny:       func(_ *workflow.Request, m workflow.MessageRef) bool { return m.Purpose == workflow.MessageApproval },
	ActionReview:     func(_ *workflow.Request, m workflow.MessageRef) bool { return m.Purpose == workflow.MessageAlert },
	ActionExtApprove: isExtensionMessage,
	ActionExtDeny:    isExtensionMessage,
}

func isExtensionMessage(r *workflow.Request, m workflow.MessageRef) bool {
	return r.Extension != nil && m.Purpose == workflow.ExtensionPurpose(r.Extension.Seq)
}

// fromHome reports a click in the clicker's Home tab.
func fromHome(cb slack.InteractionCallback) bool {
	return cb.Container.Type == "view" && cb.View.Type == slack.VTHomeTab
}

// blockAction handles a click. Slack sends one action per click; gatepass
// acts on the first and ignores any others a payload carries.
func (b *Bot) blockAction(ctx context.Context, cb slack.InteractionCallback) {
	acts := cb.ActionCallback.BlockActions
	if len(acts) == 0 || acts[0] == nil {
		return
	}
	a := acts[0]
	if a.ActionID == ActionResource {
		b.resourceChosen(cb, a)
		return
	}
	clicker := cb.User.ID
	id := a.Value
	if clicker == "" || id == "" {
		return
	}
	r, err := b.svc.Get(ctx, id)
	if err != nil {
		b.refused(cb, a.ActionID, id, err)
		return
	}
	if allowed, ok := approverActions[a.ActionID]; ok || (a.ActionID == ActionRevoke && clicker != r.Requester) {
		if allowed == nil {
			allowed = func(_ *workflow.Request, m workflow.MessageRef) bool { return m.Purpose == workflow.MessageAlert }
		}
		ok := fromHome(cb) || fromMessageOf(cb, &r, allowed)
		// The message's reference is recorded right after Slack accepts
		// it: a click that quick may arrive first. Wait for it a moment,
		// unless another message is already recorded for the purpose, and
		// leave the decision itself a second of the answer's budget.
		budgetLeft := func() bool {
			d, has := ctx.Deadline()
			return ctx.Err() == nil && (!has || time.Until(d) > time.Second)
		}
		for i := 0; !ok && i < 8 && !hasPurpose(&r, allowed) && budgetLeft(); i++ {
			time.Sleep(200 * time.Millisecond)
			if fresh, err := b.svc.Get(ctx, id); err == nil {
				r = fresh
				ok = fromMessageOf(cb, &r, allowed)
			}
		}
		if !ok {
			b.log.Warn("click from a message that is not this request's; ignored", "action", a.ActionID, "request_id", id, "user", clicker,
				"channel", cb.Container.ChannelID, "message_ts", cb.Container.MessageTs)
			if hasPurpose(&r, allowed) && strayCopyOf(cb, &r) {
				b.supersede(cb, &r)
			}
			b.explain(cb, "That message is out of date or is not gatepass's message for this request, so nothing was changed. Use the current approval message, or your Home tab.")
			return
		}
	}
	switch a.ActionID {
	case ActionApprove:
		_, err = b.svc.Approve(ctx, id, clicker)
	case ActionDeny:
		_, err = b.svc.Deny(ctx, id, clicker)
	case ActionReview:
		_, err = b.svc.Review(ctx, id, clicker)
	case ActionRevoke:
		_, err = b.svc.Revoke(ctx, id, clicker)
	case ActionExtApprove:
		_, err = b.svc.ApproveExtension(ctx, id, clicker)
	case ActionExtDeny:
		_, err = b.svc.DenyExtension(ctx, id, clicker)
	case ActionCancel:
		_, err = b.svc.Cancel(ctx, id, clicker)
	case ActionExtend:
		_, err = b.svc.Extend(ctx, id, clicker, r.Duration, r.DurationText)
		if err == nil {
			b.explain(cb, fmt.Sprintf("Asked to extend `%s` by %s; the approvers will decide. Your token stays the same.", id, r.DurationString()))
		}
	default:
		return
	}
	if err != nil {
		b.refused(cb, a.ActionID, id, err)
	}
	if fromHome(cb) {
		b.later(func(ctx context.Context) { b.PublishHome(ctx, clicker) })
	}
}

// fromMessageOf reports whether the click came from a message gatepass
// posted for r with a purpose allowed for the action.
func fromMessageOf(cb slack.InteractionCallback, r *workflow.Request, allowed func(*workflow.Request, workflow.MessageRef) bool) bool {
	ch, ts := cb.Container.ChannelID, cb.Container.MessageTs
	if ch == "" {
		ch = cb.Channel.ID
	}
	if ts == "" {
		ts = cb.Message.Timestamp
	}
	if ch == "" || ts == "" {
		return false
	}
	for _, m := range r.Messages {
		if m.Channel == ch && m.TS == ts && allowed(r, m) {
			return true
		}
	}
	return false
}

// hasPurpose reports whether a message the action may come from is
// recorded for r.
func hasPurpose(r *workflow.Request, allowed func(*workflow.Request, workflow.MessageRef) bool) bool {
	for _, m := range r.Messages {
		if allowed(r, m) {
			return true
		}
	}
	return false
}

// strayCopyOf reports whether the clicked message is a copy of one of r's
// messages that gatepass posted but could not record: it names r, and it
// is not recorded for r (nor, being r's, for anything else).
func strayCopyOf(cb slack.InteractionCallback, r *workflow.Request) bool {
	ch, ts := cb.Container.ChannelID, cb.Container.MessageTs
	for _, m := range r.Messages {
		if m.Channel == ch && m.TS == ts {
			return false
		}
	}
	if ts == "" {
		return false
	}
	blocks, _ := json.Marshal(cb.Message.Blocks)
	return strings.Contains(cb.Message.Text, r.ID) || strings.Contains(string(blocks), r.ID)
}

// supersede replaces a stray copy of a request's message (one gatepass
// posted but could not record) with a pointer to the current one, so its
// buttons can do no harm.
func (b *Bot) supersede(cb slack.InteractionCallback, r *workflow.Request) {
	if cb.ResponseURL == "" || cb.Container.IsEphemeral || fromHome(cb) {
		return
	}
	text := fmt.Sprintf("This copy of request `%s` is out of date; it is shown in the current approval message, and in the Home tab of gatepass.", r.ID)
	b.later(func(ctx context.Context) {
		_, _, err := b.api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText(text, false))
		if err != nil {
			b.log.Warn("replace an out-of-date message", "request_id", r.ID, "err", err)
		}
	})
}

func (b *Bot) refused(cb slack.InteractionCallback, action, id string, err error) {
	msg := workflow.UserMessage(err)
	if msg == "" {
		b.log.Error("button click failed", "action", action, "request_id", id, "user", cb.User.ID, "err", err)
		msg = "Sorry, gatepass could not record that; please try again in a moment."
	} else {
		b.log.Info("button click refused", "action", action, "request_id", id, "user", cb.User.ID, "why", msg)
	}
	b.explain(cb, msg)
}

// later runs fn after the answer to Slack, tracked for shutdown.
func (b *Bot) later(fn func(ctx context.Context)) {
	b.replies.Add(1)
	go func() {
		defer b.replies.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		fn(ctx)
	}()
}

// explain tells the clicker, and only the clicker, why nothing happened
// (or what did): ephemerally where the click was, else by direct message.
func (b *Bot) explain(cb slack.InteractionCallback, text string) {
	channel := cb.Container.ChannelID
	if channel == "" {
		channel = cb.Channel.ID
	}
	b.later(func(ctx context.Context) {
		var err error
		switch {
		case channel != "" && !fromHome(cb):
			_, err = b.api.PostEphemeralContext(ctx, channel, cb.User.ID, slack.MsgOptionText(text, false))
		case cb.ResponseURL != "":
			_, _, err = b.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cb.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText(text, false))
		default:
			_, _, err = b.api.PostMessageContext(ctx, cb.User.ID, slack.MsgOptionText(text, false))
		}
		if err != nil {
			b.log.Warn("explain a click", "user", cb.User.ID, "err", err)
		}
	})
}

// jsonBody encodes a response body.
func jsonBody(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return data
}
