package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/gatepass/gatepass/workflow"
	"github.com/slack-go/slack"
)

var _ workflow.Notifier = (*Notifier)(nil)

// Notifier delivers workflow notices to Slack: the approval message and its
// updates, break-glass alerts, direct messages and announcements. It is
// idempotent where Slack lets it be: a message already recorded on the
// request is updated, never posted again.
type Notifier struct {
	api    *slack.Client
	policy *workflow.Policy
	log    *slog.Logger
}

// NewNotifier returns a Notifier posting through api to the policy's
// channels.
func NewNotifier(api *slack.Client, policy *workflow.Policy, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{api: api, policy: policy, log: log}
}

// Notify delivers one notice.
func (n *Notifier) Notify(ctx context.Context, nt workflow.Notice) ([]workflow.MessageRef, error) {
	r := &nt.Request
	switch nt.Kind {
	case workflow.NoticeApprovalRequest:
		if hasMessage(r, workflow.MessageApproval, n.policy.ApproverChannel) {
			return nil, nil
		}
		text, blocks := ApprovalMessage(r)
		ref, err := n.post(ctx, n.policy.ApproverChannel, text, blocks)
		if err != nil {
			return nil, fmt.Errorf("post approval message: %w", err)
		}
		ref.Purpose = workflow.MessageApproval
		return []workflow.MessageRef{ref}, nil

	case workflow.NoticeBreakGlassAlert:
		var refs []workflow.MessageRef
		for _, ch := range n.alertChannels() {
			if hasMessage(r, workflow.MessageAlert, ch) {
				continue
			}
			text, blocks := AlertMessage(r)
			ref, err := n.post(ctx, ch, text, blocks)
			if err != nil {
				return refs, fmt.Errorf("post break-glass alert to %s: %w", ch, err)
			}
			ref.Purpose = workflow.MessageAlert
			refs = append(refs, ref)
		}
		return refs, nil

	case workflow.NoticeRefresh:
		for _, m := range r.Messages {
			var text string
			var blocks []slack.Block
			switch m.Purpose {
			case workflow.MessageApproval:
				text, blocks = ApprovalMessage(r)
			case workflow.MessageAlert:
				text, blocks = AlertMessage(r)
			default:
				continue
			}
			_, _, _, err := n.api.UpdateMessageContext(ctx, m.Channel, m.TS,
				slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
			if err != nil {
				return nil, fmt.Errorf("update %s message %s/%s: %w", m.Purpose, m.Channel, m.TS, classify(err))
			}
		}
		return nil, nil

	case workflow.NoticeToken:
		if _, err := n.post(ctx, r.Requester, TokenMessage(r, nt.Token.Reveal()), nil); err != nil {
			return nil, fmt.Errorf("send token to %s: %w", r.Requester, err)
		}
		return nil, nil

	case workflow.NoticeDenied:
		return nil, n.dm(ctx, r.Requester, DeniedMessage(r))

	case workflow.NoticeTimedOut:
		return nil, n.dm(ctx, r.Requester, TimedOutMessage(r))

	case workflow.NoticeExpired:
		return nil, n.dm(ctx, r.Requester, ExpiredDM(r))

	case workflow.NoticeAnnounceExpired:
		return nil, n.announce(ctx, ExpiredAnnouncement(r))

	case workflow.NoticeRevoked:
		return nil, n.dm(ctx, r.Requester, RevokedDM(r))

	case workflow.NoticeAnnounceRevoked:
		return nil, n.announce(ctx, RevokedAnnouncement(r))
	}
	return nil, fmt.Errorf("%w: unknown notice kind %q", workflow.ErrUndeliverable, nt.Kind)
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

func hasMessage(r *workflow.Request, purpose, channel string) bool {
	return slices.ContainsFunc(r.Messages, func(m workflow.MessageRef) bool {
		return m.Purpose == purpose && m.Channel == channel
	})
}

// post sends a message and returns where it landed.
func (n *Notifier) post(ctx context.Context, channel, text string, blocks []slack.Block) (workflow.MessageRef, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if len(blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	ch, ts, err := n.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return workflow.MessageRef{}, classify(err)
	}
	return workflow.MessageRef{Channel: ch, TS: ts}, nil
}

// dm sends a direct message to a user (posting to a user ID opens the DM).
func (n *Notifier) dm(ctx context.Context, userID, text string) error {
	if _, err := n.post(ctx, userID, text, nil); err != nil {
		return fmt.Errorf("direct message %s: %w", userID, err)
	}
	return nil
}

func (n *Notifier) announce(ctx context.Context, text string) error {
	if _, err := n.post(ctx, n.policy.AnnounceChannel, text, nil); err != nil {
		return fmt.Errorf("announce in %s: %w", n.policy.AnnounceChannel, err)
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

// classify marks Slack errors that retrying cannot fix as undeliverable.
func classify(err error) error {
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok && permanentErrors[se.Err] {
		return fmt.Errorf("%w: %w", workflow.ErrUndeliverable, err)
	}
	return err
}
