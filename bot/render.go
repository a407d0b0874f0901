package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatepass/gatepass/workflow"
	"github.com/slack-go/slack"
)

// Action IDs of the buttons gatepass puts on messages and views. Each
// button's value is the request ID alone; the workflow decides who may do
// what.
const (
	ActionApprove    = "approve"
	ActionDeny       = "deny"
	ActionReview     = "review"
	ActionRevoke     = "revoke"
	ActionExtApprove = "ext_approve"
	ActionExtDeny    = "ext_deny"
	ActionCancel     = "cancel"
	ActionExtend     = "extend"
	ActionResource   = "resource" // the resource select of the request form
)

// Renderer builds gatepass's Slack messages: pure functions of a request's
// state and the policy (for ticket links and approvers).
type Renderer struct {
	Policy *workflow.Policy
}

// escape makes user-supplied text inert in Slack mrkdwn: no mentions, no
// channel pings, no disguised links.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// maxFieldText bounds escaped user text in a Block Kit field (Slack allows
// 2,000 characters per field).
const maxFieldText = 1800

// escapeMax escapes s and, if that makes it longer than n bytes, cuts it
// at a rune boundary that does not split an entity, ending with "…".
func escapeMax(s string, n int) string {
	e := escape(s)
	if len(e) <= n {
		return e
	}
	var b strings.Builder
	for _, r := range s {
		piece := escape(string(r))
		if b.Len()+len(piece) > n-len("…") {
			break
		}
		b.WriteString(piece)
	}
	return b.String() + "…"
}

// user mentions a Slack user, or names an operator.
func user(id string) string {
	if strings.HasPrefix(id, "U") || strings.HasPrefix(id, "W") {
		return "<@" + id + ">"
	}
	return "`" + escape(id) + "`"
}

// mention notifies a user or a user group.
func mention(id string) string {
	if strings.HasPrefix(id, "S") {
		return "<!subteam^" + id + ">"
	}
	return "<@" + id + ">"
}

// users mentions several users: "<@A>, <@B>".
func users(ids []string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = user(id)
	}
	return strings.Join(parts, ", ")
}

// when renders a time the way Slack localises it for each reader, with a
// UTC fallback.
func when(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

func button(action, id, text, style string) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(action, id, plain(text))
	if style != "" {
		b.Style = slack.Style(style)
	}
	return b
}

// Ticket renders a request's ticket: a link when the policy has a
// ticket_url, plain (escaped) text otherwise.
func (rd Renderer) Ticket(r *workflow.Request) string {
	if rd.Policy != nil {
		if u := rd.Policy.TicketLink(r.Resource, r.Ticket); u != "" {
			return "<" + escape(u) + "|" + escape(r.Ticket) + ">"
		}
	}
	return escape(r.Ticket)
}

// approverMentions notifies a resource's approvers.
func (rd Renderer) approverMentions(resource string) string {
	if rd.Policy == nil {
		return ""
	}
	res, ok := rd.Policy.Resources[resource]
	if !ok {
		return ""
	}
	parts := make([]string, len(res.Approvers))
	for i, a := range res.Approvers {
		parts[i] = mention(a)
	}
	return strings.Join(parts, " ")
}

// approvers lists who approved: "<@A>, <@B>".
func approvers(as []workflow.Approval) string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.Approver
	}
	return users(ids)
}

// askFields are the facts of a request, as section fields.
func (rd Renderer) askFields(r *workflow.Request) []*slack.TextBlockObject {
	reason := r.Reason
	if reason == "" {
		reason = "_none given_"
	} else {
		reason = escapeMax(reason, maxFieldText)
	}
	return []*slack.TextBlockObject{
		mrkdwn("*Resource*\n" + escape(r.Resource)),
		mrkdwn("*Level*\n" + escape(r.Level)),
		mrkdwn("*Duration*\n" + r.DurationString()),
		mrkdwn("*Ticket*\n" + rd.Ticket(r)),
		mrkdwn("*Reason*\n" + reason),
		mrkdwn("*Requester*\n" + user(r.Requester)),
	}
}

