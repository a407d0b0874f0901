package workflow

import (
	"time"

	"github.com/gatepass/gatepass/tokens"
)

// State is where a request is in its lifecycle.
//
//	pending ─┬─ approve (N distinct) ─→ active ─┬─ exp passes ─→ expired
//	         ├─ deny ─→ denied                  └─ revoke ─→ revoked
//	         ├─ revoke ─→ withdrawn
//	         └─ pending_timeout ─→ timed_out
//
// A break-glass request starts active.
type State string

// Request states.
const (
	StatePending   State = "pending"
	StateActive    State = "active"
	StateDenied    State = "denied"
	StateWithdrawn State = "withdrawn"
	StateTimedOut  State = "timed_out"
	StateExpired   State = "expired"
	StateRevoked   State = "revoked"
)

// Open reports whether the request may still change by a decision.
func (s State) Open() bool { return s == StatePending }

// Request is one ask for access and, once granted, its grant.
type Request struct {
	ID                string
	Requester         string // Slack user ID
	Resource          string
	Level             string
	Duration          time.Duration
	DurationText      string // the duration as the requester wrote it ("90s"), if known
	Ticket            string
	Reason            string
	BreakGlass        bool
	ApprovalsRequired int
	State             State
	CreatedAt         time.Time
	PendingUntil      time.Time // a pending request times out at this instant

	Approvals []Approval // distinct approvers, in order
	DecidedBy string     // who approved last or denied
	DecidedAt time.Time

	Grant *Grant // set once the request is granted

	EndedBy string // who revoked or withdrew; empty for expiry and timeout
	EndedAt time.Time

	ReviewedBy string // break-glass review
	ReviewedAt time.Time

	Messages []MessageRef // chat messages that show this request

	Version int // bumped by every stored change
}

// Approval is one approver's yes.
type Approval struct {
	Approver string
	At       time.Time
}

// Grant is access that was issued: its token's hash and its lifetime.
type Grant struct {
	TokenHash   tokens.Hash // zero until a token is minted for delivery
	IssuedAt    time.Time   // whole seconds
	ExpiresAt   time.Time   // IssuedAt + Duration
	DeliveredAt time.Time   // when the token reached the requester; zero until then
}

// HasToken reports whether a token has been minted for the grant.
func (g *Grant) HasToken() bool { return g != nil && g.TokenHash != (tokens.Hash{}) }

// DurationString is the duration as the requester wrote it, or else in
// gatepass's compact form.
func (r *Request) DurationString() string {
	if r.DurationText != "" {
		return r.DurationText
	}
	return FormatDuration(r.Duration)
}

// Scope is "resource:level".
func (r *Request) Scope() string { return r.Resource + ":" + r.Level }

// ActiveAt reports whether the grant is usable at t: active and before exp.
func (r *Request) ActiveAt(t time.Time) bool {
	return r.State == StateActive && r.Grant != nil && t.Before(r.Grant.ExpiresAt)
}

// ApprovedBy reports whether user has approved the request.
func (r *Request) ApprovedBy(user string) bool {
	for _, a := range r.Approvals {
		if a.Approver == user {
			return true
		}
	}
	return false
}

// MessageRef locates a chat message that shows a request, so later changes
// can update it in place, even after a restart.
type MessageRef struct {
	Purpose string // MessageApproval or MessageAlert
	Channel string
	TS      string
}

// Message purposes.
const (
	MessageApproval = "approval" // the approval request with its buttons
	MessageAlert    = "alert"    // a break-glass alert with its review button
)

// Event is one line of the audit log: who did what to which request, when.
// Details never hold a token.
type Event struct {
	ID        int64
	RequestID string
	Actor     string // a Slack user ID, or System
	Action    string
	Detail    string
	At        time.Time
}

// System is the actor of events no person caused, such as expiry.
const System = "gatepass"

// Audit actions.
const (
	ActionRequested   = "request.created"
	ActionApproved    = "request.approved"
	ActionDenied      = "request.denied"
	ActionWithdrawn   = "request.withdrawn"
	ActionTimedOut    = "request.timed_out"
	ActionIssued      = "grant.issued"
	ActionTokenSent   = "grant.token_sent"
	ActionExpired     = "grant.expired"
	ActionRevoked     = "grant.revoked"
	ActionBreakGlass  = "grant.break_glass"
	ActionReviewed    = "grant.reviewed"
	ActionNoticeLost  = "notice.undeliverable"
	ActionTokenFailed = "grant.token_undeliverable"
)

// NoticeKind names something the requester or the channels must be told.
type NoticeKind string

// Notice kinds. Each is queued in the same transaction as the state change
// that causes it and delivered after it commits.
const (
	// In the channels:
	NoticeApprovalRequest NoticeKind = "approval_request" // post the approval message
	NoticeBreakGlassAlert NoticeKind = "break_glass_alert"
	NoticeRefresh         NoticeKind = "refresh" // update every message that shows the request
	NoticeAnnounceExpired NoticeKind = "announce_expired"
	NoticeAnnounceRevoked NoticeKind = "announce_revoked" // also a withdrawn pending request

	// To the requester, by direct message:
	NoticeToken    NoticeKind = "token" // mint the token and send it
	NoticeDenied   NoticeKind = "denied"
	NoticeTimedOut NoticeKind = "timed_out"
	NoticeExpired  NoticeKind = "expired"
	NoticeRevoked  NoticeKind = "revoked" // by someone else; also a withdrawn pending request
)

// Lanes order a request's notices: each lane's are delivered one after the
// other, oldest first, while the two lanes go independently, so a token
// never waits for a channel message, nor an announcement for a DM.
const (
	LaneChannel = "channel"
	LaneDM      = "dm"
)

// Lane is the lane of notices of this kind.
func (k NoticeKind) Lane() string {
	switch k {
	case NoticeToken, NoticeDenied, NoticeTimedOut, NoticeExpired, NoticeRevoked:
		return LaneDM
	default:
		return LaneChannel
	}
}

// Notice is what a Notifier is asked to say, with the request as it stands.
type Notice struct {
	Kind    NoticeKind
	Request Request
	Token   tokens.Secret // NoticeToken only: the token text, to be shown once
}

// Change is what a state change adds besides the request itself: audit
// events and notices, stored atomically with it.
type Change struct {
	Events  []Event
	Notices []NoticeKind
}

// Delivery is a queued notice claimed for delivery.
type Delivery struct {
	ID        int64
	RequestID string
	Kind      NoticeKind
	Attempts  int
}

// GrantInfo is what introspection needs to know of a grant, found by its
// token's hash.
type GrantInfo struct {
	RequestID  string
	Requester  string
	Resource   string
	Level      string
	Ticket     string
	BreakGlass bool
	State      State
	IssuedAt   time.Time
	ExpiresAt  time.Time
}
