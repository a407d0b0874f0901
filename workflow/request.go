package workflow

import (
	"strconv"
	"time"

	"github.com/gatepass/gatepass/tokens"
)

// State is where a request is in its lifecycle.
//
//	pending ─┬─ approve (N distinct) ─→ active ─┬─ exp passes ─→ expired
//	         ├─ deny ─→ denied                  ├─ revoke ─→ revoked
//	         ├─ cancel/revoke ─→ withdrawn      └─ provider or token
//	         └─ pending_timeout ─→ timed_out       delivery fails ─→ failed
//
// A break-glass request starts active. An active grant may be extended:
// an extension is asked for, decided like a request, and once approved
// moves the same grant's expiry later.
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
	StateFailed    State = "failed"
)

// Open reports whether the request may still change by a decision.
func (s State) Open() bool { return s == StatePending }

// Ended reports whether the request has reached a final state.
func (s State) Ended() bool { return s != StatePending && s != StateActive }

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
	RemindAt          time.Time // approvers are reminded of a pending request then; zero once done or never

	Approvals []Approval // distinct approvers, in order
	DecidedBy string     // who approved last or denied
	DecidedAt time.Time

	Grant *Grant // set once the request is granted

	EndedBy   string // who revoked or withdrew; empty for expiry and timeout
	EndedAt   time.Time
	EndReason string // why it ended, when someone said or something failed

	ReviewedBy     string // break-glass review
	ReviewedAt     time.Time
	ReviewRemindAt time.Time // next reminder of an unreviewed break-glass grant; zero if none

	// Extension is the latest extension asked for, if any.
	Extension *Extension

	// ResponseURL updates the requester's ephemeral receipt (Slack's
	// response_url); empty when there is none.
	ResponseURL string

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
	ExpiresAt   time.Time   // IssuedAt + Duration, plus approved extensions
	DeliveredAt time.Time   // when the token reached the requester; zero until then
	WarnAt      time.Time   // the requester is warned of the coming expiry then; zero once done or never
	// DeliverBy ends the grant as failed if its token has not reached the
	// requester by then; zero once delivered.
	DeliverBy time.Time
}

// HasToken reports whether a token has been minted for the grant.
func (g *Grant) HasToken() bool { return g != nil && g.TokenHash != (tokens.Hash{}) }

// ExtensionState is where an extension stands.
type ExtensionState string

// Extension states.
const (
	ExtensionPending   ExtensionState = "pending"
	ExtensionApproved  ExtensionState = "approved"
	ExtensionDenied    ExtensionState = "denied"
	ExtensionTimedOut  ExtensionState = "timed_out"
	ExtensionCancelled ExtensionState = "cancelled"
)

// Extension is a requester's ask for more time on an active grant. It is
// decided like a request: the level's number of distinct approvers, never
// the requester.
type Extension struct {
	Seq          int // 1 for a grant's first extension
	Duration     time.Duration
	DurationText string
	State        ExtensionState
	RequestedAt  time.Time
	PendingUntil time.Time
	RemindAt     time.Time
	Approvals    []Approval
	DecidedBy    string
	DecidedAt    time.Time
}

// Pending reports whether an extension awaits a decision.
func (e *Extension) Pending() bool { return e != nil && e.State == ExtensionPending }

// DurationString is the extension's duration as the requester wrote it,
// or else in gatepass's compact form.
func (e *Extension) DurationString() string {
	if e.DurationText != "" {
		return e.DurationText
	}
	return FormatDuration(e.Duration)
}

// ApprovedBy reports whether user has approved the extension.
func (e *Extension) ApprovedBy(user string) bool {
	for _, a := range e.Approvals {
		if a.Approver == user {
			return true
		}
	}
	return false
}

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

