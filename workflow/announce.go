package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Announcer tuning. Slack allows about one post per second per channel;
// the announcer keeps below that, so the messages people wait for (an
// approval request in the same channel, say) find a free slot.
const (
	announcePace   = 1500 * time.Millisecond
	announceBatch  = 60 // grants named in one summary at most
	announceLease  = 30 * time.Second
	announceMaxAge = 24 * time.Hour
)

// WakeAnnouncer asks RunAnnouncer to look for due announcements now.
func (s *Service) WakeAnnouncer() {
	select {
	case s.wakeAnn <- struct{}{}:
	default:
	}
}

// RunAnnouncer posts queued announcements to the announce channel until ctx
// ends: at most one post per announcePace (shared by every process on the
// database), each naming every grant that ended meanwhile (up to
// announceBatch), revocations first. It yields to urgent notices that Slack
// asked to wait in the same channel.
func (s *Service) RunAnnouncer(ctx context.Context) {
	tick := time.NewTicker(announcePace / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.wakeAnn:
		}
		channel := s.policy.AnnounceChannel
		now := s.Now()
		if s.gates.blocked(channel, now) {
			continue
		}
		anns, err := s.store.ClaimAnnouncements(ctx, now, announceLease, announceBatch, s.worker)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("claim announcements", "err", err)
			}
			continue
		}
		if len(anns) == 0 {
			continue
		}
		ok, err := s.store.GateChannel(ctx, channel, now, now.Add(announcePace))
		if err != nil || !ok {
			// Another process posted there a moment ago: let the leases go
			// and try again at the next slot.
			ids := announcementIDs(anns)
			if rerr := s.store.ReleaseAnnouncements(ctx, ids); rerr != nil && ctx.Err() == nil {
				s.log.Warn("release announcements", "err", rerr)
			}
			continue
		}
		s.announce(ctx, channel, anns)
	}
}

func announcementIDs(anns []Announcement) []int64 {
	ids := make([]int64, len(anns))
	for i, a := range anns {
		ids[i] = a.ID
	}
	return ids
}

// announce posts one message about claimed announcements and records the
// outcome.
func (s *Service) announce(ctx context.Context, channel string, anns []Announcement) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout+deliveryTimeout)
	defer cancel()
	now := s.Now()
	ids := announcementIDs(anns)
	reqIDs := make([]string, 0, len(anns))
	for _, a := range anns {
		reqIDs = append(reqIDs, a.RequestID)
	}
	rs, err := s.store.Find(bctx, Query{IDs: reqIDs, Limit: len(reqIDs) + 1})
	if err != nil {
		s.log.Error("load requests to announce", "err", err)
		_ = s.store.RetryAnnouncements(bctx, ids, now.Add(time.Second), err.Error())
		return
	}
	byID := make(map[string]Request, len(rs))
	for _, r := range rs {
		byID[r.ID] = r
	}
	uses, err := s.usesOf(bctx, reqIDs)
	if err != nil {
		s.log.Warn("read token use for announcements", "err", err)
	}
	var ns []Notice
	var gone []int64
	for _, a := range anns {
		r, ok := byID[a.RequestID]
		if !ok {
			gone = append(gone, a.ID)
			continue
		}
		ns = append(ns, Notice{Kind: a.Kind, Request: r, Uses: uses[r.ID]})
	}
	if len(ns) == 0 {
		_ = s.store.FinishAnnouncements(bctx, ids)
		return
	}
	dctx, dcancel := context.WithTimeout(ctx, deliveryTimeout)
	err = s.notifier.Announce(dctx, channel, ns)
	dcancel()
	var rl *RateLimitError
	switch {
	case err == nil:
		s.metrics.Delivery("announcement", "delivered")
		if err := s.store.FinishAnnouncements(bctx, ids); err != nil {
			s.log.Error("mark announcements posted", "err", err)
		}
	case errors.As(err, &rl):
		s.metrics.Delivery("announcement", "rate_limited")
		wait := max(rl.RetryAfter, time.Second)
		if err := s.store.DeferChannel(bctx, channel, now.Add(wait)); err != nil {
			s.log.Warn("hold announcements", "err", err)
		}
		if err := s.store.ReleaseAnnouncements(bctx, ids); err != nil {
			s.log.Error("release announcements", "err", err)
		}
	default:
		oldest := anns[0].QueuedAt
		for _, a := range anns {
			if a.QueuedAt.Before(oldest) {
				oldest = a.QueuedAt
			}
		}
		if errors.Is(err, ErrUndeliverable) || now.Sub(oldest) > announceMaxAge {
			s.metrics.Delivery("announcement", "undeliverable")
			s.log.Error("announcements undeliverable; giving up", "channel", channel, "count", len(ns), "err", err)
			_ = s.store.FinishAnnouncements(bctx, ids)
			s.reportLostAnnouncements(bctx, channel, ns, err)
			return
		}
		s.metrics.Delivery("announcement", "retry")
		delay := retryDelay(anns[0].Attempts)
		s.log.Warn("announcements not posted; will retry", "channel", channel, "count", len(ns), "err", err, "in", delay)
		if err := s.store.RetryAnnouncements(bctx, ids, now.Add(delay), err.Error()); err != nil {
			s.log.Error("reschedule announcements", "err", err)
		}
	}
	if len(gone) > 0 {
		_ = s.store.FinishAnnouncements(bctx, gone)
	}
}

// reportLostAnnouncements tells the approvers which ended grants the
// announce channel never heard of (through the first request's lane, so
// the message names it; the detail names them all). If the approver
// channel is gone too, the log already says so.
func (s *Service) reportLostAnnouncements(ctx context.Context, channel string, ns []Notice, err error) {
	tickets := make([]string, 0, len(ns))
	for _, n := range ns {
		tickets = append(tickets, n.Request.Ticket)
	}
	detail := fmt.Sprintf("The announcement of %d ended grant%s in <#%s> could not be posted (%v); tickets: %s.",
		len(ns), plural(int64(len(ns))), channel, err, strings.Join(tickets, ", "))
	_, uerr := s.store.Update(ctx, ns[0].Request.ID, func(*Request) (Change, error) {
		return Change{
			Events:  []Event{{Actor: System, Action: ActionNoticeLost, Detail: detail, At: s.Now()}},
			Notices: []NoticeKind{NoticeUndeliverable},
			Detail:  detail,
		}, nil
	})
	if uerr != nil {
		s.log.Error("tell the approvers of lost announcements", "err", uerr)
	}
	s.Wake()
}

// channelGates remembers, in this process, channels where an urgent notice
// waits for Slack's rate limit: the announcer stays out of them meanwhile.
type channelGates struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func (g *channelGates) urgentWaiting(channel string, until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.until == nil {
		g.until = map[string]time.Time{}
	}
	if until.After(g.until[channel]) {
		g.until[channel] = until
	}
}

func (g *channelGates) blocked(channel string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.until[channel]
	if ok && !now.Before(t) {
		delete(g.until, channel)
		return false
	}
	return ok
}
