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
	deliveryLease       = 30 * time.Second // a claimed notice is retried by others after this
	deliveryTimeout     = 20 * time.Second // one notice's chat calls, retries included
	bookkeepingTimeout  = 5 * time.Second  // recording a delivery's outcome
	deliveryBatch       = 32
	deliveryWorkers     = 4
	maxDeliveryAttempts = 15
	maxRetryDelay       = 5 * time.Minute
)

// Wake asks RunDeliveries to look for due notices now. It never blocks.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// RunDeliveries delivers queued notices until ctx ends, looking for due
// ones whenever Wake is called or a delivery finishes. Up to deliveryWorkers
// notices (of distinct requests or lanes) are delivered at once, so one slow request
// does not hold up the others. Deliveries run under work: when ctx ends, the
// ones under way may finish until the caller ends work (an interrupted
// notice is retried after its lease, by this process or another). Call Wake
// periodically so that retries which come due are picked up.
func (s *Service) RunDeliveries(ctx, work context.Context) {
	done := make(chan struct{}, deliveryWorkers) // never blocks: at most deliveryWorkers run
	var wg sync.WaitGroup
	defer wg.Wait()
	inflight, look := 0, true
	for {
		if look && inflight < deliveryWorkers && work.Err() == nil {
			look = false
			free := deliveryWorkers - inflight
			ds, err := s.store.ClaimDeliveries(work, s.Now(), deliveryLease, free)
			if err != nil {
				s.log.Error("claim notices", "err", err)
			}
			for _, d := range ds {
				inflight++
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.deliverOne(work, d)
					done <- struct{}{}
				}()
			}
			look = len(ds) == free // there may be more
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			look = true
		case <-done:
			inflight--
			look = true
		}
	}
}

// DeliverDue delivers every notice that is due, oldest first and in order
// within each request, and returns how many it handled. It returns when
// nothing due is left.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	handled := 0
	for ctx.Err() == nil {
		ds, err := s.store.ClaimDeliveries(ctx, s.Now(), deliveryLease, deliveryBatch)
		if err != nil {
			return handled, fmt.Errorf("claim notices: %w", err)
		}
		if len(ds) == 0 {
			return handled, nil
		}
		// Claimed notices belong to distinct lanes of requests, so they may
		// run in parallel without reordering any lane's notices.
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
		handled += len(ds)
	}
	return handled, ctx.Err()
}

// deliverOne delivers one claimed notice and records the outcome. The
// outcome is recorded even when ctx has ended (a timeout, or shutdown), so
// the notice is not left leased with its attempt uncounted.
func (s *Service) deliverOne(ctx context.Context, d Delivery) {
	dctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	err := s.deliver(dctx, d)
	cancel()
	ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	now := s.Now()
	log := s.log.With("notice", d.Kind, "request", d.RequestID, "attempt", d.Attempts+1)
	switch {
	case err == nil:
		if err := s.store.FinishDelivery(ctx, d.ID, now); err != nil {
			log.Error("mark notice delivered", "err", err)
		}
		return
	case errors.Is(err, ErrUndeliverable) || d.Attempts+1 >= maxDeliveryAttempts:
		log.Error("notice undeliverable; giving up", "err", err)
		action := ActionNoticeLost
		if d.Kind == NoticeToken {
			action = ActionTokenFailed
		}
		if aerr := s.store.AppendEvents(ctx, []Event{{RequestID: d.RequestID, Actor: System, Action: action, Detail: fmt.Sprintf("%s: %v", d.Kind, err), At: now}}); aerr != nil {
			log.Error("record undeliverable notice", "err", aerr)
		}
		if err := s.store.FinishDelivery(ctx, d.ID, now); err != nil {
			log.Error("abandon notice", "err", err)
		}
	default:
		delay := retryDelay(d.Attempts)
		log.Warn("notice not delivered; will retry", "err", err, "in", delay)
		if err := s.store.RetryDelivery(ctx, d.ID, now.Add(delay), err.Error()); err != nil {
			log.Error("reschedule notice", "err", err)
		}
	}
}

// retryDelay backs off exponentially from one second to maxRetryDelay.
func retryDelay(attempts int) time.Duration {
	d := time.Second << min(attempts, 20)
	return min(d, maxRetryDelay)
}

func (s *Service) deliver(ctx context.Context, d Delivery) error {
	r, err := s.store.Get(ctx, d.RequestID)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: request %s is gone", ErrUndeliverable, d.RequestID)
	}
	if err != nil {
		return fmt.Errorf("load request: %w", err)
	}
	if d.Kind == NoticeToken {
		return s.deliverToken(ctx, r)
	}
	refs, err := s.notifier.Notify(ctx, Notice{Kind: d.Kind, Request: r})
	if len(refs) > 0 {
		if serr := s.store.AddMessages(ctx, r.ID, refs); serr != nil {
			return errors.Join(err, fmt.Errorf("remember posted messages: %w", serr))
		}
	}
	return err
}

// errGrantGone tells Store.Update that a grant ended before its token could
// be delivered.
var errGrantGone = errors.New("grant no longer active")

// deliverToken mints the grant's token, stores its hash, and sends the text
// to the requester. Each attempt mints a fresh token that replaces the
// last, so a token whose delivery failed (or whose text was lost in a crash)
// is never valid.
func (s *Service) deliverToken(ctx context.Context, r Request) error {
	if r.Grant == nil || !r.ActiveAt(s.Now()) || !r.Grant.DeliveredAt.IsZero() {
		return nil // ended, or sent already
	}
	text, err := tokens.Mint(s.random)
	if err != nil {
		return err
	}
	hash := tokens.HashOf(text)
	r, err = s.store.Update(ctx, r.ID, func(r *Request) (Change, error) {
		if r.Grant == nil || !r.ActiveAt(s.Now()) {
			return Change{}, errGrantGone
		}
		r.Grant.TokenHash = hash
		return Change{}, nil
	})
	if errors.Is(err, errGrantGone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store token hash: %w", err)
	}
	if _, err := s.notifier.Notify(ctx, Notice{Kind: NoticeToken, Request: r, Token: tokens.Secret(text)}); err != nil {
		return err
	}
	_, err = s.store.Update(ctx, r.ID, func(r *Request) (Change, error) {
		if r.Grant == nil {
			return Change{}, errGrantGone
		}
		now := s.Now()
		r.Grant.DeliveredAt = now
		return Change{Events: []Event{{RequestID: r.ID, Actor: System, Action: ActionTokenSent, Detail: "sent to the requester by direct message", At: now}}}, nil
	})
	if err != nil && !errors.Is(err, errGrantGone) {
		return fmt.Errorf("record token delivery: %w", err)
	}
	return nil
}
