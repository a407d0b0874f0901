package workflow

import (
	"context"
	"time"

	"github.com/gatepass/gatepass/tokens"
)

// Store keeps requests, their audit events and their queued notices.
//
// Every write is atomic: a request, its events and its notices commit
// together or not at all. Implementations return ErrNotFound (wrapped or
// bare) for a missing request.
type Store interface {
	// Create stores a new request with its events and notices.
	Create(ctx context.Context, r Request, c Change) error
	// Get returns a request with its approvals, grant and messages.
	Get(ctx context.Context, id string) (Request, error)
	// Update reads a request, lets fn change it, and stores the result with
	// fn's events and notices. Concurrent updates of one request are
	// serialized: fn always sees the latest committed version. If fn
	// returns an error nothing is stored and Update returns that error.
	Update(ctx context.Context, id string, fn func(r *Request) (Change, error)) (Request, error)
	// ListByRequester returns the requester's requests in the given states,
	// newest first.
	ListByRequester(ctx context.Context, requester string, states ...State) ([]Request, error)
	// DueExpiries returns IDs of active requests whose grant expires at or
	// before now.
	DueExpiries(ctx context.Context, now time.Time, limit int) ([]string, error)
	// DueTimeouts returns IDs of pending requests whose PendingUntil is at or
	// before now.
	DueTimeouts(ctx context.Context, now time.Time, limit int) ([]string, error)
	// GrantByTokenHash finds the grant whose current token has hash h.
	GrantByTokenHash(ctx context.Context, h tokens.Hash) (GrantInfo, error)
	// ClaimDeliveries leases, until now+lease, the oldest undelivered notice
	// of each request and lane (NoticeKind.Lane) that is due (attempt time
	// reached, no live lease), so the notices of one lane of a request are
	// delivered in order and by one worker.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// FinishDelivery marks a notice delivered (or abandoned).
	FinishDelivery(ctx context.Context, id int64, at time.Time) error
	// RetryDelivery releases a notice to be tried again at the given time.
	RetryDelivery(ctx context.Context, id int64, at time.Time, lastErr string) error
	// AddMessages records chat messages that show a request.
	AddMessages(ctx context.Context, requestID string, refs []MessageRef) error
	// AppendEvents adds audit events that belong to no state change.
	AppendEvents(ctx context.Context, events []Event) error
	// Events returns a request's audit events in order.
	Events(ctx context.Context, requestID string) ([]Event, error)
}

// Notifier tells people about requests: it posts and updates the approval
// message, sends direct messages and announcements. It returns references
// to messages it posted that later notices should update. A notifier error
// wrapping ErrUndeliverable is not retried.
type Notifier interface {
	Notify(ctx context.Context, n Notice) ([]MessageRef, error)
}

// Directory resolves user groups named as approvers.
type Directory interface {
	GroupMembers(ctx context.Context, groupID string) ([]string, error)
}

// Clock tells the time. Tests pass one they can advance.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
