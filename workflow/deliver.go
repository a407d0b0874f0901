package workflow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gatepass/gatepass/tokens"
)

// Delivery tuning.
const (
	noticeLease        = 10 * time.Second // a crashed worker's notices are taken over after this
	leaseRenewEvery    = 3 * time.Second  // while a notice is being delivered
	deliveryTimeout    = 20 * time.Second // one notice's Slack (or provider) calls
	bookkeepingTimeout = 5 * time.Second  // recording a delivery's outcome
	deliveryWorkers    = 8
	urgentReserve      = 3 // workers kept free for urgent notices
	maxRetryDelay      = 5 * time.Minute
	// noticeMaxAge is how long a notice is retried before gatepass gives
	// up on it and tells the approvers. Token DMs are retried while their
	// grant lasts, provider revocations until they succeed.
	noticeMaxAge = 24 * time.Hour
	// providerGrantAttempts bounds tries at creating a provider's
	// credential before the request fails.
	providerGrantAttempts = 4
	// providerAlertEvery: the approvers hear of a failing provider
	// revocation at its 3rd failure and every this many after.
	providerAlertEvery = 12
)

// Wake asks RunDeliveries to look for due notices now. It never blocks.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// RunDeliveries delivers queued notices until ctx ends, looking for due
// ones whenever Wake is called or a delivery finishes. Up to
// deliveryWorkers notices (of distinct lanes) are delivered at once;
// urgent notices (what people wait for) are claimed first, and some
// workers are kept for them, so a backlog of routine notices never holds
// up a token. Deliveries run under work: when ctx ends, those under way
// may finish until the caller ends work (an interrupted notice is taken
// over when its lease runs out, by this process or another). Call Wake
// periodically so that retries which come due are picked up.
func (s *Service) RunDeliveries(ctx, work context.Context) {
	type finished struct{ id int64 }
	done := make(chan finished, deliveryWorkers)
	inflight := map[int64]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	renew := time.NewTicker(leaseRenewEvery)
	defer renew.Stop()
	start := func(ds []Delivery) {
		for _, d := range ds {
			inflight[d.ID] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.deliverOne(work, d)
				done <- finished{d.ID}
			}()
		}
	}
	look := true
	for {
		if look && work.Err() == nil {
			look = false
			if free := deliveryWorkers - len(inflight); free > 0 {
				ds, err := s.store.ClaimNotices(work, s.Now(), noticeLease, PriorityUrgent, free, s.worker)
				if err != nil {
					s.log.Error("claim notices", "err", err)
				}
				start(ds)
				more := len(ds) == free
				if routine := free - len(ds) - urgentReserve; routine > 0 {
					rs, err := s.store.ClaimNotices(work, s.Now(), noticeLease, PriorityRoutine, routine, s.worker)
					if err != nil {
						s.log.Error("claim notices", "err", err)
					}
					start(rs)
					more = more || len(rs) == routine
				}
				look = more
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			look = true
		case f := <-done:
			delete(inflight, f.id)
			look = true
		case <-renew.C:
			ids := make([]int64, 0, len(inflight))
			for id := range inflight {
				ids = append(ids, id)
			}
			if err := s.store.RenewLeases(work, s.worker, ids, s.Now().Add(noticeLease)); err != nil && work.Err() == nil {
				s.log.Warn("renew notice leases", "err", err)
			}
			s.forgetStaleSecrets()
		}
	}
}

// DeliverDue delivers every notice and announcement that is due, oldest
// first and in order within each lane, and returns how many it handled.
// It returns when nothing due is left. Announcements are not paced.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	handled := 0
	for ctx.Err() == nil {
		var ds []Delivery
		for _, p := range []int{PriorityUrgent, PriorityRoutine} {
			got, err := s.store.ClaimNotices(ctx, s.Now(), noticeLease, p, 32, s.worker)
			if err != nil {
				return handled, fmt.Errorf("claim notices: %w", err)
			}
			ds = append(ds, got...)
		}
		anns, err := s.store.ClaimAnnouncements(ctx, s.Now(), noticeLease, announceBatch, s.worker)
		if err != nil {
			return handled, fmt.Errorf("claim announcements: %w", err)
		}
		if len(ds) == 0 && len(anns) == 0 {
			return handled, nil
		}
		// Claimed notices are heads of distinct lanes, so they may run in
		// parallel without reordering any lane.
		var wg sync.WaitGroup
		sem := make(chan struct{}, deliveryWorkers)
		for _, d := range ds {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				s.deliverOne(ctx, d)
			}()
		}
		wg.Wait()
		if len(anns) > 0 {
			s.announce(ctx, s.policy.AnnounceChannel, anns)
		}
		handled += len(ds) + len(anns)
	}
	return handled, ctx.Err()
}

