package workflow

import (
	"context"
	"errors"
	"time"

	"github.com/gatepass/gatepass/tokens"
)

// Store is everything the workflow keeps: requests with their audit events
// (Requests), the notice outbox (Outbox), the memory of Slack requests
// already answered (Replays) and the record of token use (Usage). One
// database implements all four, so a change and its notices commit
// together.
type Store interface {
	Requests
	Outbox
	Replays
	Usage
}

// Requests keeps requests and their audit trail.
//
// Every write is atomic: a request, its events and its notices commit
// together or not at all. Implementations return ErrNotFound (wrapped or
// bare) for a missing request, and ErrBusy when the database could not be
// written before ctx ended.
type Requests interface {
	// Create stores a new request with its events and notices.
	Create(ctx context.Context, r Request, c Change) error
	// Get returns a request with its approvals, grant and messages.
	Get(ctx context.Context, id string) (Request, error)
	// Update reads a request, lets fn change it, and stores the result with
	// fn's events and notices. Concurrent updates of one request are
	// serialized: fn always sees the latest committed version. If fn
	// returns an error nothing is stored and Update returns that error.
	Update(ctx context.Context, id string, fn func(r *Request) (Change, error)) (Request, error)
	// UpdateMany applies fn to each of the requests in one transaction and
	// returns those it changed. A request for which fn returns ErrSkip is
	// left as it is; one that another writer holds at the moment may be
	// skipped too (it is due again on the next sweep).
	UpdateMany(ctx context.Context, ids []string, fn func(r *Request) (Change, error)) ([]Request, error)
	// Find returns requests matching q, newest first.
	Find(ctx context.Context, q Query) ([]Request, error)
	// DueRequests returns IDs of requests with something due (NextDue) at
	// or before now, earliest first.
	DueRequests(ctx context.Context, now time.Time, limit int) ([]string, error)
	// GrantByTokenHash finds the active grant whose current token has hash
	// h; ErrNotFound if none is active.
	GrantByTokenHash(ctx context.Context, h tokens.Hash) (GrantInfo, error)
	// AddMessages records chat messages that show a request.
	AddMessages(ctx context.Context, requestID string, refs []MessageRef) error
	// AppendEvents adds audit events that belong to no state change.
	AppendEvents(ctx context.Context, events []Event) error
	// Events returns a request's audit events in order.
	Events(ctx context.Context, requestID string) ([]Event, error)
}

// Query selects requests. Zero fields match everything.
type Query struct {
	IDs       []string
	Requester string
	Resource  string
	Ticket    string
	States    []State
	// BreakGlassUnreviewed selects break-glass grants nobody has reviewed.
	BreakGlassUnreviewed bool
	// Before pages backwards: only requests created before this instant.
	Before time.Time
	Limit  int // default 100
}

// Outbox holds the notices state changes queue, for delivery after they
// commit. Notices of one lane of one request are delivered in order and by
// one worker at a time; announcements are claimed in batches per channel.
type Outbox interface {
	// ClaimNotices leases, until now+lease and to worker, up to limit due
	// notices of the given priority, each the oldest of its lane. Its cost
	// grows with what it claims, not with the length of the queue.
	ClaimNotices(ctx context.Context, now time.Time, lease time.Duration, priority, limit int, worker string) ([]Delivery, error)
	// RenewLeases extends the leases worker holds on notices still being
	// delivered.
	RenewLeases(ctx context.Context, worker string, ids []int64, until time.Time) error
	// FinishNotice removes a delivered (or abandoned) notice and lets the
	// next of its lane be claimed. follow, if not empty, queues more
	// notices of the same request (such as telling the approvers that
	// something could not be delivered).
	FinishNotice(ctx context.Context, d Delivery, follow Change) error
	// RetryNotice releases a notice to be tried again at the given time;
	// countAttempt is false when the attempt never reached Slack (a rate
	// limit, a shutdown).
	RetryNotice(ctx context.Context, id int64, at time.Time, lastErr string, countAttempt bool) error
	// ClaimAnnouncements leases, until now+lease, up to limit due
	// announcements, revocations first, then oldest first.
	ClaimAnnouncements(ctx context.Context, now time.Time, lease time.Duration, limit int, worker string) ([]Announcement, error)
	// FinishAnnouncements removes announcements that were posted.
	FinishAnnouncements(ctx context.Context, ids []int64) error
	// RetryAnnouncements releases announcements to be tried again at the
	// given time.
	RetryAnnouncements(ctx context.Context, ids []int64, at time.Time, lastErr string) error
	// ReleaseAnnouncements lets claimed announcements go, due at once,
	// without counting an attempt.
	ReleaseAnnouncements(ctx context.Context, ids []int64) error
	// GateChannel takes channel's next posting slot for the announcer: it
	// reports true, and holds the slot until until, if no one holds it
	// after now. Processes sharing the database pace one channel together.
	GateChannel(ctx context.Context, channel string, now, until time.Time) (bool, error)
	// DeferChannel keeps the announcer out of channel until until (Slack
	// asked to wait, or a notice people wait for needs the next slot).
	DeferChannel(ctx context.Context, channel string, until time.Time) error
	// QueueStats reports queued notices and announcements, and the oldest.
	QueueStats(ctx context.Context) (QueueStats, error)
}

// QueueStats describes the outbox.
type QueueStats struct {
	Notices       int
	Announcements int
	Oldest        time.Time // zero when both are empty
}

// Replays remembers the Slack requests gatepass has accepted, so one sent
// again (a retry, or an attacker repeating a signed request) is answered
// without acting twice.
type Replays interface {
	// ClaimReplay records key as accepted until until. It reports whether
	// this is the first time; if not, reply is what the first answer was
	// (nil while that is still being worked out).
	ClaimReplay(ctx context.Context, key string, now, until time.Time) (first bool, reply []byte, err error)
	// SaveReplay records the answer given to the request named by key.
	SaveReplay(ctx context.Context, key string, reply []byte) error
}

// Usage keeps counts of token use.
type Usage interface {
	// RecordUses adds counts of use, and their audit events.
	RecordUses(ctx context.Context, uses []Use, events []Event) error
	// Uses returns the recorded use of the given grants.
	Uses(ctx context.Context, requestIDs []string) (map[string][]Use, error)
}

// ErrSkip tells UpdateMany to leave a request as it is.
var ErrSkip = errors.New("nothing to do")

// Notifier tells people about requests: it posts and updates the approval
// message, sends direct messages and announcements. It returns references
// to messages it posted that later notices should update. A notifier error
// wrapping ErrUndeliverable is not retried; one that is a *RateLimitError
// delays only notices to that channel.
type Notifier interface {
	Notify(ctx context.Context, n Notice) ([]MessageRef, error)
	// Announce posts one message to channel about the given notices
	// (several grants at once, as a summary).
	Announce(ctx context.Context, channel string, ns []Notice) error
}

// RateLimitError says a channel may not be posted to for a while.
type RateLimitError struct {
	Channel    string // "" when the limit is not the channel's
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimitError) Error() string {
	return "rate limited in " + e.Channel + " for " + e.RetryAfter.String() + ": " + e.Err.Error()
}

func (e *RateLimitError) Unwrap() error { return e.Err }

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
