// Package bot is gatepass's Slack adapter. Inbound, it verifies and parses
// slash commands and button clicks (over HTTP or Socket Mode, one code path)
// and calls the workflow; outbound, its Notifier renders Block Kit messages
// and calls the Slack Web API. It holds no state of its own.
package bot

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gatepass/gatepass/workflow"
	"github.com/slack-go/slack"
)

// Bot answers Slack.
type Bot struct {
	svc *workflow.Service
	api *slack.Client
	log *slog.Logger

	// replies tracks Slack calls made after an answer was sent (such as an
	// ephemeral explanation of a refused click), so shutdown can wait.
	replies sync.WaitGroup

	lastAck atomic.Int64 // unix nanoseconds of the last Socket Mode ack
}

// New returns a Bot.
func New(svc *workflow.Service, api *slack.Client, log *slog.Logger) *Bot {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bot{svc: svc, api: api, log: log}
}

// Wait blocks until replies already under way have been sent.
func (b *Bot) Wait() { b.replies.Wait() }

// Reply is the answer to a slash command: the body of the HTTP response, or
// the payload of the Socket Mode ack.
type Reply struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

// maxReplyText bounds a reply, well inside Slack's limits (a Socket Mode
// ack may carry at most 20 KB).
const maxReplyText = 12000

func ephemeral(format string, args ...any) Reply {
	return Reply{ResponseType: slack.ResponseTypeEphemeral, Text: truncate(fmt.Sprintf(format, args...), maxReplyText)}
}

// truncate shortens s to at most n bytes, on a line or rune boundary,
// saying that it did.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "\n…"
	cut := n - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if nl := strings.LastIndexByte(s[:cut], '\n'); nl > cut/2 {
		cut = nl
	}
	return s[:cut] + more
}

// Command answers one /access invocation.
func (b *Bot) Command(ctx context.Context, sc slack.SlashCommand) Reply {
	cmd, err := ParseCommand(sc.Text)
	if err != nil {
		return ephemeral("%s.\n\n%s", capitalize(err.Error()), b.usage(sc.Command))
	}
	if sc.UserID == "" {
		return ephemeral("Slack did not say who you are; try again.")
	}
	sub := workflow.Submission{
		Requester: sc.UserID, Resource: cmd.Resource, Level: cmd.Level,
		Duration: cmd.Duration, DurationText: cmd.DurationText, Ticket: cmd.Ticket, Reason: cmd.Reason,
	}
	switch cmd.Kind {
	case CmdRequest:
		r, err := b.svc.Submit(ctx, sub)
		if err != nil {
			return b.refusal(err, "request", sc.Command)
		}
		return ephemeral("Request `%s` sent to <#%s> for approval: *%s* access to *%s* for %s (ticket %s). It needs %d approval%s; you'll get a direct message when it is decided. `/access revoke %s` withdraws it.",
			r.ID, b.svc.Policy().ApproverChannel, escape(r.Level), escape(r.Resource), r.DurationString(), escape(r.Ticket), r.ApprovalsRequired, plural(r.ApprovalsRequired), r.ID)
	case CmdBreakGlass:
		r, err := b.svc.BreakGlass(ctx, sub)
		if err != nil {
			return b.refusal(err, "break-glass", sc.Command)
		}
		return ephemeral(":rotating_light: Break-glass access granted: *%s* on *%s* for %s (ticket %s), until %s. Your token arrives by direct message. The approvers have been alerted and will review this. Request `%s`.",
			escape(r.Level), escape(r.Resource), r.DurationString(), escape(r.Ticket), when(r.Grant.ExpiresAt), r.ID)
	case CmdRevoke:
		r, err := b.svc.Revoke(ctx, cmd.RequestID, sc.UserID)
		if err != nil {
			return b.refusal(err, "revoke", sc.Command)
		}
		if r.State == workflow.StateWithdrawn {
			return ephemeral("Withdrew request `%s` (*%s* access to *%s*, ticket %s).", r.ID, escape(r.Level), escape(r.Resource), escape(r.Ticket))
		}
		return ephemeral("Revoked `%s`: %s's *%s* access to *%s* (ticket %s) has ended; its token no longer works.", r.ID, user(r.Requester), escape(r.Level), escape(r.Resource), escape(r.Ticket))
	case CmdList:
		rs, err := b.svc.List(ctx, sc.UserID)
		if err != nil {
			return b.refusal(err, "list", sc.Command)
		}
		return ephemeral("%s", listText(rs, b.svc.Now()))
	default:
		return ephemeral("%s", b.usage(sc.Command))
	}
}

