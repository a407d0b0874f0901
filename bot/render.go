package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatepass/gatepass/workflow"
	"github.com/slack-go/slack"
)

// Action IDs of the buttons gatepass puts on messages. Each button's value
// is the request ID alone; the workflow decides who may do what.
const (
	ActionApprove = "approve"
	ActionDeny    = "deny"
	ActionReview  = "review"
)

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

// user mentions a Slack user.
func user(id string) string { return "<@" + id + ">" }

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

// approvers lists who approved: "<@A>, <@B>".
func approvers(r *workflow.Request) string {
	ids := make([]string, len(r.Approvals))
	for i, a := range r.Approvals {
		ids[i] = a.Approver
	}
	return users(ids)
}

// askFields are the facts of a request, as section fields.
func askFields(r *workflow.Request) []*slack.TextBlockObject {
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
		mrkdwn("*Ticket*\n" + escape(r.Ticket)),
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
		return fmt.Sprintf(":hourglass_flowing_sand: %d of %d approvals (%s). Waiting for %d more.", len(r.Approvals), r.ApprovalsRequired, approvers(r), r.ApprovalsRequired-len(r.Approvals))
	case workflow.StateActive:
		return fmt.Sprintf(":white_check_mark: Approved by %s. Access until %s.", approvers(r), when(r.Grant.ExpiresAt))
	case workflow.StateDenied:
		s := fmt.Sprintf(":x: Denied by %s.", user(r.DecidedBy))
		if len(r.Approvals) > 0 {
			s += fmt.Sprintf(" (It had %d of %d approvals: %s.)", len(r.Approvals), r.ApprovalsRequired, approvers(r))
		}
		return s
	case workflow.StateWithdrawn:
		return fmt.Sprintf(":leftwards_arrow_with_hook: Withdrawn by %s before a decision.", user(r.EndedBy))
	case workflow.StateTimedOut:
		return fmt.Sprintf(":hourglass: Expired: no decision within %s. The requester was told.", workflow.FormatDuration(r.PendingUntil.Sub(r.CreatedAt)))
	case workflow.StateExpired:
		return fmt.Sprintf(":white_check_mark: Approved by %s. :hourglass: Access expired %s.", approvers(r), when(r.Grant.ExpiresAt))
	case workflow.StateRevoked:
		return fmt.Sprintf(":white_check_mark: Approved by %s. :no_entry: Revoked by %s %s.", approvers(r), user(r.EndedBy), when(r.EndedAt))
	}
	return string(r.State)
}

// ApprovalMessage renders the message approvers decide on: the ask, where
// it stands, and, while it is pending, Approve and Deny buttons.
func ApprovalMessage(r *workflow.Request) (text string, blocks []slack.Block) {
	status := approvalStatus(r)
	head := fmt.Sprintf("%s asks for *%s* access to *%s* for *%s* (ticket %s).",
		user(r.Requester), escape(r.Level), escape(r.Resource), r.DurationString(), escape(r.Ticket))
	text = fmt.Sprintf("Access request: %s Reason: %s. %s", head, reasonText(r), status)
	blocks = []slack.Block{
		slack.NewSectionBlock(mrkdwn(":key: "+head), nil, nil),
		slack.NewSectionBlock(nil, askFields(r), nil),
		slack.NewSectionBlock(mrkdwn(status), nil, nil),
	}
	if r.State == workflow.StatePending {
		approve := slack.NewButtonBlockElement(ActionApprove, r.ID, plain("Approve"))
		approve.Style = slack.StylePrimary
		deny := slack.NewButtonBlockElement(ActionDeny, r.ID, plain("Deny"))
		deny.Style = slack.StyleDanger
		blocks = append(blocks, slack.NewActionBlock("decide", approve, deny))
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("Request `%s` · needs %d approval%s · requested %s", r.ID, r.ApprovalsRequired, plural(r.ApprovalsRequired), when(r.CreatedAt)))))
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

// AlertMessage renders a break-glass alert: loud, with a Review button until
// an approver has reviewed it.
func AlertMessage(r *workflow.Request) (text string, blocks []slack.Block) {
	head := fmt.Sprintf(":rotating_light: *BREAK-GLASS*: %s opened *%s* access to *%s* for *%s* without approval (ticket %s).",
		user(r.Requester), escape(r.Level), escape(r.Resource), r.DurationString(), escape(r.Ticket))
	var state string
	switch r.State {
	case workflow.StateActive:
		state = fmt.Sprintf("Access is live until %s.", when(r.Grant.ExpiresAt))
	case workflow.StateExpired:
		state = fmt.Sprintf(":hourglass: Access expired %s.", when(r.Grant.ExpiresAt))
	case workflow.StateRevoked:
		state = fmt.Sprintf(":no_entry: Revoked by %s %s.", user(r.EndedBy), when(r.EndedAt))
	}
	review := ":eyes: *Review needed*: an approver of " + escape(r.Resource) + " must review this."
	if r.ReviewedBy != "" {
		review = fmt.Sprintf(":white_check_mark: Reviewed by %s %s.", user(r.ReviewedBy), when(r.ReviewedAt))
	}
	text = fmt.Sprintf("BREAK-GLASS: %s opened %s access to %s for %s without approval (ticket %s). Reason: %s. %s %s",
		user(r.Requester), escape(r.Level), escape(r.Resource), r.DurationString(), escape(r.Ticket), reasonText(r), state, review)
	blocks = []slack.Block{
		slack.NewHeaderBlock(plain(":rotating_light: Break-glass access")),
		slack.NewSectionBlock(mrkdwn(head), nil, nil),
		slack.NewSectionBlock(nil, askFields(r), nil),
		slack.NewSectionBlock(mrkdwn(strings.TrimSpace(state+" "+review)), nil, nil),
	}
	if r.ReviewedBy == "" {
		btn := slack.NewButtonBlockElement(ActionReview, r.ID, plain("Review"))
		btn.Style = slack.StylePrimary
		blocks = append(blocks, slack.NewActionBlock("review", btn))
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("Request `%s` · granted %s", r.ID, when(r.CreatedAt)))))
	return text, blocks
}