// approvalStatus says where a request stands, for its approval message.
func approvalStatus(r *workflow.Request) string {
	switch r.State {
	case workflow.StatePending:
		if len(r.Approvals) == 0 {
			return fmt.Sprintf(":hourglass_flowing_sand: Waiting for approval: 0 of %d. Unanswered, it expires %s.", r.ApprovalsRequired, when(r.PendingUntil))
		}
		return fmt.Sprintf(":hourglass_flowing_sand: %d of %d approvals (%s). Waiting for %d more.", len(r.Approvals), r.ApprovalsRequired, approvers(r.Approvals), r.ApprovalsRequired-len(r.Approvals))
	case workflow.StateActive:
		s := fmt.Sprintf(":white_check_mark: Approved by %s. Access until %s.", approvers(r.Approvals), when(r.Grant.ExpiresAt))
		if e := r.Extension; e != nil && e.State == workflow.ExtensionApproved {
			s += fmt.Sprintf(" (Extended by %s.)", e.DurationString())
		}
		return s
	case workflow.StateDenied:
		s := fmt.Sprintf(":x: Denied by %s.", user(r.DecidedBy))
		if len(r.Approvals) > 0 {
			s += fmt.Sprintf(" (It had %d of %d approvals: %s.)", len(r.Approvals), r.ApprovalsRequired, approvers(r.Approvals))
		}
		return s
	case workflow.StateWithdrawn:
		if r.EndedBy == r.Requester {
			return fmt.Sprintf(":leftwards_arrow_with_hook: Request cancelled by %s before a decision.", user(r.EndedBy))
		}
		return fmt.Sprintf(":leftwards_arrow_with_hook: Withdrawn by %s before a decision.", user(r.EndedBy))
	case workflow.StateTimedOut:
		return fmt.Sprintf(":hourglass: Expired: no decision within %s. The requester was told.", workflow.FormatDuration(r.PendingUntil.Sub(r.CreatedAt)))
	case workflow.StateExpired:
		return fmt.Sprintf(":white_check_mark: Approved by %s. :hourglass: Access expired %s.", approvers(r.Approvals), when(r.Grant.ExpiresAt))
	case workflow.StateRevoked:
		return fmt.Sprintf(":white_check_mark: Approved by %s. :no_entry: Revoked by %s %s.", approvers(r.Approvals), user(r.EndedBy), when(r.EndedAt))
	case workflow.StateFailed:
		return fmt.Sprintf(":warning: Approved by %s, but the grant failed: %s. Access has ended.", approvers(r.Approvals), escape(r.EndReason))
	}
	return string(r.State)
}

// ApprovalMessage renders the message approvers decide on: the ask, where
// it stands, and, while it is pending, Approve and Deny buttons.
func (rd Renderer) ApprovalMessage(r *workflow.Request) (text string, blocks []slack.Block) {
	status := approvalStatus(r)
	head := fmt.Sprintf("%s asks for *%s* access to *%s* for *%s* (ticket %s).",
		user(r.Requester), escape(r.Level), escape(r.Resource), r.DurationString(), rd.Ticket(r))
	text = fmt.Sprintf("Access request: %s Reason: %s. %s", head, reasonText(r), status)
	blocks = []slack.Block{
		slack.NewSectionBlock(mrkdwn(":key: "+head), nil, nil),
		slack.NewSectionBlock(nil, rd.askFields(r), nil),
		slack.NewSectionBlock(mrkdwn(status), nil, nil),
	}
	if r.State == workflow.StatePending {
		blocks = append(blocks, slack.NewActionBlock("decide",
			button(ActionApprove, r.ID, "Approve", string(slack.StylePrimary)),
			button(ActionDeny, r.ID, "Deny", string(slack.StyleDanger))))
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("Request `%s` · needs %d approval%s · requested %s", r.ID, r.ApprovalsRequired, plural(r.ApprovalsRequired), when(r.CreatedAt)))))
	return text, blocks
}

