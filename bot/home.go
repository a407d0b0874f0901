package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/gatepass/gatepass/workflow"
	"github.com/slack-go/slack"
)

// maxHomeItems bounds each list in the Home tab (Slack allows 100 blocks
// per view).
const maxHomeItems = 15

// HomeView is a user's Home tab: their pending requests and live grants,
// with Cancel, Extend and Revoke, and for approvers what waits for them,
// with Approve and Deny that act exactly like the channel's buttons.
func (rd Renderer) HomeView(mine []workflow.Request, uses map[string][]workflow.Use, waiting, reviews []workflow.Request, now time.Time) slack.HomeTabViewRequest {
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Your access"))}
	if len(mine) == 0 {
		blocks = append(blocks, slackSection("You have no pending requests and no live access. Type `/access` to ask for some."))
	}
	for i, r := range mine {
		if i == maxHomeItems {
			blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more: `/access list` shows them all.", len(mine)-maxHomeItems))))
			break
		}
		var text string
		var buttons []slack.BlockElement
		if r.State == workflow.StatePending {
			text = fmt.Sprintf(":hourglass_flowing_sand: *%s* %s for %s, ticket %s: waiting for approval (%d of %d), %s left. `%s`",
				escape(r.Resource), escape(r.Level), r.DurationString(), rd.Ticket(&r), len(r.Approvals), r.ApprovalsRequired,
				workflow.FormatDuration(r.PendingUntil.Sub(now)), r.ID)
			buttons = append(buttons, button(ActionCancel, r.ID, "Cancel", ""))
		} else {
			text = fmt.Sprintf(":white_check_mark: *%s* %s, ticket %s: %s left (until %s); %s. `%s`",
				escape(r.Resource), escape(r.Level), rd.Ticket(&r), workflow.FormatDuration(r.Grant.ExpiresAt.Sub(now)), when(r.Grant.ExpiresAt),
				workflow.UseSummary(uses[r.ID]), r.ID)
			if r.Extension.Pending() {
				text += fmt.Sprintf("\nAn extension of %s is waiting for approval.", r.Extension.DurationString())
				buttons = append(buttons, button(ActionCancel, r.ID, "Cancel extension", ""))
			} else {
				text += fmt.Sprintf("\n*Extend* asks for %s more.", r.DurationString())
				buttons = append(buttons, button(ActionExtend, r.ID, "Extend", string(slack.StylePrimary)))
			}
			buttons = append(buttons, button(ActionRevoke, r.ID, "Revoke", string(slack.StyleDanger)))
		}
		blocks = append(blocks, slackSection(text), slack.NewActionBlock("mine:"+r.ID, buttons...))
	}
	if len(waiting) > 0 {
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewHeaderBlock(plain("Waiting for your decision")))
		for i, r := range waiting {
			if i == maxHomeItems {
				blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more in the approver channel.", len(waiting)-maxHomeItems))))
				break
			}
			if r.State == workflow.StateActive && r.Extension.Pending() {
				blocks = append(blocks,
					slackSection(fmt.Sprintf(":stopwatch: %s asks to extend *%s* %s by %s (ticket %s). %d of %d approvals. `%s`", user(r.Requester),
						escape(r.Resource), escape(r.Level), r.Extension.DurationString(), rd.Ticket(&r), len(r.Extension.Approvals), r.ApprovalsRequired, r.ID)),
					slack.NewActionBlock("ext:"+r.ID,
						button(ActionExtApprove, r.ID, "Approve", string(slack.StylePrimary)),
						button(ActionExtDeny, r.ID, "Deny", string(slack.StyleDanger))))
				continue
			}
			reason := ""
			if r.Reason != "" {
				reason = ": " + escapeMax(r.Reason, 300)
			}
			blocks = append(blocks,
				slackSection(fmt.Sprintf(":key: %s asks for *%s* %s for %s (ticket %s)%s. %d of %d approvals. `%s`", user(r.Requester),
					escape(r.Resource), escape(r.Level), r.DurationString(), rd.Ticket(&r), reason, len(r.Approvals), r.ApprovalsRequired, r.ID)),
				slack.NewActionBlock("req:"+r.ID,
					button(ActionApprove, r.ID, "Approve", string(slack.StylePrimary)),
					button(ActionDeny, r.ID, "Deny", string(slack.StyleDanger))))
		}
	}
	if len(reviews) > 0 {
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewHeaderBlock(plain("Break-glass waiting for review")))
		for i, r := range reviews {
			if i == maxHomeItems {
				blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more: `/access reviews`.", len(reviews)-maxHomeItems))))
				break
			}
			blocks = append(blocks,
				slackSection(fmt.Sprintf(":rotating_light: %s broke glass on *%s* %s (ticket %s) %s: %s. `%s`", user(r.Requester),
					escape(r.Resource), escape(r.Level), rd.Ticket(&r), when(r.CreatedAt), escapeMax(r.Reason, 300), r.ID)),
				slack.NewActionBlock("rev:"+r.ID, button(ActionReview, r.ID, "Mark Reviewed", string(slack.StylePrimary))))
		}
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("Updated %s. `/access help` lists every command.", when(now)))))
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}
}

// PublishHome shows user's Home tab as things stand now.
func (b *Bot) PublishHome(ctx context.Context, userID string) {
	mine, err := b.svc.List(ctx, userID)
	if err != nil {
		b.log.Warn("home: list requests", "user", userID, "err", err)
		return
	}
	ids := make([]string, len(mine))
	for i, r := range mine {
		ids[i] = r.ID
	}
	uses, _ := b.svc.UsesOf(ctx, ids)
	waiting, err := b.svc.Waiting(ctx, userID)
	if err != nil {
		b.log.Warn("home: waiting requests", "user", userID, "err", err)
	}
	reviews, err := b.svc.Reviews(ctx, userID)
	if err != nil {
		b.log.Warn("home: open reviews", "user", userID, "err", err)
	}
	view := b.render.HomeView(mine, uses, waiting, reviews, b.svc.Now())
	if _, err := b.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: userID, View: view}); err != nil {
		b.log.Warn("home: publish", "user", userID, "err", err)
	}
}
