// Package bot is gatepass's Slack adapter. Inbound, it verifies and parses
// slash commands, button clicks, form submissions and events (over HTTP or
// Socket Mode, one code path) and calls the workflow; outbound, its
// Notifier renders Block Kit messages and calls the Slack Web API. It holds
// no state of its own beyond connection health.
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
	svc    *workflow.Service
	api    *slack.Client
	log    *slog.Logger
	render Renderer

	// replies tracks Slack calls made after an answer was sent (such as an
	// ephemeral explanation of a refused click), so shutdown can wait.
	replies sync.WaitGroup

	lastAck atomic.Int64 // unix nanoseconds of the last Socket Mode ack

	// Socket Mode connection health: connected now, and since when it has
	// been down (unix nanoseconds; 0 while connected or before the first
	// attempt).
	socketUp        atomic.Bool
	socketDownSince atomic.Int64

	bodies bodyBudget

	// OnAppTokenRejected, if set, hears that Slack refused SLACK_APP_TOKEN.
	OnAppTokenRejected func(err error)
}

// New returns a Bot.
func New(svc *workflow.Service, api *slack.Client, log *slog.Logger) *Bot {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bot{svc: svc, api: api, log: log, render: Renderer{Policy: svc.Policy()}, bodies: newBodyBudget(maxBodyBudget)}
}

// Wait blocks until replies already under way have been sent.
func (b *Bot) Wait() { b.replies.Wait() }

// Reply is the answer to a slash command: the body of the HTTP response, or
// the payload of the Socket Mode ack.
type Reply struct {
	ResponseType string        `json:"response_type"`
	Text         string        `json:"text"`
	Blocks       []slack.Block `json:"blocks,omitempty"`
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
		ResponseURL: sc.ResponseURL,
	}
	switch cmd.Kind {
	case CmdRequest:
		r, err := b.svc.Submit(ctx, sub)
		if err != nil {
			return b.refusal(err, "request", sc.Command)
		}
		text, blocks := b.render.Receipt(&r, b.svc.Policy().ApproverChannel)
		text += fmt.Sprintf(" It needs %d approval%s; `/access cancel %s` withdraws it.", r.ApprovalsRequired, plural(r.ApprovalsRequired), r.ID)
		blocks[0] = slackSection(text)
		return Reply{ResponseType: slack.ResponseTypeEphemeral, Text: text, Blocks: blocks}
	case CmdBreakGlass:
		r, err := b.svc.BreakGlass(ctx, sub)
		if err != nil {
			return b.refusal(err, "break-glass", sc.Command)
		}
		return ephemeral(":rotating_light: Break-glass access granted: *%s* on *%s* for %s (ticket %s), until %s. Your token arrives by direct message. The approvers have been alerted and will review this. Request `%s`.",
			escape(r.Level), escape(r.Resource), r.DurationString(), b.render.Ticket(&r), when(r.Grant.ExpiresAt), r.ID)
	case CmdRevoke:
		r, err := b.svc.Revoke(ctx, cmd.RequestID, sc.UserID)
		if err != nil {
			return b.refusal(err, "revoke", sc.Command)
		}
		if r.State == workflow.StateWithdrawn {
			return ephemeral("Withdrew request `%s` (*%s* access to *%s*, ticket %s).", r.ID, escape(r.Level), escape(r.Resource), b.render.Ticket(&r))
		}
		return ephemeral("Revoked `%s`: %s's *%s* access to *%s* (ticket %s) has ended; its token no longer works.", r.ID, user(r.Requester), escape(r.Level), escape(r.Resource), b.render.Ticket(&r))
	case CmdCancel:
		r, err := b.svc.Cancel(ctx, cmd.RequestID, sc.UserID)
		if err != nil {
			return b.refusal(err, "cancel", sc.Command)
		}
		if r.State == workflow.StateActive {
			return ephemeral("Cancelled the extension of `%s`; your access still ends %s.", r.ID, when(r.Grant.ExpiresAt))
		}
		return ephemeral("Cancelled request `%s` (*%s* access to *%s*, ticket %s).", r.ID, escape(r.Level), escape(r.Resource), b.render.Ticket(&r))
	case CmdExtend:
		r, err := b.svc.Extend(ctx, cmd.RequestID, sc.UserID, cmd.Duration, cmd.DurationText)
		if err != nil {
			return b.refusal(err, "extend", sc.Command)
		}
		return ephemeral("Asked to extend `%s` by %s; the request went to <#%s> and needs %d approval%s. Your access ends %s until then, and your token stays the same. `/access cancel %s` withdraws the ask.",
			r.ID, r.Extension.DurationString(), b.svc.Policy().ApproverChannel, r.ApprovalsRequired, plural(r.ApprovalsRequired), when(r.Grant.ExpiresAt), r.ID)
	case CmdList:
		rs, err := b.svc.List(ctx, sc.UserID)
		if err != nil {
			return b.refusal(err, "list", sc.Command)
		}
		ids := make([]string, 0, len(rs))
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		uses, err := b.svc.UsesOf(ctx, ids)
		if err != nil {
			b.log.Warn("read token use for list", "err", err)
		}
		return ephemeral("%s", b.listText(rs, uses, b.svc.Now()))
	case CmdReviews:
		return b.reviews(ctx, sc)
	case CmdHistory:
		return b.history(ctx, sc, cmd)
	case CmdAudit:
		return b.auditTrail(ctx, sc, cmd)
	case CmdForm:
		if err := b.openForm(ctx, sc.TriggerID, ""); err != nil {
			b.log.Info("could not open the request form; answering with the usage", "err", err)
			return ephemeral("%s", b.usage(sc.Command))
		}
		c := commandName(sc.Command)
		return ephemeral("Opening the request form… Or type it: `%s <resource> <level> <duration> <ticket> [reason…]`. `%s help` lists the rest: list, extend, cancel, revoke, break-glass.", c, c)
	default:
		return ephemeral("%s", b.usage(sc.Command))
	}
}