// ExtensionMessage renders the message approvers decide an extension on.
func (rd Renderer) ExtensionMessage(r *workflow.Request) (text string, blocks []slack.Block) {
	e := r.Extension
	if e == nil {
		return "", nil
	}
	head := fmt.Sprintf("%s asks to extend *%s* access to *%s* by *%s* (ticket %s).",
		user(r.Requester), escape(r.Level), escape(r.Resource), e.DurationString(), rd.Ticket(r))
	var status string
	switch e.State {
	case workflow.ExtensionPending:
		if r.Grant != nil {
			status = fmt.Sprintf(":hourglass_flowing_sand: %d of %d approvals. Access now ends %s; approved, it would end %s.",
				len(e.Approvals), r.ApprovalsRequired, when(r.Grant.ExpiresAt), when(r.Grant.ExpiresAt.Add(e.Duration)))
		}
	case workflow.ExtensionApproved:
		status = fmt.Sprintf(":white_check_mark: Extension approved by %s. Access until %s.", approvers(e.Approvals), when(r.Grant.ExpiresAt))
	case workflow.ExtensionDenied:
		status = fmt.Sprintf(":x: Extension denied by %s.", user(e.DecidedBy))
	case workflow.ExtensionTimedOut:
		status = ":hourglass: Extension expired without a decision."
	case workflow.ExtensionCancelled:
		status = ":leftwards_arrow_with_hook: Extension cancelled."
	}
	if r.State != workflow.StateActive && e.State == workflow.ExtensionPending {
		status = ":leftwards_arrow_with_hook: The grant has ended; nothing to extend."
	}
	text = fmt.Sprintf("Extension request: %s %s", head, status)
	blocks = []slack.Block{
		slack.NewSectionBlock(mrkdwn(":stopwatch: "+head), nil, nil),
		slack.NewSectionBlock(mrkdwn(status), nil, nil),
	}
	if e.State == workflow.ExtensionPending && r.State == workflow.StateActive {
		blocks = append(blocks, slack.NewActionBlock("decide_extension",
			button(ActionExtApprove, r.ID, "Approve", string(slack.StylePrimary)),
			button(ActionExtDeny, r.ID, "Deny", string(slack.StyleDanger))))
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("Request `%s` · extension %d · needs %d approval%s", r.ID, e.Seq, r.ApprovalsRequired, plural(r.ApprovalsRequired)))))
	return text, blocks
}

func reasonText(r *workflow.Request) string {
	if r.Reason == "" {
		return "none given"
	}
	return escape(r.Reason)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// AlertMessage renders a break-glass alert: loud, mentioning the
// resource's approvers, with Mark Reviewed until an approver has reviewed
// it and Revoke while the access lasts.
func (rd Renderer) AlertMessage(r *workflow.Request) (text string, blocks []slack.Block) {
	head := fmt.Sprintf(":rotating_light: *BREAK-GLASS*: %s opened *%s* access to *%s* for *%s* without approval (ticket %s).",
		user(r.Requester), escape(r.Level), escape(r.Resource), r.DurationString(), rd.Ticket(r))
	var state string
	switch r.State {
	case workflow.StateActive:
		state = fmt.Sprintf("Access is live until %s.", when(r.Grant.ExpiresAt))
	case workflow.StateExpired:
		state = fmt.Sprintf(":hourglass: Access expired %s.", when(r.Grant.ExpiresAt))
	case workflow.StateRevoked:
		state = fmt.Sprintf(":no_entry: Revoked by %s %s.", user(r.EndedBy), when(r.EndedAt))
	case workflow.StateFailed:
		state = fmt.Sprintf(":warning: The grant failed: %s.", escape(r.EndReason))
	}
	review := ":eyes: *Review needed*: an approver of " + escape(r.Resource) + " must review this."
	if m := rd.approverMentions(r.Resource); m != "" {
		review += " " + m
	}
	if r.ReviewedBy != "" {
		review = fmt.Sprintf(":white_check_mark: Reviewed by %s %s.", user(r.ReviewedBy), when(r.ReviewedAt))
	}
	text = fmt.Sprintf("BREAK-GLASS: %s opened %s access to %s for %s without approval (ticket %s). Reason: %s. %s %s",
		user(r.Requester), escape(r.Level), escape(r.Resource), r.DurationString(), rd.Ticket(r), reasonText(r), state, review)
	blocks = []slack.Block{
		slack.NewHeaderBlock(plain(":rotating_light: Break-glass access")),
		slack.NewSectionBlock(mrkdwn(head), nil, nil),
		slack.NewSectionBlock(nil, rd.askFields(r), nil),
		slack.NewSectionBlock(mrkdwn(strings.TrimSpace(state+" "+review)), nil, nil),
	}
	var buttons []slack.BlockElement
	if r.ReviewedBy == "" {
		// The review button's text holds the word "Review", capital R,
		// as the contract asks.
		buttons = append(buttons, button(ActionReview, r.ID, "Mark Reviewed", string(slack.StylePrimary)))
	}
	if r.State == workflow.StateActive {
		buttons = append(buttons, button(ActionRevoke, r.ID, "Revoke", string(slack.StyleDanger)))
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock("review", buttons...))
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("Request `%s` · granted %s", r.ID, when(r.CreatedAt)))))
	return text, blocks
}