// deliverOne delivers one claimed notice and records the outcome. The
// outcome is recorded even when ctx has ended (a timeout, or shutdown), so
// the notice is not left leased with its attempt uncounted.
func (s *Service) deliverOne(ctx context.Context, d Delivery) {
	dctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	follow, err := s.deliver(dctx, d)
	cancel()
	shutdown := ctx.Err() != nil
	ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	now := s.Now()
	log := s.log.With("notice", d.Kind, "request_id", d.RequestID, "attempt", d.Attempts+1)
	var rl *RateLimitError
	switch {
	case err == nil:
		s.metrics.Delivery(string(d.Kind), "delivered")
		if err := s.store.FinishNotice(ctx, d, follow); err != nil {
			log.Error("mark notice delivered", "err", err)
		}
	case errors.As(err, &rl):
		s.metrics.Delivery(string(d.Kind), "rate_limited")
		wait := max(rl.RetryAfter, time.Second)
		log.Info("Slack asked to wait; will retry", "channel", rl.Channel, "in", wait)
		if rl.Channel != "" {
			s.gates.urgentWaiting(rl.Channel, now.Add(wait+announcePace))
			if d.Kind.Priority() == PriorityUrgent {
				if err := s.store.DeferChannel(ctx, rl.Channel, now.Add(wait+announcePace)); err != nil {
					log.Warn("hold announcements for an urgent notice", "err", err)
				}
			}
		}
		if err := s.store.RetryNotice(ctx, d.ID, now.Add(wait), err.Error(), false); err != nil {
			log.Error("reschedule notice", "err", err)
		}
	case shutdown && errors.Is(err, context.Canceled):
		// Shutting down: the attempt did not count.
		if err := s.store.RetryNotice(ctx, d.ID, now, err.Error(), false); err != nil {
			log.Error("release notice", "err", err)
		}
	case errors.Is(err, ErrUndeliverable) || (d.Kind != NoticeProviderRevoke && now.Sub(d.QueuedAt) > noticeMaxAge):
		s.metrics.Delivery(string(d.Kind), "undeliverable")
		log.Error("notice undeliverable; giving up", "err", err)
		follow := Change{Events: []Event{{Actor: System, Action: ActionNoticeLost, Detail: fmt.Sprintf("%s: %v", d.Kind, err), At: now}}}
		if d.Kind != NoticeUndeliverable && d.Kind != NoticeFailureAlert && d.Kind != NoticeProviderFailing {
			// Tell the approvers; if even that cannot be delivered, the log
			// above is where it stays.
			follow.Notices = []NoticeKind{NoticeUndeliverable}
			follow.Detail = fmt.Sprintf("The %s could not be delivered: %v", noticeWords(d.Kind), err)
		}
		if err := s.store.FinishNotice(ctx, d, follow); err != nil {
			log.Error("abandon notice", "err", err)
		}
	default:
		s.metrics.Delivery(string(d.Kind), "retry")
		delay := retryDelay(d.Attempts)
		log.Warn("notice not delivered; will retry", "err", err, "in", delay)
		if err := s.store.RetryNotice(ctx, d.ID, now.Add(delay), err.Error(), true); err != nil {
			log.Error("reschedule notice", "err", err)
		}
	}
}

// noticeWords names a notice for people.
func noticeWords(k NoticeKind) string {
	switch k {
	case NoticeApprovalRequest:
		return "approval request message"
	case NoticeBreakGlassAlert:
		return "break-glass alert"
	case NoticeRefresh, NoticeRefreshLater:
		return "update of the request's messages"
	case NoticeToken:
		return "token message"
	case NoticeExtensionRequest:
		return "extension request message"
	default:
		return string(k) + " message"
	}
}