func slackSection(text string) slack.Block { return slack.NewSectionBlock(mrkdwn(text), nil, nil) }

func commandName(c string) string {
	if c == "" {
		return "/access"
	}
	return c
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
func (b *Bot) listText(rs []workflow.Request, uses map[string][]workflow.Use, now time.Time) string {
	if len(rs) == 0 {
		return "You have no pending requests and no active access."
	}
	var s strings.Builder
	s.WriteString("*Your requests and grants*\n")
	const maxListed = 25
	for i, r := range rs {
		if i == maxListed {
			fmt.Fprintf(&s, "…and %d more.\n", len(rs)-maxListed)
			break
		}
		fmt.Fprintf(&s, "• `%s` *%s* %s, ticket %s: ", r.ID, escape(r.Resource), escape(r.Level), b.render.Ticket(&r))
		if r.State == workflow.StatePending {
			fmt.Fprintf(&s, "pending, %d of %d approvals, %s left for a decision (asked for %s)\n",
				len(r.Approvals), r.ApprovalsRequired, workflow.FormatDuration(r.PendingUntil.Sub(now)), r.DurationString())
			continue
		}
		kind := "active"
		if r.BreakGlass {
			kind = "active (break-glass)"
		}
		fmt.Fprintf(&s, "%s, %s left, until %s; %s", kind, workflow.FormatDuration(r.Grant.ExpiresAt.Sub(now)), when(r.Grant.ExpiresAt), workflow.UseSummary(uses[r.ID]))
		if last := workflow.LastUse(uses[r.ID]); !last.IsZero() {
			fmt.Fprintf(&s, ", last %s", when(last))
		}
		if r.Extension.Pending() {
			fmt.Fprintf(&s, "; an extension of %s is waiting for approval", r.Extension.DurationString())
		}
		s.WriteString("\n")
	}
	s.WriteString("`/access revoke <id>` ends one early; `/access extend <id> <duration>` asks for more time; `/access cancel <id>` withdraws a pending request.")
	return s.String()
}

// usage is the help text, with the policy's resources.
func (b *Bot) usage(command string) string {
	command = commandName(command)
	p := b.svc.Policy()
	var s strings.Builder
	fmt.Fprintf(&s, "*Usage of %s*\n", command)
	fmt.Fprintf(&s, "• `%s <resource> <level> <duration> <ticket> [reason…]`: ask for access, e.g. `%s prod-db read 30m INC-123 slow queries`\n", command, command)
	fmt.Fprintf(&s, "• `%s` alone: the same, with a form\n", command)
	fmt.Fprintf(&s, "• `%s break-glass <resource> <level> <duration> <ticket> <reason…>`: emergency access at once; the approvers are alerted and review it afterwards\n", command)
	fmt.Fprintf(&s, "• `%s list`: your pending requests and active access, with the time left and how it was used\n", command)
	fmt.Fprintf(&s, "• `%s extend <request-id> <duration>`: ask for more time on access you hold (same token)\n", command)
	fmt.Fprintf(&s, "• `%s cancel <request-id>`: withdraw your pending request (or extension)\n", command)
	fmt.Fprintf(&s, "• `%s revoke <request-id>`: end a grant now, or withdraw a pending request\n", command)
	fmt.Fprintf(&s, "• approvers: `%s reviews` (break-glass waiting for review), `%s history [resource|@user] [page]`, `%s audit <ticket> [page]`\n", command, command, command)
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

// reviews lists the break-glass grants waiting for the caller's review.
func (b *Bot) reviews(ctx context.Context, sc slack.SlashCommand) Reply {
	if !b.svc.ApproverOfAny(ctx, sc.UserID) {
		return ephemeral("Only approvers review break-glass access.")
	}
	rs, err := b.svc.Reviews(ctx, sc.UserID)
	if err != nil {
		return b.refusal(err, "reviews", sc.Command)
	}
	if len(rs) == 0 {
		return ephemeral("No break-glass access is waiting for your review.")
	}
	var s strings.Builder
	fmt.Fprintf(&s, "*Break-glass access waiting for review* (%d)\n", len(rs))
	for i, r := range rs {
		if i == 25 {
			fmt.Fprintf(&s, "…and %d more.\n", len(rs)-25)
			break
		}
		state := "ended"
		if r.ActiveAt(b.svc.Now()) {
			state = "live until " + when(r.Grant.ExpiresAt)
		}
		fmt.Fprintf(&s, "• `%s` %s: *%s* %s, ticket %s, %s (%s): %s\n", r.ID, user(r.Requester), escape(r.Resource), escape(r.Level),
			b.render.Ticket(&r), when(r.CreatedAt), state, escapeMax(r.Reason, 200))
	}
	s.WriteString("Use *Mark Reviewed* on each alert in the approver channel.")
	return ephemeral("%s", s.String())
}

const historyPage = 20

// history lists past requests for approvers.
func (b *Bot) history(ctx context.Context, sc slack.SlashCommand, cmd Command) Reply {
	q := workflow.Query{Limit: historyPage * cmd.Page}
	subject := "every resource you approve"
	if cmd.Subject != "" {
		if _, ok := b.svc.Policy().Resources[cmd.Subject]; ok {
			q.Resource, subject = cmd.Subject, "`"+escape(cmd.Subject)+"`"
		} else if userRef.MatchString(cmd.Subject) {
			q.Requester, subject = cmd.Subject, user(cmd.Subject)
		} else {
			return ephemeral("%q is neither a resource nor a user; try `/access history prod-db` or `/access history @alice`.", cmd.Subject)
		}
	}
	rs, err := b.svc.History(ctx, sc.UserID, q)
	if err != nil {
		return b.refusal(err, "history", sc.Command)
	}
	start := historyPage * (cmd.Page - 1)
	if start >= len(rs) {
		if cmd.Page == 1 {
			return ephemeral("No requests for %s yet.", subject)
		}
		return ephemeral("No page %d: the history of %s has fewer entries.", cmd.Page, subject)
	}
	page := rs[start:min(len(rs), start+historyPage)]
	var s strings.Builder
	fmt.Fprintf(&s, "*History of %s*, page %d (newest first)\n", subject, cmd.Page)
	for _, r := range page {
		fmt.Fprintf(&s, "• %s `%s` %s *%s* %s for %s, ticket %s: %s\n", when(r.CreatedAt), r.ID, user(r.Requester), escape(r.Resource), escape(r.Level),
			r.DurationString(), b.render.Ticket(&r), historyState(&r))
	}
	if len(rs) == historyPage*cmd.Page {
		fmt.Fprintf(&s, "More: `/access history %s %d`.", cmd.Subject, cmd.Page+1)
	}
	return ephemeral("%s", strings.TrimSuffix(s.String(), "\n"))
}

func historyState(r *workflow.Request) string {
	s := string(r.State)
	switch r.State {
	case workflow.StateActive:
		s = "active"
	case workflow.StateWithdrawn:
		s = "cancelled"
	case workflow.StateTimedOut:
		s = "expired unanswered"
	case workflow.StateRevoked:
		s = "revoked by " + user(r.EndedBy)
	case workflow.StateDenied:
		s = "denied by " + user(r.DecidedBy)
	}
	if r.BreakGlass {
		s = "break-glass, " + s
	}
	return s
}

// auditTrail shows everything tied to one ticket.
func (b *Bot) auditTrail(ctx context.Context, sc slack.SlashCommand, cmd Command) Reply {
	evs, err := b.svc.TicketEvents(ctx, sc.UserID, cmd.Ticket)
	if err != nil {
		return b.refusal(err, "audit", sc.Command)
	}
	if len(evs) == 0 {
		return ephemeral("Nothing is recorded for ticket %s in the resources you approve.", escape(cmd.Ticket))
	}
	const per = 30
	start := per * (cmd.Page - 1)
	if start >= len(evs) {
		return ephemeral("No page %d: ticket %s has %d events.", cmd.Page, escape(cmd.Ticket), len(evs))
	}
	var s strings.Builder
	fmt.Fprintf(&s, "*Audit trail of ticket %s*, page %d of %d\n", escape(cmd.Ticket), cmd.Page, (len(evs)+per-1)/per)
	for _, e := range evs[start:min(len(evs), start+per)] {
		fmt.Fprintf(&s, "• %s `%s` %s *%s* %s", when(e.At), shortID(e.RequestID), user(e.Actor), escape(e.Action), escapeMax(e.Detail, 200))
		s.WriteString("\n")
	}
	if len(evs) > start+per {
		fmt.Fprintf(&s, "More: `/access audit %s %d`.", escape(cmd.Ticket), cmd.Page+1)
	}
	return ephemeral("%s", strings.TrimSuffix(s.String(), "\n"))
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