// NextDue is the earliest instant at which something is due for the
// request (a timeout, a reminder, a warning, an expiry), or zero if
// nothing ever will be. Stores index it, so one sweep finds every timer.
func (r *Request) NextDue() time.Time {
	var due time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	switch r.State {
	case StatePending:
		consider(r.PendingUntil)
		consider(r.RemindAt)
	case StateActive:
		if r.Grant != nil {
			consider(r.Grant.ExpiresAt)
			consider(r.Grant.WarnAt)
			if r.Grant.DeliveredAt.IsZero() {
				consider(r.Grant.DeliverBy)
			}
		}
		if r.Extension.Pending() {
			consider(r.Extension.PendingUntil)
			consider(r.Extension.RemindAt)
		}
	}
	if r.BreakGlass && r.ReviewedBy == "" {
		consider(r.ReviewRemindAt)
	}
	return due
}

// MessageRef locates a chat message that shows a request, so later changes
// can update it in place, even after a restart.
type MessageRef struct {
	Purpose string // MessageApproval, MessageAlert or ExtensionPurpose(n)
	Channel string
	TS      string
}

// Message purposes.
const (
	MessageApproval = "approval" // the approval request with its buttons
	MessageAlert    = "alert"    // a break-glass alert with its review button
	MessageReceipt  = "receipt"  // the requester's receipt, when it is a direct message
	MessageWarning  = "warning"  // the requester's "ends soon" message with its Extend button
)

// ExtensionPurpose is the purpose of the approval message of a grant's
// n-th extension.
func ExtensionPurpose(n int) string { return "extension:" + strconv.Itoa(n) }

// Event is one line of the audit log: who did what to which request, when.
// Details never hold a token or a password.
//
// Stores chain events: each carries the hash of the one before it, so any
// edit, deletion, insertion or reordering is evident (see package audit).
type Event struct {
	Seq       int64 // position in the log, from 1, without gaps; set by the store
	RequestID string
	Actor     string // a Slack user ID, System, or an operator ("cli:alice")
	Action    string
	Detail    string
	At        time.Time
	// Resource, Level and Ticket of the request, filled in by the store
	// when empty.
	Resource string
	Level    string
	Ticket   string
	PrevHash string // set by the store
	Hash     string // set by the store
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
	ActionReminded    = "request.reminded"
	ActionIssued      = "grant.issued"
	ActionTokenMinted = "grant.token_minted"
	ActionTokenSent   = "grant.token_sent"
	ActionExpired     = "grant.expired"
	ActionRevoked     = "grant.revoked"
	ActionFailed      = "grant.failed"
	ActionBreakGlass  = "grant.break_glass"
	ActionReviewed    = "grant.reviewed"
	ActionReviewDue   = "grant.review_reminded"
	ActionWarned      = "grant.expiry_warned"
	ActionUsed        = "grant.used"
	ActionExtAsked    = "extension.requested"
	ActionExtApproved = "extension.approved"
	ActionExtDenied   = "extension.denied"
	ActionExtTimedOut = "extension.timed_out"
	ActionExtCancel   = "extension.cancelled"
	ActionExtended    = "grant.extended"
	ActionProvGranted = "provider.granted"
	ActionProvRevoked = "provider.revoked"
	ActionProvFailing = "provider.revoke_failing"
	ActionNoticeLost  = "notice.undeliverable"
	ActionTokenFailed = "grant.token_undeliverable"
	ActionPruned      = "audit.pruned"
)

// NoticeKind names something the requester or the channels must be told,
// or an action a provider must take.
type NoticeKind string