// TokenMessage is the requester's direct message with the token (and the
// provider's credential): the one place their text ever appears.
func (rd Renderer) TokenMessage(r *workflow.Request, token string, cred workflow.Credential) string {
	var head string
	if r.BreakGlass {
		head = fmt.Sprintf(":rotating_light: Break-glass access granted: *%s* on *%s* for %s (ticket %s). The approvers have been alerted and will review it.",
			escape(r.Level), escape(r.Resource), r.DurationString(), rd.Ticket(r))
	} else {
		head = fmt.Sprintf(":white_check_mark: Your request for *%s* access to *%s* (ticket %s) was approved by %s.",
			escape(r.Level), escape(r.Resource), rd.Ticket(r), approvers(r.Approvals))
	}
	msg := fmt.Sprintf("%s\nYour token, shown only here and only once:\n```%s```", head, token)
	if cred.Secret != "" {
		label := cred.Label
		if label == "" {
			label = "Credential"
		}
		msg += fmt.Sprintf("\n%s, also shown only here:\n```%s```", escape(label), cred.Secret)
	}
	if cred.Hint != "" {
		msg += fmt.Sprintf("\n```%s```", cred.Hint)
	}
	return msg + fmt.Sprintf("\nScope `%s`, valid until %s (%s). Request `%s`; `/access revoke %s` ends it early, `/access extend %s <duration>` asks for more time.",
		r.Scope(), when(r.Grant.ExpiresAt), r.DurationString(), r.ID, r.ID, r.ID)
}

// DeniedMessage tells the requester their request was denied.
func (rd Renderer) DeniedMessage(r *workflow.Request) string {
	return fmt.Sprintf(":x: Your request for *%s* access to *%s* (ticket %s) was denied by %s.",
		escape(r.Level), escape(r.Resource), rd.Ticket(r), user(r.DecidedBy))
}

// TimedOutMessage tells the requester nobody decided in time.
func (rd Renderer) TimedOutMessage(r *workflow.Request) string {
	return fmt.Sprintf(":hourglass: Your request for *%s* access to *%s* (ticket %s) expired: no approver decided within %s. Ask again if you still need access.",
		escape(r.Level), escape(r.Resource), rd.Ticket(r), workflow.FormatDuration(r.PendingUntil.Sub(r.CreatedAt)))
}

// ExpiredDM tells the requester their grant has expired.
func (rd Renderer) ExpiredDM(r *workflow.Request, uses []workflow.Use) string {
	return fmt.Sprintf(":hourglass: Your *%s* access to *%s* (ticket %s) expired %s. Its token no longer works. It was %s.",
		escape(r.Level), escape(r.Resource), rd.Ticket(r), when(r.Grant.ExpiresAt), workflow.UseSummary(uses))
}

