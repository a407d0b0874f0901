package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// sweepBatch is how many due requests one store query returns.
const sweepBatch = 200

// errNotDue tells Store.Update that a request changed since it was found
// due, so there is nothing to do.
var errNotDue = errors.New("not due")

// Sweep counts what one ExpireDue pass ended.
type Sweep struct {
	Expired  int // grants past their expiry
	TimedOut int // pending requests past pending_timeout
}

// ExpireDue ends every grant whose expiry has passed and every pending
// request left unanswered past pending_timeout, and queues their notices.
// Each end is a conditional update, so any number of processes may sweep at
// once and each request ends exactly once. It catches up on everything due,
// however long gatepass was down.
func (s *Service) ExpireDue(ctx context.Context) (Sweep, error) {
	var sw Sweep
	var errs []error
	n, err := s.sweep(ctx, s.store.DueExpiries, s.expire)
	sw.Expired, errs = n, append(errs, err)
	n, err = s.sweep(ctx, s.store.DueTimeouts, s.timeOut)
	sw.TimedOut, errs = n, append(errs, err)
	if sw.Expired+sw.TimedOut > 0 {
		s.Wake()
	}
	return sw, errors.Join(errs...)
}

func (s *Service) sweep(ctx context.Context, due func(context.Context, time.Time, int) ([]string, error), end func(*Request) (Change, error)) (int, error) {
	ended := 0
	var errs []error
	for {
		ids, err := due(ctx, s.Now(), sweepBatch)
		if err != nil {
			return ended, fmt.Errorf("find due requests: %w", err)
		}
		progress := false
		for _, id := range ids {
			r, err := s.store.Update(ctx, id, end)
			switch {
			case err == nil:
				ended++
				s.log.Info("request ended", "request", r.ID, "state", r.State, "requester", r.Requester, "scope", r.Scope(), "ticket", r.Ticket)
				progress = true
			case errors.Is(err, errNotDue):
				progress = true
			default:
				errs = append(errs, fmt.Errorf("end %s: %w", id, err))
			}
		}
		if len(ids) < sweepBatch || !progress || ctx.Err() != nil {
			return ended, errors.Join(errs...)
		}
	}
}

func (s *Service) expire(r *Request) (Change, error) {
	now := s.Now()
	if r.State != StateActive || r.Grant == nil || now.Before(r.Grant.ExpiresAt) {
		return Change{}, errNotDue
	}
	r.State, r.EndedAt = StateExpired, now
	return Change{
		Events:  []Event{{RequestID: r.ID, Actor: System, Action: ActionExpired, Detail: "expired at " + r.Grant.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"), At: now}},
		Notices: []NoticeKind{NoticeRefresh, NoticeAnnounceExpired, NoticeExpired},
	}, nil
}

func (s *Service) timeOut(r *Request) (Change, error) {
	now := s.Now()
	if r.State != StatePending || now.Before(r.PendingUntil) {
		return Change{}, errNotDue
	}
	r.State, r.EndedAt = StateTimedOut, now
	return Change{
		Events:  []Event{{RequestID: r.ID, Actor: System, Action: ActionTimedOut, Detail: "no decision within " + FormatDuration(r.PendingUntil.Sub(r.CreatedAt)), At: now}},
		Notices: []NoticeKind{NoticeRefresh, NoticeTimedOut},
	}, nil
}