// refusal turns a workflow error into the user's reply; internal faults are
// logged and shown only as a generic apology.
func (b *Bot) refusal(err error, what, command string) Reply {
	if msg := workflow.UserMessage(err); msg != "" {
		if workflow.KindOf(err) == workflow.KindInvalid {
			return ephemeral("%s\n\n%s", msg, b.usage(command))
		}
		return ephemeral("%s", msg)
	}
	b.log.Error("command failed", "command", what, "err", err)
	return ephemeral("Sorry, gatepass could not complete that (%s); please try again in a moment.", what)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// listText renders the caller's pending requests and live grants.
func listText(rs []workflow.Request, now time.Time) string {
	if len(rs) == 0 {
		return "You have no pending requests and no active access."
	}
	var b strings.Builder
	b.WriteString("*Your requests and grants*\n")
	const maxListed = 25
	for i, r := range rs {
		if i == maxListed {
			fmt.Fprintf(&b, "…and %d more.\n", len(rs)-maxListed)
			break
		}
		fmt.Fprintf(&b, "• `%s` *%s* %s, ticket %s: ", r.ID, escape(r.Resource), escape(r.Level), escape(r.Ticket))
		if r.State == workflow.StatePending {
			fmt.Fprintf(&b, "pending, %d of %d approvals, %s left for a decision (asked for %s)\n",
				len(r.Approvals), r.ApprovalsRequired, workflow.FormatDuration(r.PendingUntil.Sub(now)), r.DurationString())
			continue
		}
		kind := "active"
		if r.BreakGlass {
			kind = "active (break-glass)"
		}
		fmt.Fprintf(&b, "%s, %s left, until %s\n", kind, workflow.FormatDuration(r.Grant.ExpiresAt.Sub(now)), when(r.Grant.ExpiresAt))
	}
	b.WriteString("`/access revoke <id>` ends one early.")
	return b.String()
}

// usage is the help text, with the policy's resources.
func (b *Bot) usage(command string) string {
	if command == "" {
		command = "/access"
	}
	p := b.svc.Policy()
	var s strings.Builder
	fmt.Fprintf(&s, "*Usage of %s*\n", command)
	fmt.Fprintf(&s, "• `%s <resource> <level> <duration> <ticket> [reason…]`: ask for access, e.g. `%s prod-db read 30m INC-123 slow queries`\n", command, command)
	fmt.Fprintf(&s, "• `%s break-glass <resource> <level> <duration> <ticket> <reason…>`: emergency access at once; the approvers are alerted and review it afterwards\n", command)
	fmt.Fprintf(&s, "• `%s revoke <request-id>`: end a grant now, or withdraw a pending request\n", command)
	fmt.Fprintf(&s, "• `%s list`: your pending requests and active access, with the time left\n", command)
	fmt.Fprintf(&s, "• `%s help`: this message\n", command)
	fmt.Fprintf(&s, "Durations look like `90s`, `30m`, `1h30m` or `1d`; the shortest is %s.\n", workflow.FormatDuration(p.MinDuration))
	s.WriteString("*Resources*\n")
	const maxListed = 30
	for i, name := range p.ResourceNames() {
		if i == maxListed {
			fmt.Fprintf(&s, "…and %d more.\n", len(p.Resources)-maxListed)
			break
		}
		res := p.Resources[name]
		levels := make([]string, 0, len(res.Levels))
		for _, ln := range res.LevelNames() {
			l := res.Levels[ln]
			levels = append(levels, fmt.Sprintf("%s up to %s, %d approval%s", ln, workflow.FormatDuration(l.MaxDuration), l.Approvals, plural(l.Approvals)))
		}
		sort.Strings(levels)
		fmt.Fprintf(&s, "• `%s`", name)
		if res.Description != "" {
			fmt.Fprintf(&s, " (%s)", escape(res.Description))
		}
		fmt.Fprintf(&s, ": %s", strings.Join(levels, "; "))
		if res.BreakGlass {
			s.WriteString("; break-glass allowed")
		}
		if res.TicketPattern != nil {
			fmt.Fprintf(&s, "; tickets match `%s`", escape(res.TicketPattern.String()))
		}
		s.WriteString("\n")
	}
	return strings.TrimSuffix(s.String(), "\n")
}

// Interaction handles a button click. It decides at once (the caller then
// acknowledges Slack); a refused click is explained to the clicker alone,
// after the acknowledgement.
func (b *Bot) Interaction(ctx context.Context, cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a == nil {
			continue
		}
		var err error
		switch a.ActionID {
		case ActionApprove:
			_, err = b.svc.Approve(ctx, a.Value, cb.User.ID)
		case ActionDeny:
			_, err = b.svc.Deny(ctx, a.Value, cb.User.ID)
		case ActionReview:
			_, err = b.svc.Review(ctx, a.Value, cb.User.ID)
		default:
			continue
		}
		if err == nil {
			continue
		}
		msg := workflow.UserMessage(err)
		if msg == "" {
			b.log.Error("button click failed", "action", a.ActionID, "request", a.Value, "user", cb.User.ID, "err", err)
			msg = "Sorry, gatepass could not record that; please try again in a moment."
		} else {
			b.log.Info("button click refused", "action", a.ActionID, "request", a.Value, "user", cb.User.ID, "why", msg)
		}
		b.explain(cb, msg)
	}
}

// explain tells the clicker, and only the clicker, why nothing happened.
func (b *Bot) explain(cb slack.InteractionCallback, text string) {
	channel := cb.Container.ChannelID
	if channel == "" {
		channel = cb.Channel.ID
	}
	b.replies.Add(1)
	go func() {
		defer b.replies.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		if channel != "" {
			_, err = b.api.PostEphemeralContext(ctx, channel, cb.User.ID, slack.MsgOptionText(text, false))
		} else if cb.ResponseURL != "" {
			_, _, err = b.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cb.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText(text, false))
		}
		if err != nil {
			b.log.Warn("explain refused click", "user", cb.User.ID, "err", err)
		}
	}()
}
