package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatepass/gatepass/workflow"
	"github.com/slack-go/slack"
)

// The request form: `/access` with no text opens it. Its inputs are the
// typed command's fields, and a submission is exactly the typed request:
// the same checks, the same words when something is wrong, shown beside
// the field at fault.

// Form block IDs; they double as the names errors are reported under.
const (
	formCallback = "gatepass_request"
	blockResour  = "resource"
	blockLevel   = "level"
	blockDur     = "duration"
	blockTicket  = "ticket"
	blockReason  = "reason"
)

// maxOptions is Slack's limit on a select's options.
const maxOptions = 100

// RequestForm is the request modal. With resource chosen, the level select
// offers that resource's levels; otherwise every level name in the policy.
func (rd Renderer) RequestForm(resource string) slack.ModalViewRequest {
	p := rd.Policy
	var resOpts []*slack.OptionBlockObject
	var initial *slack.OptionBlockObject
	for _, name := range p.ResourceNames() {
		if len(resOpts) == maxOptions {
			break
		}
		label := name
		if d := p.Resources[name].Description; d != "" {
			label = name + " (" + d + ")"
		}
		o := slack.NewOptionBlockObject(name, plain(cut(label, 75)), nil)
		resOpts = append(resOpts, o)
		if name == resource {
			initial = o
		}
	}
	resSelect := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a resource"), ActionResource, resOpts...)
	if initial != nil {
		resSelect.InitialOption = initial
	}
	resInput := slack.NewInputBlock(blockResour, plain("Resource"), nil, resSelect)
	resInput.DispatchAction = true

	levels := map[string]bool{}
	var levelNames []string
	for _, name := range p.ResourceNames() {
		if resource != "" && name != resource {
			continue
		}
		for _, l := range p.Resources[name].LevelNames() {
			if !levels[l] {
				levels[l] = true
				levelNames = append(levelNames, l)
			}
		}
	}
	var lvlOpts []*slack.OptionBlockObject
	for _, l := range levelNames {
		if len(lvlOpts) == maxOptions {
			break
		}
		label := l
		if res, ok := p.Resources[resource]; ok {
			lv := res.Levels[l]
			label = fmt.Sprintf("%s (up to %s, %d approval%s)", l, workflow.FormatDuration(lv.MaxDuration), lv.Approvals, plural(lv.Approvals))
		}
		lvlOpts = append(lvlOpts, slack.NewOptionBlockObject(l, plain(cut(label, 75)), nil))
	}
	lvlSelect := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a level"), "level", lvlOpts...)
	// A new block ID makes Slack forget a level chosen for another resource.
	lvlBlock := blockLevel
	if resource != "" {
		lvlBlock = blockLevel + ":" + resource
	}

	dur := slack.NewPlainTextInputBlockElement(plain("30m"), "duration")
	ticket := slack.NewPlainTextInputBlockElement(plain("INC-123"), "ticket")
	reason := slack.NewPlainTextInputBlockElement(plain("What you will do, and why"), "reason")
	reason.Multiline = true
	reasonBlock := slack.NewInputBlock(blockReason, plain("Reason"), nil, reason)
	reasonBlock.Optional = true

	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: formCallback,
		Title:      plain("Request access"),
		Submit:     plain("Request"),
		Close:      plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			resInput,
			slack.NewInputBlock(lvlBlock, plain("Level"), nil, lvlSelect),
			slack.NewInputBlock(blockDur, plain("Duration"), plain("Such as 90s, 30m, 1h30m or 1d"), dur),
			slack.NewInputBlock(blockTicket, plain("Ticket"), plain("The incident or story this access is for"), ticket),
			reasonBlock,
		}},
	}
}

