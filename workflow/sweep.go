package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// sweepBatch is how many due requests one transaction handles.
const sweepBatch = 500

// Sweep counts what one ExpireDue pass did.
type Sweep struct {
	Expired   int // grants past their expiry
	TimedOut  int // pending requests past pending_timeout
	Failed    int // grants whose token never reached the requester in time
	Reminders int // reminders and warnings queued
}

// ExpireDue does everything that has come due: it ends grants whose expiry
// has passed and pending requests left unanswered past pending_timeout,
// ends extensions nobody decided, and queues reminders and warnings. It
// works in batches, one transaction per batch, each request's change a
// conditional update, so any number of processes may sweep at once and
// each thing happens exactly once. It catches up on everything due,
// however long gatepass was down.
func (s *Service) ExpireDue(ctx context.Context) (Sweep, error) {
	var sw Sweep
	for ctx.Err() == nil {
		now := s.Now()
		ids, err := s.store.DueRequests(ctx, now, sweepBatch)
		if err != nil {
			return sw, fmt.Errorf("find due requests: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		// Counted per request, so a batch the store runs again (after a
		// conflict or a busy database) is not counted twice.
		per := make(map[string]Sweep, len(ids))
		rs, err := s.store.UpdateMany(ctx, ids, func(r *Request) (Change, error) {
			var c Sweep
			ch, err := s.tick(r, s.Now(), &c)
			per[r.ID] = c
			return ch, err
		})
		if err != nil {
			return sw, fmt.Errorf("sweep: %w", err)
		}
		var counts Sweep
		for i := range rs {
			c := per[rs[i].ID]
			counts.Expired += c.Expired
			counts.TimedOut += c.TimedOut
			counts.Failed += c.Failed
			counts.Reminders += c.Reminders
		}
		sw.Expired += counts.Expired
		sw.TimedOut += counts.TimedOut
		sw.Failed += counts.Failed
		sw.Reminders += counts.Reminders
		for i := range rs {
			r := &rs[i]
			if r.State.Ended() {
				s.log.Info("request ended", "request_id", r.ID, "state", r.State, "requester", r.Requester, "scope", r.Scope(), "ticket", r.Ticket)
			}
		}
		for range counts.Expired {
			s.metrics.GrantEnded("expired")
		}
		for range counts.Failed {
			s.metrics.GrantEnded("failed")
		}
		if len(rs) > 0 {
			s.Wake()
			s.WakeAnnouncer()
		}
		if len(ids) < sweepBatch || len(rs) == 0 {
			// A batch whose rows all belonged to other sweepers (or were
			// not due after all) ends this pass; the next tick retries.
			break
		}
	}
	return sw, ctx.Err()
}

// tick applies whatever is due for r at now. It returns ErrSkip when
// nothing is (another process got there first).
func (s *Service) tick(r *Request, now time.Time, counts *Sweep) (Change, error) {
	var c Change
	due := func(t time.Time) bool { return !t.IsZero() && !now.Before(t) }
	switch r.State {
	case StatePending:
		if due(r.PendingUntil) {
			r.State, r.EndedAt, r.RemindAt = StateTimedOut, now, time.Time{}
			c.Events = append(c.Events, Event{Actor: System, Action: ActionTimedOut, Detail: "no decision within " + FormatDuration(r.PendingUntil.Sub(r.CreatedAt)), At: now})
			c.Notices = append(c.Notices, withReceipt(r, NoticeRefreshLater, NoticeTimedOut)...)
			counts.TimedOut++
			break
		}
		if due(r.RemindAt) {
			r.RemindAt = time.Time{}
			c.Events = append(c.Events, Event{Actor: System, Action: ActionReminded, Detail: "approvers reminded", At: now})
			c.Notices = append(c.Notices, NoticeReminder)
			counts.Reminders++
		}
	case StateActive:
		if r.Grant == nil {
			break
		}
		g := r.Grant
		if due(g.ExpiresAt) {
			r.State, r.EndedAt = StateExpired, now
			g.WarnAt = time.Time{}
			c.Events = append(c.Events, Event{Actor: System, Action: ActionExpired, Detail: "expired at " + g.ExpiresAt.UTC().Format(time.RFC3339), At: now})
			c.Notices = append(c.Notices, withReceipt(r, NoticeRefreshLater, NoticeAnnounceExpired, NoticeExpired)...)
			if s.providers[r.Resource] != nil {
				c.Notices = append(c.Notices, NoticeProviderRevoke)
			}
			if r.Extension.Pending() {
				r.Extension.State, r.Extension.DecidedAt = ExtensionTimedOut, now
			}
			counts.Expired++
			break
		}
		if g.DeliveredAt.IsZero() && due(g.DeliverBy) {
			r.State, r.EndedAt, r.EndedBy = StateFailed, now, System
			r.EndReason = fmt.Sprintf("its token could not be delivered within %s", FormatDuration(g.DeliverBy.Sub(g.IssuedAt)))
			c.Events = append(c.Events, Event{Actor: System, Action: ActionFailed, Detail: r.EndReason, At: now})
			c.Notices = append(c.Notices, s.failNotices(r)...)
			c.Detail = r.EndReason
			counts.Failed++
			break
		}
		if due(g.WarnAt) {
			g.WarnAt = time.Time{}
			c.Events = append(c.Events, Event{Actor: System, Action: ActionWarned, Detail: FormatDuration(g.ExpiresAt.Sub(now)) + " left", At: now})
			c.Notices = append(c.Notices, NoticeWarn)
			counts.Reminders++
		}
		if e := r.Extension; e.Pending() {
			if due(e.PendingUntil) {
				e.State, e.DecidedAt, e.RemindAt = ExtensionTimedOut, now, time.Time{}
				c.Events = append(c.Events, Event{Actor: System, Action: ActionExtTimedOut, Detail: fmt.Sprintf("extension %d: no decision within %s", e.Seq, FormatDuration(e.PendingUntil.Sub(e.RequestedAt))), At: now})
				c.Notices = append(c.Notices, NoticeRefresh, NoticeExtensionDenied)
			} else if due(e.RemindAt) {
				e.RemindAt = time.Time{}
				c.Events = append(c.Events, Event{Actor: System, Action: ActionReminded, Detail: fmt.Sprintf("extension %d: approvers reminded", e.Seq), At: now})
				c.Notices = append(c.Notices, NoticeReminder)
				counts.Reminders++
			}
		}
	}
	if r.BreakGlass && r.ReviewedBy == "" && due(r.ReviewRemindAt) {
		r.ReviewRemindAt = time.Time{}
		if s.policy.ReviewReminder > 0 {
			r.ReviewRemindAt = now.Add(s.policy.ReviewReminder)
		}
		c.Events = append(c.Events, Event{Actor: System, Action: ActionReviewDue, Detail: "approvers reminded to review", At: now})
		c.Notices = append(c.Notices, NoticeReviewReminder)
		counts.Reminders++
	}
	if len(c.Events) == 0 && len(c.Notices) == 0 {
		if next := r.NextDue(); !next.IsZero() && !next.After(now) {
			// Something is due that nothing above handles (a timer left by a
			// policy that has changed): drop it rather than find it again
			// on every sweep.
			r.RemindAt, r.ReviewRemindAt = time.Time{}, time.Time{}
			if r.Grant != nil {
				r.Grant.WarnAt = time.Time{}
			}
			return Change{}, nil
		}
		return Change{}, ErrSkip
	}
	return c, nil
}

// failNotices are what a grant that failed tells: its messages, the
// requester, the approvers, and the provider, which removes anything it
// made.
func (s *Service) failNotices(r *Request) []NoticeKind {
	n := withReceipt(r, NoticeRefresh, NoticeFailed, NoticeFailureAlert)
	if s.providers[r.Resource] != nil {
		n = append(n, NoticeProviderRevoke)
	}
	return n
}

// errGrantGone tells Store.Update that a grant ended before its token could
// be delivered.
var errGrantGone = errors.New("grant no longer active")