// ExpiredAnnouncement tells the announce channel a grant has expired.
func (rd Renderer) ExpiredAnnouncement(r *workflow.Request, uses []workflow.Use) string {
	kind := ""
	if r.BreakGlass {
		kind = " break-glass"
	}
	return fmt.Sprintf(":hourglass: %s's%s *%s* access to *%s* (ticket %s) expired %s. It was %s.",
		user(r.Requester), kind, escape(r.Level), escape(r.Resource), rd.Ticket(r), when(r.Grant.ExpiresAt), workflow.UseSummary(uses))
}

// RevokedAnnouncement tells the announce channel a grant was revoked or a
// pending request withdrawn.
func (rd Renderer) RevokedAnnouncement(r *workflow.Request, uses []workflow.Use) string {
	if r.State == workflow.StateWithdrawn {
		verb := "withdrawn by " + user(r.EndedBy)
		if r.EndedBy == r.Requester {
			verb = "cancelled"
		}
		return fmt.Sprintf(":leftwards_arrow_with_hook: %s's request for *%s* access to *%s* (ticket %s) was %s.",
			user(r.Requester), escape(r.Level), escape(r.Resource), rd.Ticket(r), verb)
	}
	why := ""
	if r.EndReason != "" {
		why = " (" + escape(r.EndReason) + ")"
	}
	return fmt.Sprintf(":no_entry: %s's *%s* access to *%s* (ticket %s) was revoked by %s%s. It was %s.",
		user(r.Requester), escape(r.Level), escape(r.Resource), rd.Ticket(r), user(r.EndedBy), why, workflow.UseSummary(uses))
}