// Notice kinds. Each is queued in the same transaction as the state change
// that causes it and delivered after it commits.
const (
	// In the channels, one lane per request:
	NoticeApprovalRequest  NoticeKind = "approval_request" // post the approval message
	NoticeBreakGlassAlert  NoticeKind = "break_glass_alert"
	NoticeRefresh          NoticeKind = "refresh"       // update every message that shows the request
	NoticeRefreshLater     NoticeKind = "refresh_later" // the same, for bookkeeping (expiry, timeout)
	NoticeExtensionRequest NoticeKind = "extension_request"
	NoticeReminder         NoticeKind = "reminder"        // a pending request or extension, in its message's thread
	NoticeReviewReminder   NoticeKind = "review_reminder" // an unreviewed break-glass grant
	NoticeUndeliverable    NoticeKind = "undeliverable"   // tell the approvers something could not be delivered
	NoticeFailureAlert     NoticeKind = "failure_alert"   // tell the approvers a grant failed
	NoticeProviderFailing  NoticeKind = "provider_failing"

	// In the announce channel, batched into summaries:
	NoticeAnnounceExpired NoticeKind = "announce_expired"
	NoticeAnnounceRevoked NoticeKind = "announce_revoked" // also a withdrawn pending request

	// To the requester, one lane per request:
	NoticeToken           NoticeKind = "token" // mint the token (and the provider's credential) and send it
	NoticeDenied          NoticeKind = "denied"
	NoticeTimedOut        NoticeKind = "timed_out"
	NoticeExpired         NoticeKind = "expired"
	NoticeRevoked         NoticeKind = "revoked" // by someone else; also a withdrawn pending request
	NoticeFailed          NoticeKind = "failed"
	NoticeExtended        NoticeKind = "extended"
	NoticeExtensionDenied NoticeKind = "extension_denied" // denied or timed out
	NoticeWarn            NoticeKind = "warn"             // the grant ends soon; offer to extend
	NoticeReceipt         NoticeKind = "receipt"          // update the requester's ephemeral receipt

	// To the resource's provider, one lane per request:
	NoticeProviderRevoke NoticeKind = "provider_revoke"
	NoticeProviderExtend NoticeKind = "provider_extend"
)

// Lanes order a request's notices: each lane's are delivered one after the
// other, oldest first, while lanes go independently, so a token never
// waits for a channel message, nor a provider's revocation for a DM.
// Announcements have no order among themselves: they are batched.
const (
	LaneChannel  = "channel"
	LaneDM       = "dm"
	LaneProvider = "provider"
	LaneAnnounce = "announce"
)

// Lane is the lane of notices of this kind.
func (k NoticeKind) Lane() string {
	switch k {
	case NoticeToken, NoticeDenied, NoticeTimedOut, NoticeExpired, NoticeRevoked, NoticeFailed,
		NoticeExtended, NoticeExtensionDenied, NoticeWarn, NoticeReceipt:
		return LaneDM
	case NoticeProviderRevoke, NoticeProviderExtend:
		return LaneProvider
	case NoticeAnnounceExpired, NoticeAnnounceRevoked:
		return LaneAnnounce
	default:
		return LaneChannel
	}
}

// Notice priorities: people are waiting for urgent notices (an approval
// message, a decision, a token, a revocation); routine ones are
// bookkeeping that may wait behind them (expiry messages).
const (
	PriorityUrgent  = 0
	PriorityRoutine = 1
)

// Priority is how soon a notice of this kind must go out.
func (k NoticeKind) Priority() int {
	switch k {
	case NoticeRefreshLater, NoticeExpired, NoticeTimedOut:
		return PriorityRoutine
	case NoticeAnnounceExpired:
		return PriorityRoutine
	default:
		return PriorityUrgent
	}
}

// Notice is what a Notifier is asked to say, with the request as it stands.
type Notice struct {
	Kind    NoticeKind
	Request Request
	// Token is the token text, for NoticeToken only: to be shown once.
	Token tokens.Secret
	// Credential is what the resource's provider handed out, for
	// NoticeToken only (its secret shown once, like the token).
	Credential Credential
	// Detail says more, for notices that report a failure.
	Detail string
	// Uses is how the grant was used, for announcements and expiry notices.
	Uses []Use
}

// Change is what a state change adds besides the request itself: audit
// events and notices, stored atomically with it.
type Change struct {
	Events  []Event
	Notices []NoticeKind
	// Detail is attached to every notice of this change (why something
	// failed, what could not be delivered).
	Detail string
}

// Delivery is a queued notice claimed for delivery.
type Delivery struct {
	ID        int64
	RequestID string
	Kind      NoticeKind
	Attempts  int
	Detail    string
	QueuedAt  time.Time
}

// Announcement is a queued announce-channel notice, delivered in batches.
type Announcement struct {
	ID        int64
	RequestID string
	Kind      NoticeKind
	Attempts  int
	QueuedAt  time.Time
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

// Use is how often one introspection client (or proxy) presented a grant's
// token while it was active.
type Use struct {
	RequestID string
	Client    string
	Count     int64
	First     time.Time
	Last      time.Time
}