func cut(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// openForm opens the request form for a slash command's trigger.
func (b *Bot) openForm(ctx context.Context, triggerID, resource string) error {
	if triggerID == "" {
		return errors.New("no trigger_id")
	}
	_, err := b.api.OpenViewContext(ctx, triggerID, b.render.RequestForm(resource))
	return err
}

// resourceChosen offers the chosen resource's levels in the open form,
// after the click is acknowledged (an update by the view's hash needs no
// trigger).
func (b *Bot) resourceChosen(cb slack.InteractionCallback, a *slack.BlockAction) {
	if cb.View.ID == "" || cb.View.CallbackID != formCallback {
		return
	}
	resource := a.SelectedOption.Value
	if _, ok := b.svc.Policy().Resources[resource]; !ok {
		return
	}
	b.later(func(ctx context.Context) {
		if _, err := b.api.UpdateViewContext(ctx, b.render.RequestForm(resource), "", cb.View.Hash, cb.View.ID); err != nil {
			b.log.Info("update the request form", "err", err)
		}
	})
}

// formValue reads one input of a submitted form: a typed value or a
// selected option.
func formValue(v slack.View, block, action string) string {
	for bid, actions := range v.State.Values {
		if bid != block && !strings.HasPrefix(bid, block+":") {
			continue
		}
		if a, ok := actions[action]; ok {
			if a.SelectedOption.Value != "" {
				return strings.TrimSpace(a.SelectedOption.Value)
			}
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

// levelBlockID is the level input's block ID in the submitted view.
func levelBlockID(v slack.View) string {
	for bid := range v.State.Values {
		if bid == blockLevel || strings.HasPrefix(bid, blockLevel+":") {
			return bid
		}
	}
	return blockLevel
}

// submitForm files the request a form describes, or answers which fields
// are wrong.
func (b *Bot) submitForm(ctx context.Context, cb slack.InteractionCallback) []byte {
	v := cb.View
	if v.CallbackID != formCallback {
		return nil
	}
	errs := map[string]string{}
	sub := workflow.Submission{
		Requester: cb.User.ID,
		Resource:  formValue(v, blockResour, ActionResource),
		Level:     formValue(v, blockLevel, "level"),
		Ticket:    formValue(v, blockTicket, "ticket"),
		Reason:    formValue(v, blockReason, "reason"),
	}
	durText := formValue(v, blockDur, "duration")
	if d, err := workflow.ParseDuration(durText); err != nil {
		errs[blockDur] = fmt.Sprintf("%q is not a duration: use 90s, 30m, 1h30m or 1d", durText)
	} else {
		sub.Duration, sub.DurationText = d, durText
	}
	if len(errs) > 0 {
		return jsonBody(slack.NewErrorsViewSubmissionResponse(errs))
	}
	r, err := b.svc.Submit(ctx, sub)
	if err != nil {
		msg := workflow.UserMessage(err)
		if msg == "" {
			b.log.Error("form request failed", "err", err)
			msg = "Sorry, gatepass could not file that; please try again in a moment."
		}
		block := blockResour
		switch workflow.FieldOf(err) {
		case workflow.FieldLevel:
			block = levelBlockID(v)
		case workflow.FieldDuration:
			block = blockDur
		case workflow.FieldTicket:
			block = blockTicket
		case workflow.FieldReason:
			block = blockReason
		}
		return jsonBody(slack.NewErrorsViewSubmissionResponse(map[string]string{block: cut(msg, 500)}))
	}
	// The form closes; the requester gets the receipt by direct message.
	b.later(func(ctx context.Context) {
		text, blocks := b.render.Receipt(&r, b.svc.Policy().ApproverChannel)
		ch, ts, err := b.api.PostMessageContext(ctx, r.Requester, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		if err != nil {
			b.log.Warn("send the form's receipt", "request_id", r.ID, "err", err)
			return
		}
		// Kept up to date as the request moves, like a command's receipt.
		if err := b.svc.RememberMessages(ctx, r.ID, []workflow.MessageRef{{Purpose: workflow.MessageReceipt, Channel: ch, TS: ts}}); err != nil {
			b.log.Warn("remember the form's receipt", "request_id", r.ID, "err", err)
		}
	})
	return nil
}