// Summary names several ended grants in one announcement, one line each:
// revocations, then expiries.
func (rd Renderer) Summary(ns []workflow.Notice) string {
	var revoked, expired []string
	for _, n := range ns {
		r := &n.Request
		switch n.Kind {
		case workflow.NoticeAnnounceRevoked:
			revoked = append(revoked, "• "+strings.TrimPrefix(strings.TrimPrefix(rd.RevokedAnnouncement(r, n.Uses), ":no_entry: "), ":leftwards_arrow_with_hook: "))
		default:
			expired = append(expired, fmt.Sprintf("• %s's%s *%s* access to *%s* (ticket %s), %s", user(r.Requester), map[bool]string{true: " break-glass"}[r.BreakGlass],
				escape(r.Level), escape(r.Resource), rd.Ticket(r), workflow.UseSummary(n.Uses)))
		}
	}
	var b strings.Builder
	if len(revoked) > 0 {
		fmt.Fprintf(&b, ":no_entry: %d grant%s revoked or withdrawn:\n%s\n", len(revoked), plural(len(revoked)), strings.Join(revoked, "\n"))
	}
	if len(expired) > 0 {
		fmt.Fprintf(&b, ":hourglass: %d grant%s expired:\n%s\n", len(expired), plural(len(expired)), strings.Join(expired, "\n"))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// RevokedDM tells the requester someone else ended their access.
func (rd Renderer) RevokedDM(r *workflow.Request) string {
	if r.State == workflow.StateWithdrawn {
		return fmt.Sprintf(":leftwards_arrow_with_hook: Your request for *%s* access to *%s* (ticket %s) was withdrawn by %s.",
			escape(r.Level), escape(r.Resource), rd.Ticket(r), user(r.EndedBy))
	}
	why := ""
	if r.EndReason != "" {
		why = ": " + escape(r.EndReason)
	}
	return fmt.Sprintf(":no_entry: Your *%s* access to *%s* (ticket %s) was revoked by %s%s. Its token no longer works.",
		escape(r.Level), escape(r.Resource), rd.Ticket(r), user(r.EndedBy), why)
}

// FailedDM tells the requester their grant could not be completed.
func (rd Renderer) FailedDM(r *workflow.Request) string {
	return fmt.Sprintf(":warning: Your *%s* access to *%s* (ticket %s) was approved but could not be completed: %s. Nothing was left behind; ask again with `/access %s %s %s %s`.",
		escape(r.Level), escape(r.Resource), rd.Ticket(r), escape(r.EndReason), escape(r.Resource), escape(r.Level), r.DurationString(), escape(r.Ticket))
}

// FailureAlert tells the approvers a grant failed.
func (rd Renderer) FailureAlert(r *workflow.Request, detail string) string {
	return fmt.Sprintf(":warning: %s's *%s* access to *%s* (ticket %s) failed and has ended: %s. Request `%s`.",
		user(r.Requester), escape(r.Level), escape(r.Resource), rd.Ticket(r), escape(detail), r.ID)
}

// UndeliverableAlert tells the approvers a message could not be delivered.
func (rd Renderer) UndeliverableAlert(r *workflow.Request, detail string) string {
	return fmt.Sprintf(":warning: gatepass gave up on a message about %s's *%s* access to *%s* (ticket %s). %s Request `%s`.",
		user(r.Requester), escape(r.Level), escape(r.Resource), rd.Ticket(r), escape(detail), r.ID)
}

// ProviderFailing tells the approvers a provider keeps failing to revoke.
func (rd Renderer) ProviderFailing(r *workflow.Request, detail string) string {
	return fmt.Sprintf(":rotating_light: %s %s Request `%s` (%s's *%s* access, ticket %s). %s",
		rd.approverMentions(r.Resource), escape(detail), r.ID, user(r.Requester), escape(r.Level), rd.Ticket(r), "Check the resource by hand if this goes on.")
}

// ExtendedDM tells the requester their grant lasts longer now.
func (rd Renderer) ExtendedDM(r *workflow.Request) string {
	e := r.Extension
	return fmt.Sprintf(":stopwatch: Your *%s* access to *%s* (ticket %s) was extended by %s (approved by %s); it now ends %s. Your token stays the same.",
		escape(r.Level), escape(r.Resource), rd.Ticket(r), e.DurationString(), approvers(e.Approvals), when(r.Grant.ExpiresAt))
}

// ExtensionDeniedDM tells the requester their extension was not granted.
func (rd Renderer) ExtensionDeniedDM(r *workflow.Request) string {
	e := r.Extension
	how := "was denied by " + user(e.DecidedBy)
	if e.State == workflow.ExtensionTimedOut {
		how = "expired without a decision"
	}
	ends := ""
	if r.Grant != nil {
		ends = fmt.Sprintf(" Your access still ends %s.", when(r.Grant.ExpiresAt))
	}
	return fmt.Sprintf(":x: Your request to extend *%s* access to *%s* (ticket %s) by %s %s.%s",
		escape(r.Level), escape(r.Resource), rd.Ticket(r), e.DurationString(), how, ends)
}

// WarnMessage tells the requester their grant ends soon, with an Extend
// button; once the grant is extended or has ended, it says so instead.
func (rd Renderer) WarnMessage(r *workflow.Request, now time.Time) (string, []slack.Block) {
	var text string
	switch {
	case r.State != workflow.StateActive || !now.Before(r.Grant.ExpiresAt):
		text = fmt.Sprintf(":hourglass: Your *%s* access to *%s* (ticket %s) has ended. Request `%s`.", escape(r.Level), escape(r.Resource), rd.Ticket(r), r.ID)
	case r.Extension.Pending():
		text = fmt.Sprintf(":stopwatch: Your *%s* access to *%s* (ticket %s) ends %s; an extension of %s is waiting for approval. Request `%s`.",
			escape(r.Level), escape(r.Resource), rd.Ticket(r), when(r.Grant.ExpiresAt), r.Extension.DurationString(), r.ID)
	default:
		text = fmt.Sprintf(":alarm_clock: Your *%s* access to *%s* (ticket %s) ends %s (in %s). Need longer? *Extend* asks for %s more, or `/access extend %s <duration>`.",
			escape(r.Level), escape(r.Resource), rd.Ticket(r), when(r.Grant.ExpiresAt), workflow.FormatDuration(r.Grant.ExpiresAt.Sub(now)), r.DurationString(), r.ID)
		return text, []slack.Block{
			slack.NewSectionBlock(mrkdwn(text), nil, nil),
			slack.NewActionBlock("warn", button(ActionExtend, r.ID, "Extend", string(slack.StylePrimary))),
		}
	}
	return text, []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}
}

// Reminder nudges the approvers of a pending request or extension, in its
// message's thread.
func (rd Renderer) Reminder(r *workflow.Request, now time.Time) string {
	what, until := "This request", r.PendingUntil
	if r.State == workflow.StateActive && r.Extension.Pending() {
		what, until = "This extension", r.Extension.PendingUntil
	}
	return fmt.Sprintf(":bell: %s %s is still waiting for a decision; unanswered, it expires %s (in %s).",
		rd.approverMentions(r.Resource), what, when(until), workflow.FormatDuration(until.Sub(now)))
}

// ReviewReminder reminds the approvers of an unreviewed break-glass grant.
func (rd Renderer) ReviewReminder(r *workflow.Request) string {
	return fmt.Sprintf(":eyes: %s Reminder: %s's break-glass *%s* access to *%s* (ticket %s, %s) still needs a review. Use *Mark Reviewed* on the alert, or `/access reviews`. Request `%s`.",
		rd.approverMentions(r.Resource), user(r.Requester), escape(r.Level), escape(r.Resource), rd.Ticket(r), when(r.CreatedAt), r.ID)
}

// Receipt is the requester's ephemeral receipt of a request, as it stands.
func (rd Renderer) Receipt(r *workflow.Request, approverChannel string) (string, []slack.Block) {
	var text string
	switch r.State {
	case workflow.StatePending:
		text = fmt.Sprintf("Request `%s` sent to <#%s> for approval: *%s* access to *%s* for %s (ticket %s). %d of %d approvals so far; you'll get a direct message when it is decided.",
			r.ID, approverChannel, escape(r.Level), escape(r.Resource), r.DurationString(), rd.Ticket(r), len(r.Approvals), r.ApprovalsRequired)
	case workflow.StateActive:
		text = fmt.Sprintf(":white_check_mark: Request `%s` approved: *%s* access to *%s* until %s (ticket %s). Your token is in your direct messages.",
			r.ID, escape(r.Level), escape(r.Resource), when(r.Grant.ExpiresAt), rd.Ticket(r))
	case workflow.StateDenied:
		text = fmt.Sprintf(":x: Request `%s` (*%s* access to *%s*, ticket %s) was denied by %s.", r.ID, escape(r.Level), escape(r.Resource), rd.Ticket(r), user(r.DecidedBy))
	case workflow.StateWithdrawn:
		text = fmt.Sprintf(":leftwards_arrow_with_hook: Request `%s` (*%s* access to *%s*, ticket %s) was cancelled.", r.ID, escape(r.Level), escape(r.Resource), rd.Ticket(r))
	case workflow.StateTimedOut:
		text = fmt.Sprintf(":hourglass: Request `%s` (*%s* access to *%s*, ticket %s) expired without a decision.", r.ID, escape(r.Level), escape(r.Resource), rd.Ticket(r))
	case workflow.StateExpired:
		text = fmt.Sprintf(":hourglass: Request `%s`: your *%s* access to *%s* (ticket %s) expired.", r.ID, escape(r.Level), escape(r.Resource), rd.Ticket(r))
	case workflow.StateRevoked:
		text = fmt.Sprintf(":no_entry: Request `%s`: your *%s* access to *%s* (ticket %s) was revoked.", r.ID, escape(r.Level), escape(r.Resource), rd.Ticket(r))
	case workflow.StateFailed:
		text = fmt.Sprintf(":warning: Request `%s`: your *%s* access to *%s* (ticket %s) failed: %s.", r.ID, escape(r.Level), escape(r.Resource), rd.Ticket(r), escape(r.EndReason))
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}
	if r.State == workflow.StatePending {
		blocks = append(blocks, slack.NewActionBlock("receipt", button(ActionCancel, r.ID, "Cancel request", "")))
	}
	return text, blocks
}