// retryDelay backs off exponentially from one second to maxRetryDelay.
func retryDelay(attempts int) time.Duration {
	d := time.Second << min(attempts, 20)
	return min(d, maxRetryDelay)
}

// deliver carries out one notice and returns what its success adds (such
// as an audit event).
func (s *Service) deliver(ctx context.Context, d Delivery) (Change, error) {
	r, err := s.store.Get(ctx, d.RequestID)
	if errors.Is(err, ErrNotFound) {
		return Change{}, fmt.Errorf("%w: request %s is gone", ErrUndeliverable, d.RequestID)
	}
	if err != nil {
		return Change{}, fmt.Errorf("load request: %w", err)
	}
	switch d.Kind {
	case NoticeToken:
		return Change{}, s.deliverToken(ctx, d, r)
	case NoticeProviderRevoke:
		return s.providerRevoke(ctx, d, r)
	case NoticeProviderExtend:
		return s.providerExtend(ctx, r)
	}
	n := Notice{Kind: d.Kind, Request: r, Detail: d.Detail}
	if d.Kind == NoticeExpired || d.Kind == NoticeRevoked {
		if u, err := s.usesOf(ctx, []string{r.ID}); err == nil {
			n.Uses = u[r.ID]
		}
	}
	if refs := s.unsavedRefs(r.ID); len(refs) > 0 {
		// Messages posted earlier whose references could not be stored:
		// store them now rather than post again.
		if err := s.store.AddMessages(ctx, r.ID, refs); err != nil {
			return Change{}, fmt.Errorf("remember posted messages: %w", err)
		}
		s.savedRefs(r.ID)
		n.Request.Messages = append(n.Request.Messages, refs...)
	}
	refs, err := s.notifier.Notify(ctx, n)
	if len(refs) > 0 {
		if serr := s.store.AddMessages(ctx, r.ID, refs); serr != nil {
			s.keepRefs(r.ID, refs)
			return Change{}, errors.Join(err, fmt.Errorf("remember posted messages: %w", serr))
		}
	}
	return Change{}, err
}

// heldSecret is a token (and its provider credential) on its way to the
// requester. Tokens are kept only in memory, only until they are
// delivered or their grant ends.
type heldSecret struct {
	hash  tokens.Hash
	token tokens.Secret
	cred  Credential
	until time.Time
}

func (s *Service) hold(id string, h heldSecret) {
	s.heldMu.Lock()
	s.held[id] = h
	s.heldMu.Unlock()
}

func (s *Service) heldFor(id string) (heldSecret, bool) {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	h, ok := s.held[id]
	return h, ok
}

func (s *Service) forget(id string) {
	s.heldMu.Lock()
	delete(s.held, id)
	s.heldMu.Unlock()
}

func (s *Service) forgetStaleSecrets() {
	now := s.Now()
	s.heldMu.Lock()
	for id, h := range s.held {
		if !now.Before(h.until) {
			delete(s.held, id)
		}
	}
	s.heldMu.Unlock()
}