// TokenMessage is the requester's direct message with the token: the one
// place its text ever appears.
func TokenMessage(r *workflow.Request, token string) string {
	var head string
	if r.BreakGlass {
		head = fmt.Sprintf(":rotating_light: Break-glass access granted: *%s* on *%s* for %s (ticket %s). The approvers have been alerted and will review it.",
			escape(r.Level), escape(r.Resource), r.DurationString(), escape(r.Ticket))
	} else {
		head = fmt.Sprintf(":white_check_mark: Your request for *%s* access to *%s* (ticket %s) was approved by %s.",
			escape(r.Level), escape(r.Resource), escape(r.Ticket), approvers(r))
	}
	return fmt.Sprintf("%s\nYour token, shown only here and only once:\n```%s```\nScope `%s`, valid until %s (%s). Request `%s`; `/access revoke %s` ends it early.",
		head, token, r.Scope(), when(r.Grant.ExpiresAt), r.DurationString(), r.ID, r.ID)
}

// DeniedMessage tells the requester their request was denied.
func DeniedMessage(r *workflow.Request) string {
	return fmt.Sprintf(":x: Your request for *%s* access to *%s* (ticket %s) was denied by %s.",
		escape(r.Level), escape(r.Resource), escape(r.Ticket), user(r.DecidedBy))
}

// TimedOutMessage tells the requester nobody decided in time.
func TimedOutMessage(r *workflow.Request) string {
	return fmt.Sprintf(":hourglass: Your request for *%s* access to *%s* (ticket %s) expired: no approver decided within %s. Ask again if you still need access.",
		escape(r.Level), escape(r.Resource), escape(r.Ticket), workflow.FormatDuration(r.PendingUntil.Sub(r.CreatedAt)))
}

// ExpiredDM tells the requester their grant has expired.
func ExpiredDM(r *workflow.Request) string {
	return fmt.Sprintf(":hourglass: Your *%s* access to *%s* (ticket %s) expired %s. Its token no longer works.",
		escape(r.Level), escape(r.Resource), escape(r.Ticket), when(r.Grant.ExpiresAt))
}

// ExpiredAnnouncement tells the announce channel a grant has expired.
func ExpiredAnnouncement(r *workflow.Request) string {
	kind := ""
	if r.BreakGlass {
		kind = " break-glass"
	}
	return fmt.Sprintf(":hourglass: %s's%s *%s* access to *%s* (ticket %s) expired %s.",
		user(r.Requester), kind, escape(r.Level), escape(r.Resource), escape(r.Ticket), when(r.Grant.ExpiresAt))
}

// RevokedAnnouncement tells the announce channel a grant was revoked or a
// pending request withdrawn.
func RevokedAnnouncement(r *workflow.Request) string {
	if r.State == workflow.StateWithdrawn {
		return fmt.Sprintf(":leftwards_arrow_with_hook: %s's request for *%s* access to *%s* (ticket %s) was withdrawn by %s.",
			user(r.Requester), escape(r.Level), escape(r.Resource), escape(r.Ticket), user(r.EndedBy))
	}
	return fmt.Sprintf(":no_entry: %s's *%s* access to *%s* (ticket %s) was revoked by %s.",
		user(r.Requester), escape(r.Level), escape(r.Resource), escape(r.Ticket), user(r.EndedBy))
}

// RevokedDM tells the requester someone else ended their access.
func RevokedDM(r *workflow.Request) string {
	if r.State == workflow.StateWithdrawn {
		return fmt.Sprintf(":leftwards_arrow_with_hook: Your request for *%s* access to *%s* (ticket %s) was withdrawn by %s.",
			escape(r.Level), escape(r.Resource), escape(r.Ticket), user(r.EndedBy))
	}
	return fmt.Sprintf(":no_entry: Your *%s* access to *%s* (ticket %s) was revoked by %s. Its token no longer works.",
		escape(r.Level), escape(r.Resource), escape(r.Ticket), user(r.EndedBy))
}
