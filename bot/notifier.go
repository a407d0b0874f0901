package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gatepass/gatepass/workflow"
	"github.com/slack-go/slack"
)

var _ workflow.Notifier = (*Notifier)(nil)

// Notifier delivers workflow notices to Slack: the approval message and its
// updates, break-glass alerts, direct messages, reminders and
// announcements. It is idempotent where Slack lets it be: a message
// already recorded on the request is updated, never posted again.
type Notifier struct {
	api    *slack.Client
	policy *workflow.Policy
	render Renderer
	log    *slog.Logger
	now    func() time.Time

	// OnAuthRejected, if set, hears that Slack refused the bot token.
	OnAuthRejected func(err error)

	// OnError, if set, counts Slack API errors by method.
	OnError func(method string)

	configOnce sync.Once
}

// NewNotifier returns a Notifier posting through api to the policy's
// channels.
func NewNotifier(api *slack.Client, policy *workflow.Policy, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{api: api, policy: policy, render: Renderer{Policy: policy}, log: log, now: time.Now}
}

// Notify delivers one notice.
func (n *Notifier) Notify(ctx context.Context, nt workflow.Notice) ([]workflow.MessageRef, error) {
	r := &nt.Request
	rd := n.render
	switch nt.Kind {
	case workflow.NoticeApprovalRequest:
		if hasMessage(r, workflow.MessageApproval, n.policy.ApproverChannel) {
			return nil, nil
		}
		text, blocks := rd.ApprovalMessage(r)
		ref, err := n.postAbout(ctx, r, workflow.MessageApproval, n.policy.ApproverChannel, text, blocks, "")
		if err != nil {
			return nil, fmt.Errorf("post approval message: %w", err)
		}
		ref.Purpose = workflow.MessageApproval
		return []workflow.MessageRef{ref}, nil

	case workflow.NoticeExtensionRequest:
		if r.Extension == nil {
			return nil, nil
		}
		purpose := workflow.ExtensionPurpose(r.Extension.Seq)
		if hasMessage(r, purpose, n.policy.ApproverChannel) {
			return nil, nil
		}
		text, blocks := rd.ExtensionMessage(r)
		ref, err := n.postAbout(ctx, r, purpose, n.policy.ApproverChannel, text, blocks, "")
		if err != nil {
			return nil, fmt.Errorf("post extension request: %w", err)
		}
		ref.Purpose = purpose
		return []workflow.MessageRef{ref}, nil

	case workflow.NoticeBreakGlassAlert:
		var refs []workflow.MessageRef
		for _, ch := range n.alertChannels() {
			if hasMessage(r, workflow.MessageAlert, ch) {
				continue
			}
			text, blocks := rd.AlertMessage(r)
			ref, err := n.postAbout(ctx, r, workflow.MessageAlert, ch, text, blocks, "")
			if err != nil {
				return refs, fmt.Errorf("post break-glass alert to %s: %w", ch, err)
			}
			ref.Purpose = workflow.MessageAlert
			refs = append(refs, ref)
		}
		return refs, nil

	case workflow.NoticeRefresh, workflow.NoticeRefreshLater:
		for _, m := range r.Messages {
			var text string
			var blocks []slack.Block
			switch {
			case m.Purpose == workflow.MessageApproval:
				text, blocks = rd.ApprovalMessage(r)
			case m.Purpose == workflow.MessageAlert:
				text, blocks = rd.AlertMessage(r)
			case r.Extension != nil && m.Purpose == workflow.ExtensionPurpose(r.Extension.Seq):
				text, blocks = rd.ExtensionMessage(r)
			case m.Purpose == workflow.MessageWarning && r.Grant != nil:
				text, blocks = rd.WarnMessage(r, n.now())
			default:
				continue // an earlier extension, decided and shown as such, or a receipt
			}
			_, _, _, err := n.api.UpdateMessageContext(ctx, m.Channel, m.TS,
				slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
			if err != nil {
				return nil, fmt.Errorf("update %s message %s/%s: %w", m.Purpose, m.Channel, m.TS, n.classify("chat.update", m.Channel, err))
			}
		}
		return nil, nil

	case workflow.NoticeReminder:
		purpose := workflow.MessageApproval
		if r.State == workflow.StateActive && r.Extension != nil {
			purpose = workflow.ExtensionPurpose(r.Extension.Seq)
		}
		for _, m := range r.Messages {
			if m.Purpose == purpose {
				_, err := n.post(ctx, m.Channel, rd.Reminder(r, n.now()), nil, m.TS)
				return nil, err
			}
		}
		return nil, nil // the message was never posted; nothing to reply to

	case workflow.NoticeReviewReminder:
		_, err := n.post(ctx, n.policy.ApproverChannel, rd.ReviewReminder(r), nil, "")
		return nil, err

	case workflow.NoticeUndeliverable:
		_, err := n.post(ctx, n.policy.ApproverChannel, rd.UndeliverableAlert(r, nt.Detail), nil, "")
		return nil, err

	case workflow.NoticeFailureAlert:
		_, err := n.post(ctx, n.policy.ApproverChannel, rd.FailureAlert(r, nt.Detail), nil, "")
		return nil, err

	case workflow.NoticeProviderFailing:
		_, err := n.post(ctx, n.policy.ApproverChannel, rd.ProviderFailing(r, nt.Detail), nil, "")
		return nil, err

	case workflow.NoticeToken:
		if _, err := n.post(ctx, r.Requester, rd.TokenMessage(r, nt.Token.Reveal(), nt.Credential), nil, ""); err != nil {
			return nil, fmt.Errorf("send token to %s: %w", r.Requester, err)
		}
		return nil, nil

	case workflow.NoticeDenied:
		return nil, n.dm(ctx, r.Requester, rd.DeniedMessage(r), nil)
	case workflow.NoticeTimedOut:
		return nil, n.dm(ctx, r.Requester, rd.TimedOutMessage(r), nil)
	case workflow.NoticeExpired:
		return nil, n.dm(ctx, r.Requester, rd.ExpiredDM(r, nt.Uses), nil)
	case workflow.NoticeRevoked:
		return nil, n.dm(ctx, r.Requester, rd.RevokedDM(r), nil)
	case workflow.NoticeFailed:
		return nil, n.dm(ctx, r.Requester, rd.FailedDM(r), nil)
	case workflow.NoticeExtended:
		return nil, n.dm(ctx, r.Requester, rd.ExtendedDM(r), nil)
	case workflow.NoticeExtensionDenied:
		return nil, n.dm(ctx, r.Requester, rd.ExtensionDeniedDM(r), nil)
	case workflow.NoticeWarn:
		if r.Grant == nil || r.State != workflow.StateActive {
			return nil, nil
		}
		text, blocks := rd.WarnMessage(r, n.now())
		// A later warning (after an extension) replaces the earlier one.
		for _, m := range r.Messages {
			if m.Purpose == workflow.MessageWarning {
				_, _, _, err := n.api.UpdateMessageContext(ctx, m.Channel, m.TS, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
				return nil, n.wrapDM(r.Requester, err, "chat.update", m.Channel)
			}
		}
		ref, err := n.postAbout(ctx, r, workflow.MessageWarning, r.Requester, text, blocks, "")
		if err != nil {
			return nil, fmt.Errorf("direct message %s: %w", r.Requester, err)
		}
		ref.Purpose = workflow.MessageWarning
		return []workflow.MessageRef{ref}, nil

	case workflow.NoticeReceipt:
		return nil, n.receipt(ctx, r)

	case workflow.NoticeAnnounceExpired, workflow.NoticeAnnounceRevoked:
		return nil, n.Announce(ctx, n.policy.AnnounceChannel, []workflow.Notice{nt})
	}
	return nil, fmt.Errorf("%w: unknown notice kind %q", workflow.ErrUndeliverable, nt.Kind)
}

// maxSummaryText bounds one summary message, inside Slack's limit of
// 40,000 characters; a summary of announceBatch grants fits in it.
const maxSummaryText = 39000

// Announce posts one message about ended grants: the usual sentence for
// one, a summary naming each (with its ticket) for several.
func (n *Notifier) Announce(ctx context.Context, channel string, ns []workflow.Notice) error {
	if len(ns) == 0 {
		return nil
	}
	var text string
	if len(ns) == 1 {
		r := &ns[0].Request
		if ns[0].Kind == workflow.NoticeAnnounceRevoked {
			text = n.render.RevokedAnnouncement(r, ns[0].Uses)
		} else {
			text = n.render.ExpiredAnnouncement(r, ns[0].Uses)
		}
	} else {
		text = truncate(n.render.Summary(ns), maxSummaryText)
	}
	if _, err := n.post(ctx, channel, text, nil, ""); err != nil {
		return fmt.Errorf("announce in %s: %w", channel, err)
	}
	return nil
}

// receipt updates the requester's ephemeral receipt through the command's
// response_url, which Slack honours for 30 minutes.
func (n *Notifier) receipt(ctx context.Context, r *workflow.Request) error {
	text, blocks := n.render.Receipt(r, n.policy.ApproverChannel)
	for _, m := range r.Messages {
		if m.Purpose == workflow.MessageReceipt {
			_, _, _, err := n.api.UpdateMessageContext(ctx, m.Channel, m.TS, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
			if err != nil {
				return fmt.Errorf("update receipt: %w", n.classify("chat.update", m.Channel, err))
			}
		}
	}
	if r.ResponseURL == "" || n.now().Sub(r.CreatedAt) > 29*time.Minute {
		return nil
	}
	_, _, err := n.api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(r.ResponseURL),
		slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		if se, ok := errors.AsType[slack.StatusCodeError](err); ok && se.Code == 404 {
			return nil // the URL has expired or was used up: the receipt stays as it was
		}
		return fmt.Errorf("update receipt: %w", n.classify("response_url", "", err))
	}
	return nil
}

// alertChannels are where break-glass alerts go: the approver channel and
// the announce channel if it is another.
func (n *Notifier) alertChannels() []string {
	chs := []string{n.policy.ApproverChannel}
	if n.policy.AnnounceChannel != "" && n.policy.AnnounceChannel != n.policy.ApproverChannel {
		chs = append(chs, n.policy.AnnounceChannel)
	}
	return chs
}

// wrapDM names the requester in an error about their direct message.
func (n *Notifier) wrapDM(user string, err error, method, channel string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("direct message %s: %w", user, n.classify(method, channel, err))
}

func hasMessage(r *workflow.Request, purpose, channel string) bool {
	return slices.ContainsFunc(r.Messages, func(m workflow.MessageRef) bool {
		return m.Purpose == purpose && m.Channel == channel
	})
}

// post sends a message (a thread reply when threadTS is set) and returns
// where it landed.
func (n *Notifier) post(ctx context.Context, channel, text string, blocks []slack.Block, threadTS string) (workflow.MessageRef, error) {
	return n.postAbout(ctx, nil, "", channel, text, blocks, threadTS)
}

// postAbout posts a message about r: it carries the request's ID (and the
// message's purpose) in Slack message metadata, so a message whose
// reference gatepass could not record can still be found.
func (n *Notifier) postAbout(ctx context.Context, r *workflow.Request, purpose, channel, text string, blocks []slack.Block, threadTS string) (workflow.MessageRef, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionDisableLinkUnfurl()}
	if r != nil {
		opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "gatepass_request",
			EventPayload: map[string]any{"request_id": r.ID, "purpose": purpose}}))
	}
	if len(blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	ch, ts, err := n.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return workflow.MessageRef{}, n.classify("chat.postMessage", channel, err)
	}
	return workflow.MessageRef{Channel: ch, TS: ts}, nil
}