// deliverToken sends the grant's token (and its provider's credential) to
// the requester.
//
// The rule: a token is minted, and its hash stored, before the first
// attempt to send it; its text stays in this process's memory until it is
// delivered. An attempt that fails is retried with the same text, so a
// message Slack accepted late (after gatepass stopped waiting) shows a
// token that works. Only when the text is gone (this process restarted,
// or another replica took the notice over) is a new token minted: storing
// its hash ends the old token at that moment, so a token whose text may
// have been lost never works. A provider's credential follows the same
// rule: it is created (or replaced) right before the token is minted.
func (s *Service) deliverToken(ctx context.Context, d Delivery, r Request) error {
	now := s.Now()
	if r.Grant == nil || !r.ActiveAt(now) || !r.Grant.DeliveredAt.IsZero() {
		s.forget(r.ID)
		return nil // ended, or sent already
	}
	h, ok := s.heldFor(r.ID)
	if !ok || h.hash != r.Grant.TokenHash {
		var cred Credential
		var events []Event
		p := s.providers[r.Resource]
		if p != nil {
			var err error
			cred, err = p.Grant(ctx, s.providerGrant(&r))
			if err != nil {
				return s.providerGrantFailed(ctx, d, r, err)
			}
			events = append(events, Event{Actor: System, Action: ActionProvGranted, Detail: s.policy.Resources[r.Resource].Provider.Kind, At: now})
		}
		text, err := tokens.Mint(s.random)
		if err != nil {
			return err
		}
		hash := tokens.HashOf(text)
		attempt := "first token"
		if r.Grant.HasToken() {
			attempt = "a new token replaces one whose delivery is in doubt"
		}
		events = append(events, Event{Actor: System, Action: ActionTokenMinted, Detail: attempt, At: now})
		ended := false
		before := r
		r, err = s.store.Update(ctx, r.ID, func(r *Request) (Change, error) {
			ended = r.Grant == nil || !r.ActiveAt(s.Now())
			if ended || !r.Grant.DeliveredAt.IsZero() {
				return Change{}, errGrantGone
			}
			r.Grant.TokenHash = hash
			return Change{Events: events}, nil
		})
		if errors.Is(err, errGrantGone) {
			if p != nil && ended {
				// The grant ended while its credential was being made, and
				// its revoke may have run before: undo it now (revokes are
				// idempotent) rather than leave it until its expiry.
				if err := p.Revoke(ctx, s.providerGrant(&before)); err != nil {
					s.log.Warn("revoke the credential of a grant that ended while it was made", "request_id", before.ID, "err", err)
				}
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("store token hash: %w", err)
		}
		h = heldSecret{hash: hash, token: tokens.Secret(text), cred: cred, until: r.Grant.ExpiresAt}
		s.hold(r.ID, h)
	}
	if _, err := s.notifier.Notify(ctx, Notice{Kind: NoticeToken, Request: r, Token: h.token, Credential: h.cred}); err != nil {
		if errors.Is(err, ErrUndeliverable) {
			s.forget(r.ID)
			return s.failGrant(ctx, r.ID, fmt.Sprintf("its token could not be delivered: %v", err))
		}
		return err
	}
	// The text is kept until the delivery is recorded: a retry after a
	// failed record sends the same token again rather than a new one.
	_, err := s.store.Update(ctx, r.ID, func(r *Request) (Change, error) {
		if r.Grant == nil {
			return Change{}, errGrantGone
		}
		now := s.Now()
		r.Grant.DeliveredAt, r.Grant.DeliverBy = now, time.Time{}
		return Change{Events: []Event{{Actor: System, Action: ActionTokenSent, Detail: "sent to the requester by direct message", At: now}}}, nil
	})
	if err != nil && !errors.Is(err, errGrantGone) {
		return fmt.Errorf("record token delivery: %w", err)
	}
	s.forget(r.ID)
	return nil
}

// failGrant ends an active grant that cannot be completed (its provider
// failed, or its token cannot be delivered): the requester and the
// approvers are told why, and the provider removes what it made.
func (s *Service) failGrant(ctx context.Context, id, why string) error {
	_, err := s.store.Update(ctx, id, func(r *Request) (Change, error) {
		if r.State != StateActive {
			return Change{}, errGrantGone
		}
		now := s.Now()
		r.State, r.EndedAt, r.EndedBy, r.EndReason = StateFailed, now, System, why
		if r.Extension.Pending() {
			r.Extension.State, r.Extension.DecidedAt = ExtensionCancelled, now
		}
		return Change{
			Events:  []Event{{Actor: System, Action: ActionFailed, Detail: why, At: now}},
			Notices: s.failNotices(r),
			Detail:  why,
		}, nil
	})
	if errors.Is(err, errGrantGone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("end failed grant: %w", err)
	}
	s.metrics.GrantEnded("failed")
	s.log.Error("grant failed", "request_id", id, "why", why)
	s.Wake()
	return nil
}

// providerGrant describes a grant to its resource's provider.
func (s *Service) providerGrant(r *Request) ProviderGrant {
	g := ProviderGrant{RequestID: r.ID, Resource: r.Resource, Level: r.Level, Requester: r.Requester, Ticket: r.Ticket, BreakGlass: r.BreakGlass}
	if r.Grant != nil {
		g.IssuedAt, g.ExpiresAt = r.Grant.IssuedAt, r.Grant.ExpiresAt
	}
	if res, ok := s.policy.Resources[r.Resource]; ok {
		if l, ok := res.Levels[r.Level]; ok {
			g.Roles, g.Methods = l.Roles, l.Methods
		}
	}
	return g
}

// providerGrantFailed retries a provider that could not grant a few times,
// then fails the request: nothing is left half-made.
func (s *Service) providerGrantFailed(ctx context.Context, d Delivery, r Request, err error) error {
	s.log.Warn("provider could not grant access", "request_id", r.ID, "resource", r.Resource, "attempt", d.Attempts+1, "err", err)
	if d.Attempts+1 < providerGrantAttempts && !errors.Is(err, ErrUndeliverable) {
		return fmt.Errorf("provider grant: %w", err)
	}
	return s.failGrant(ctx, r.ID, fmt.Sprintf("the %s provider could not grant access: %v", s.policy.Resources[r.Resource].Provider.Kind, err))
}

// providerRevoke has the provider remove what it made for a grant that
// ended. It is retried until it succeeds; the approvers are alerted while
// it keeps failing (the token is inactive meanwhile).
func (s *Service) providerRevoke(ctx context.Context, d Delivery, r Request) (Change, error) {
	p := s.providers[r.Resource]
	if p == nil {
		return Change{}, nil
	}
	if err := p.Revoke(ctx, s.providerGrant(&r)); err != nil {
		if n := d.Attempts + 1; n == 3 || (n > 3 && (n-3)%providerAlertEvery == 0) {
			_, qerr := s.store.Update(ctx, r.ID, func(*Request) (Change, error) {
				return Change{
					Events:  []Event{{Actor: System, Action: ActionProvFailing, Detail: fmt.Sprintf("attempt %d: %v", n, err), At: s.Now()}},
					Notices: []NoticeKind{NoticeProviderFailing},
					Detail:  fmt.Sprintf("Removing access from %s failed %d times (%v); gatepass keeps trying. The gatepass token is already inactive.", r.Resource, n, err),
				}, nil
			})
			if qerr != nil {
				s.log.Error("alert approvers of a failing provider", "request_id", r.ID, "err", qerr)
			}
			s.Wake()
		}
		return Change{}, fmt.Errorf("provider revoke: %w", err)
	}
	return Change{Events: []Event{{Actor: System, Action: ActionProvRevoked, Detail: s.policy.Resources[r.Resource].Provider.Kind, At: s.Now()}}}, nil
}

// providerExtend moves the provider's credential to the grant's new
// expiry, while the grant lasts.
func (s *Service) providerExtend(ctx context.Context, r Request) (Change, error) {
	p := s.providers[r.Resource]
	if p == nil || !r.ActiveAt(s.Now()) {
		return Change{}, nil
	}
	if err := p.Extend(ctx, s.providerGrant(&r)); err != nil {
		return Change{}, fmt.Errorf("provider extend: %w", err)
	}
	return Change{}, nil
}

// ReconcileProviders asks every provider to remove what a crash may have
// left behind: anything belonging to no live grant.
func (s *Service) ReconcileProviders(ctx context.Context) error {
	const reconcileLimit = 100_000
	var errs []error
	for name, p := range s.providers {
		rs, err := s.store.Find(ctx, Query{Resource: name, States: []State{StateActive}, Limit: reconcileLimit})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(rs) >= reconcileLimit {
			// A partial list would make live grants' credentials look
			// left over: remove nothing.
			errs = append(errs, fmt.Errorf("%s: %d or more live grants, too many to reconcile; nothing was removed", name, reconcileLimit))
			continue
		}
		var live []ProviderGrant
		for i := range rs {
			if rs[i].ActiveAt(s.Now()) {
				live = append(live, s.providerGrant(&rs[i]))
			}
		}
		if err := p.Reconcile(ctx, live); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// keepRefs remembers references to messages that were posted but could
// not be stored, so a retry stores them instead of posting again.
func (s *Service) keepRefs(id string, refs []MessageRef) { s.unsaved.Store(id, refs) }

func (s *Service) unsavedRefs(id string) []MessageRef {
	if v, ok := s.unsaved.Load(id); ok {
		return v.([]MessageRef)
	}
	return nil
}

func (s *Service) savedRefs(id string) { s.unsaved.Delete(id) }