// dm sends a direct message to a user (posting to a user ID opens the DM).
func (n *Notifier) dm(ctx context.Context, userID, text string, blocks []slack.Block) error {
	if _, err := n.post(ctx, userID, text, blocks, ""); err != nil {
		return fmt.Errorf("direct message %s: %w", userID, err)
	}
	return nil
}

// permanentErrors are Slack API errors that no retry will cure.
var permanentErrors = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true, "msg_too_long": true,
	"no_text": true, "invalid_blocks": true, "invalid_blocks_format": true, "message_not_found": true,
	"cant_update_message": true, "edit_window_closed": true, "user_not_found": true, "user_disabled": true,
	"account_inactive": true, "cannot_dm_bot": true, "restricted_action": true, "too_many_attachments": true,
	"messages_tab_disabled": true, "user_not_in_channel": true,
}

// authErrors mean Slack refuses the token itself.
var authErrors = map[string]bool{"invalid_auth": true, "token_revoked": true, "account_inactive": true, "not_authed": true, "token_expired": true}

// AuthRejection reports whether err is Slack refusing the token it was
// given, and with which error.
func AuthRejection(err error) (string, bool) {
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok && authErrors[se.Err] {
		return se.Err, true
	}
	return "", false
}

// classify turns a Slack error into what the outbox needs to know: a rate
// limit (wait, in that channel), a permanent failure (give up), an
// unusable token (stop gatepass), or a temporary one (retry).
func (n *Notifier) classify(method, channel string, err error) error {
	if n.OnError != nil {
		n.OnError(method)
	}
	if rl, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return &workflow.RateLimitError{Channel: channel, RetryAfter: rl.RetryAfter, Err: err}
	}
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		if authErrors[se.Err] {
			if n.OnAuthRejected != nil {
				n.OnAuthRejected(err)
			}
			return err
		}
		if permanentErrors[se.Err] {
			return fmt.Errorf("%w: %w", workflow.ErrUndeliverable, err)
		}
	}
	if se, ok := errors.AsType[slack.StatusCodeError](err); ok && se.Code == 404 && method != "response_url" {
		n.configOnce.Do(func() {
			n.log.Error("the Slack Web API answered 404 Not Found: check SLACK_API_URL; notices are kept and retried", "method", method)
		})
	}
	return err
}
