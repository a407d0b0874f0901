package workflow

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxReasonLen bounds a request's reason, in characters.
const MaxReasonLen = 1000

// MaxTicketLen bounds a ticket reference, in characters.
const MaxTicketLen = 100

// Config is what a Service needs. Policy, Store, Notifier and Clock are
// required.
type Config struct {
	Policy    *Policy
	Store     Store
	Notifier  Notifier
	Directory Directory // resolves user-group approvers; may be nil if none are used
	Clock     Clock
	Logger    *slog.Logger  // default: discard
	NewID     func() string // default: a random UUID
	Random    io.Reader     // token randomness; default crypto/rand
	// Providers act for resources that name one, by resource name.
	Providers map[string]Provider
	// Metrics counts what happens; default: nothing.
	Metrics Metrics
	// Worker names this process in the leases it takes on queued notices;
	// default: random.
	Worker string
}

// Service runs the request lifecycle. Its methods are safe for concurrent
// use, including from several processes sharing one database.
type Service struct {
	policy    *Policy
	store     Store
	notifier  Notifier
	directory Directory
	clock     Clock
	log       *slog.Logger
	newID     func() string
	random    io.Reader
	providers map[string]Provider
	metrics   Metrics
	worker    string
	wake      chan struct{}
	wakeAnn   chan struct{}
	uses      *useRecorder

	// held keeps the secrets of tokens being delivered, so a retry sends
	// the same token rather than a new one (see deliverToken).
	heldMu sync.Mutex
	held   map[string]heldSecret

	gates channelGates

	// unsaved holds references to messages posted but not yet stored, by
	// request ID (see deliver).
	unsaved sync.Map
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Policy == nil:
		return nil, errors.New("workflow: no policy")
	case cfg.Store == nil:
		return nil, errors.New("workflow: no store")
	case cfg.Notifier == nil:
		return nil, errors.New("workflow: no notifier")
	case cfg.Clock == nil:
		return nil, errors.New("workflow: no clock")
	}
	s := &Service{
		policy: cfg.Policy, store: cfg.Store, notifier: cfg.Notifier, directory: cfg.Directory,
		clock: cfg.Clock, log: cfg.Logger, newID: cfg.NewID, random: cfg.Random, providers: cfg.Providers,
		metrics: cfg.Metrics, worker: cfg.Worker,
		wake: make(chan struct{}, 1), wakeAnn: make(chan struct{}, 1),
		held: map[string]heldSecret{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	if s.random == nil {
		s.random = rand.Reader
	}
	if s.metrics == nil {
		s.metrics = NoMetrics{}
	}
	if s.worker == "" {
		s.worker = "w-" + uuid.NewString()[:8]
	}
	for name, res := range s.policy.Resources {
		if res.Provider != nil && s.providers[name] == nil {
			return nil, fmt.Errorf("workflow: resource %s names a %s provider, but none was given", name, res.Provider.Kind)
		}
	}
	s.uses = newUseRecorder(s.store, s.clock, s.log)
	return s, nil
}

// Policy returns the policy the service enforces.
func (s *Service) Policy() *Policy { return s.policy }

// Now returns the service's current time, in UTC to the microsecond (the
// precision every store keeps).
func (s *Service) Now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// Submission is what a requester asks for.
type Submission struct {
	Requester string
	Resource  string
	Level     string
	Duration  time.Duration
	// DurationText is the duration as typed ("60m"), shown back to people
	// as they wrote it. Optional.
	DurationText string
	Ticket       string
	Reason       string
	// ResponseURL, if set, lets gatepass update the requester's receipt as
	// the request moves.
	ResponseURL string
}

// Field names a submission's fields, for errors a form shows beside them.
type Field string

// Submission fields.
const (
	FieldResource Field = "resource"
	FieldLevel    Field = "level"
	FieldDuration Field = "duration"
	FieldTicket   Field = "ticket"
	FieldReason   Field = "reason"
)

// FieldError is an invalid submission field, with the words to show.
type FieldError struct {
	Field Field
	Msg   string
}

func (e *FieldError) Error() string { return string(e.Field) + ": " + e.Msg }

// FieldOf returns the submission field an error is about, or "".
func FieldOf(err error) Field {
	if fe, ok := errors.AsType[*FieldError](err); ok {
		return fe.Field
	}
	return ""
}

func fieldErr(op string, kind Kind, f Field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Op: op, Kind: kind, Msg: msg, Err: &FieldError{Field: f, Msg: msg}}
}

// deceptive reports a character that changes how text reads without
// showing itself: bidirectional controls, zero-width characters and other
// invisible formatting (Unicode category Cf), and control characters.
func deceptive(s string) (rune, bool) {
	for _, r := range s {
		if r == '\n' || r == '\t' {
			continue
		}
		if unicode.Is(unicode.Cf, r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return r, true
		}
	}
	return 0, false
}

// check validates a submission against the policy.
func (s *Service) check(op string, sub Submission, breakGlass bool) (*Resource, Level, error) {
	if sub.Requester == "" {
		return nil, Level{}, errorf(op, KindInvalid, "no requester")
	}
	res, ok := s.policy.Resources[sub.Resource]
	if !ok {
		return nil, Level{}, fieldErr(op, KindInvalid, FieldResource, "Unknown resource %q. Resources: %s.", sub.Resource, strings.Join(s.policy.ResourceNames(), ", "))
	}
	lvl, ok := res.Levels[sub.Level]
	if !ok {
		return nil, Level{}, fieldErr(op, KindInvalid, FieldLevel, "%s has no level %q. Levels: %s.", res.Name, sub.Level, strings.Join(res.LevelNames(), ", "))
	}
	maxDur := lvl.MaxDuration
	if breakGlass && res.BreakGlassMaxDuration > 0 && res.BreakGlassMaxDuration < maxDur {
		maxDur = res.BreakGlassMaxDuration
	}
	switch {
	case sub.Duration%time.Second != 0:
		return nil, Level{}, fieldErr(op, KindInvalid, FieldDuration, "Durations are whole seconds; %s is not.", sub.Duration)
	case sub.Duration < s.policy.MinDuration:
		return nil, Level{}, fieldErr(op, KindInvalid, FieldDuration, "%s is too short: the shortest grant is %s.", FormatDuration(sub.Duration), FormatDuration(s.policy.MinDuration))
	case sub.Duration > maxDur && breakGlass && maxDur < lvl.MaxDuration:
		return nil, Level{}, fieldErr(op, KindInvalid, FieldDuration, "%s is too long: break-glass on %s allows at most %s.", FormatDuration(sub.Duration), res.Name, FormatDuration(maxDur))
	case sub.Duration > maxDur:
		return nil, Level{}, fieldErr(op, KindInvalid, FieldDuration, "%s is too long: %s %s allows at most %s.", FormatDuration(sub.Duration), res.Name, lvl.Name, FormatDuration(maxDur))
	}
	if r, bad := deceptive(sub.Ticket); bad {
		return nil, Level{}, fieldErr(op, KindInvalid, FieldTicket, "The ticket contains an invisible or direction-changing character (U+%04X); type it plainly.", r)
	}
	switch {
	case sub.Ticket == "":
		return nil, Level{}, fieldErr(op, KindInvalid, FieldTicket, "A ticket is required, such as INC-123.")
	case utf8.RuneCountInString(sub.Ticket) > MaxTicketLen:
		return nil, Level{}, fieldErr(op, KindInvalid, FieldTicket, "The ticket is longer than %d characters.", MaxTicketLen)
	case strings.ContainsAny(sub.Ticket, " |<>"):
		return nil, Level{}, fieldErr(op, KindInvalid, FieldTicket, "A ticket is one word, without |, < or >, such as INC-123.")
	case res.TicketPattern != nil && !res.TicketPattern.MatchString(sub.Ticket):
		return nil, Level{}, fieldErr(op, KindInvalid, FieldTicket, "Ticket %q does not match the pattern %s requires: %s", sub.Ticket, res.Name, res.TicketPattern.String())
	}
	if r, bad := deceptive(sub.Reason); bad {
		return nil, Level{}, fieldErr(op, KindInvalid, FieldReason, "The reason contains an invisible or direction-changing character (U+%04X); type it plainly.", r)
	}
	if utf8.RuneCountInString(sub.Reason) > MaxReasonLen {
		return nil, Level{}, fieldErr(op, KindInvalid, FieldReason, "The reason is longer than %d characters.", MaxReasonLen)
	}
	if breakGlass {
		if !res.BreakGlass {
			return nil, Level{}, errorf(op, KindForbidden, "Break-glass is not allowed for %s; ask for approval instead.", res.Name)
		}
		if strings.TrimSpace(sub.Reason) == "" {
			return nil, Level{}, fieldErr(op, KindInvalid, FieldReason, "Break-glass needs a reason.")
		}
	}
	return res, lvl, nil
}

// alreadyHeld refuses a request for access the requester holds now.
func (s *Service) alreadyHeld(ctx context.Context, op string, sub Submission) error {
	rs, err := s.store.Find(ctx, Query{Requester: sub.Requester, Resource: sub.Resource, States: []State{StateActive}, Limit: 20})
	if err != nil {
		return wrap(op, err)
	}
	now := s.Now()
	for _, r := range rs {
		if r.Level == sub.Level && r.ActiveAt(now) {
			return errorf(op, KindConflict, "You already hold %s access to %s for %s more. To keep it longer: `/access extend %s <duration>`.",
				r.Level, r.Resource, FormatDuration(r.Grant.ExpiresAt.Sub(now)), r.ID)
		}
	}
	return nil
}

func (s *Service) newRequest(sub Submission, lvl Level, now time.Time) Request {
	r := Request{
		ID:                s.newID(),
		Requester:         sub.Requester,
		Resource:          sub.Resource,
		Level:             sub.Level,
		Duration:          sub.Duration,
		DurationText:      durationText(sub.DurationText, sub.Duration),
		Ticket:            sub.Ticket,
		Reason:            strings.TrimSpace(sub.Reason),
		ApprovalsRequired: lvl.Approvals,
		State:             StatePending,
		CreatedAt:         now,
		PendingUntil:      now.Add(s.policy.PendingTimeout),
		ResponseURL:       sub.ResponseURL,
	}
	r.RemindAt = s.remindAt(now)
	return r
}

// remindAt is when something asked at now and still unanswered is
// reminded: never (zero) when reminders are off or would come only after
// the pending timeout.
func (s *Service) remindAt(now time.Time) time.Time {
	if d := s.policy.PendingReminder; d > 0 && d < s.policy.PendingTimeout {
		return now.Add(d)
	}
	return time.Time{}
}

// durationText keeps the typed duration if it says the same as d.
func durationText(text string, d time.Duration) string {
	t := strings.TrimSpace(text)
	if len(t) > 32 {
		return ""
	}
	if parsed, err := ParseDuration(t); err != nil || parsed != d {
		return ""
	}
	return t
}

func describeAsk(r *Request) string {
	d := fmt.Sprintf("%s for %s, ticket %s", r.Scope(), r.DurationString(), r.Ticket)
	if r.Reason != "" {
		d += ": " + r.Reason
	}
	return d
}

// Submit records a request for approval and queues the approval message.
func (s *Service) Submit(ctx context.Context, sub Submission) (Request, error) {
	const op = "submit request"
	_, lvl, err := s.check(op, sub, false)
	if err != nil {
		s.metrics.Request("refused")
		return Request{}, err
	}
	if err := s.alreadyHeld(ctx, op, sub); err != nil {
		s.metrics.Request("refused")
		return Request{}, err
	}
	now := s.Now()
	r := s.newRequest(sub, lvl, now)
	change := Change{
		Events:  []Event{{RequestID: r.ID, Actor: r.Requester, Action: ActionRequested, Detail: describeAsk(&r), At: now}},
		Notices: []NoticeKind{NoticeApprovalRequest},
	}
	if err := s.store.Create(ctx, r, change); err != nil {
		return Request{}, wrap(op, err)
	}
	s.metrics.Request("pending")
	s.log.Info("request submitted", "request_id", r.ID, "requester", r.Requester, "scope", r.Scope(), "duration", FormatDuration(r.Duration), "ticket", r.Ticket)
	s.Wake()
	return r, nil
}

// BreakGlass grants access at once, without approval, where the resource
// allows it and the requester may; the approvers are alerted and must
// review it afterwards.
func (s *Service) BreakGlass(ctx context.Context, sub Submission) (Request, error) {
	const op = "break glass"
	res, lvl, err := s.check(op, sub, true)
	if err != nil {
		s.metrics.Request("refused")
		return Request{}, err
	}
	if len(res.BreakGlassUsers) > 0 {
		ok, err := s.member(ctx, res.BreakGlassUsers, sub.Requester)
		if err != nil {
			return Request{}, &Error{Op: op, Kind: KindUnavailable, Msg: "Could not check the break-glass user groups in Slack; try again in a moment.", Err: err}
		}
		if !ok {
			s.metrics.Request("refused")
			return Request{}, errorf(op, KindForbidden, "You are not among those who may break glass on %s; ask for approval instead (`/access %s %s %s %s …`).",
				res.Name, res.Name, sub.Level, FormatDuration(sub.Duration), sub.Ticket)
		}
	}
	if err := s.alreadyHeld(ctx, op, sub); err != nil {
		s.metrics.Request("refused")
		return Request{}, err
	}
	now := s.Now()
	r := s.newRequest(sub, lvl, now)
	r.BreakGlass = true
	r.PendingUntil, r.RemindAt = now, time.Time{}
	if s.policy.ReviewReminder > 0 {
		r.ReviewRemindAt = now.Add(s.policy.ReviewReminder)
	}
	s.issue(&r, now)
	change := Change{
		Events: []Event{
			{RequestID: r.ID, Actor: r.Requester, Action: ActionBreakGlass, Detail: describeAsk(&r), At: now},
			{RequestID: r.ID, Actor: System, Action: ActionIssued, Detail: issuedDetail(&r), At: now},
		},
		Notices: []NoticeKind{NoticeBreakGlassAlert, NoticeToken},
	}
	if err := s.store.Create(ctx, r, change); err != nil {
		return Request{}, wrap(op, err)
	}
	s.metrics.Request("break_glass")
	s.log.Warn("break-glass access granted", "request_id", r.ID, "requester", r.Requester, "scope", r.Scope(), "duration", FormatDuration(r.Duration), "ticket", r.Ticket)
	s.Wake()
	return r, nil
}

// issue turns r into an active grant starting at now (to the whole second).
func (s *Service) issue(r *Request, now time.Time) {
	iat := now.Truncate(time.Second)
	r.State = StateActive
	r.Grant = &Grant{IssuedAt: iat, ExpiresAt: iat.Add(r.Duration)}
	if s.policy.TokenDeliveryTimeout > 0 {
		r.Grant.DeliverBy = now.Add(s.policy.TokenDeliveryTimeout)
	}
	s.scheduleWarning(r)
}

// scheduleWarning sets when the requester hears that the grant ends soon.
func (s *Service) scheduleWarning(r *Request) {
	r.Grant.WarnAt = time.Time{}
	w := s.policy.WarnBefore
	if w > 0 && r.Grant.ExpiresAt.Sub(r.Grant.IssuedAt) > w {
		r.Grant.WarnAt = r.Grant.ExpiresAt.Add(-w)
	}
}

func issuedDetail(r *Request) string {
	return fmt.Sprintf("%s until %s", r.Scope(), r.Grant.ExpiresAt.UTC().Format(time.RFC3339))
}

// Approve records approver's approval. When the level's number of distinct
// approvals is reached the request becomes an active grant and its token is
// queued for delivery. Only a pending request can be approved, so however
// many clicks race, one grant is issued.
func (s *Service) Approve(ctx context.Context, id, approver string) (Request, error) {
	return s.decide(ctx, id, approver, true)
}

// Deny ends a pending request. One denial ends it, whatever approvals it had.
func (s *Service) Deny(ctx context.Context, id, approver string) (Request, error) {
	return s.decide(ctx, id, approver, false)
}

func (s *Service) decide(ctx context.Context, id, actor string, approve bool) (Request, error) {
	op := "deny " + id
	if approve {
		op = "approve " + id
	}
	if cur, err := s.mayDecide(ctx, op, id, actor, "approve or deny your own request", "approve or deny requests for"); err != nil {
		return cur, err
	}
	r, err := s.store.Update(ctx, id, func(r *Request) (Change, error) {
		now := s.Now()
		if r.State != StatePending {
			return Change{}, errorf(op, KindConflict, "This request is already %s.", stateWords(r))
		}
		if !now.Before(r.PendingUntil) {
			return Change{}, errorf(op, KindConflict, "This request expired without a decision.")
		}
		if !approve {
			r.State, r.DecidedBy, r.DecidedAt = StateDenied, actor, now
			return Change{
				Events:  []Event{{RequestID: r.ID, Actor: actor, Action: ActionDenied, At: now}},
				Notices: withReceipt(r, NoticeRefresh, NoticeDenied),
			}, nil
		}
		if r.ApprovedBy(actor) {
			return Change{}, errorf(op, KindConflict, "You have already approved this request (%d of %d approvals); another approver must approve it too.", len(r.Approvals), r.ApprovalsRequired)
		}
		r.Approvals = append(r.Approvals, Approval{Approver: actor, At: now})
		events := []Event{{RequestID: r.ID, Actor: actor, Action: ActionApproved, Detail: fmt.Sprintf("%d of %d", len(r.Approvals), r.ApprovalsRequired), At: now}}
		if len(r.Approvals) < r.ApprovalsRequired {
			return Change{Events: events, Notices: withReceipt(r, NoticeRefresh)}, nil
		}
		r.DecidedBy, r.DecidedAt = actor, now
		s.issue(r, now)
		events = append(events, Event{RequestID: r.ID, Actor: System, Action: ActionIssued, Detail: issuedDetail(r), At: now})
		return Change{Events: events, Notices: withReceipt(r, NoticeRefresh, NoticeToken)}, nil
	})
	if err != nil {
		return r, wrap(op, err)
	}
	outcome := "approval"
	switch r.State {
	case StateActive:
		outcome = "approved"
	case StateDenied:
		outcome = "denied"
	}
	s.metrics.Decision(outcome, r.DecidedAt.Sub(r.CreatedAt))
	s.log.Info("request decided", "request_id", id, "by", actor, "approve", approve, "state", r.State, "approvals", len(r.Approvals), "required", r.ApprovalsRequired)
	s.Wake()
	return r, nil
}

// mayDecide loads a request and checks that actor may decide on it: an
// approver of its resource who is not its requester. own and what name
// the act in the refusals ("approve or deny your own request", "approve
// or deny requests for").
func (s *Service) mayDecide(ctx context.Context, op, id, actor, own, what string) (Request, error) {
	cur, err := s.get(ctx, op, id)
	if err != nil {
		return Request{}, err
	}
	return cur, s.mayDecideOn(ctx, op, &cur, actor, own, what)
}

// mayDecideOn is mayDecide for a request already read.
func (s *Service) mayDecideOn(ctx context.Context, op string, cur *Request, actor, own, what string) error {
	if actor == cur.Requester {
		return errorf(op, KindForbidden, "You can't %s; another approver of %s must.", own, cur.Resource)
	}
	return s.mustApprove(ctx, op, cur.Resource, actor, what)
}

// withReceipt adds an update of the requester's receipt to notices, when
// the request has one (a response_url, or a receipt by direct message).
func withReceipt(r *Request, ns ...NoticeKind) []NoticeKind {
	if r.ResponseURL != "" || slices.ContainsFunc(r.Messages, func(m MessageRef) bool { return m.Purpose == MessageReceipt }) {
		ns = append(ns, NoticeReceipt)
	}
	return ns
}

// RememberMessages records chat messages that show a request (such as a
// receipt sent by direct message), so later changes update them.
func (s *Service) RememberMessages(ctx context.Context, id string, refs []MessageRef) error {
	return wrap("remember messages of "+id, s.store.AddMessages(ctx, id, refs))
}

// Revoke ends an active grant at once, or withdraws a pending request. The
// requester and the resource's approvers may revoke.
func (s *Service) Revoke(ctx context.Context, id, actor string) (Request, error) {
	op := "revoke " + id
	cur, err := s.get(ctx, op, id)
	if err != nil {
		return Request{}, err
	}
	if actor != cur.Requester {
		if err := s.mustApprove(ctx, op, cur.Resource, actor, "revoke other people's access to"); err != nil {
			return cur, err
		}
	}
	return s.end(ctx, op, id, actor, "")
}

// RevokeAsOperator ends a grant (or withdraws a pending request) on the
// word of an operator with access to the database, such as the `gatepass
// revoke` command; operator names them in the audit log.
func (s *Service) RevokeAsOperator(ctx context.Context, id, operator, reason string) (Request, error) {
	op := "revoke " + id
	if _, err := s.get(ctx, op, id); err != nil {
		return Request{}, err
	}
	return s.end(ctx, op, id, operator, reason)
}

func (s *Service) end(ctx context.Context, op, id, actor, reason string) (Request, error) {
	r, err := s.store.Update(ctx, id, func(r *Request) (Change, error) {
		now := s.Now()
		detail := reason
		switch {
		case r.State == StatePending:
			r.State, r.EndedBy, r.EndedAt, r.EndReason = StateWithdrawn, actor, now, reason
			return Change{
				Events:  []Event{{RequestID: r.ID, Actor: actor, Action: ActionWithdrawn, Detail: detail, At: now}},
				Notices: withReceipt(r, s.endNotices(r, actor)...),
			}, nil
		case r.State == StateActive && r.ActiveAt(now):
			r.State, r.EndedBy, r.EndedAt, r.EndReason = StateRevoked, actor, now, reason
			if r.Extension.Pending() {
				r.Extension.State, r.Extension.DecidedAt = ExtensionCancelled, now
			}
			left := FormatDuration(r.Grant.ExpiresAt.Sub(now)) + " left"
			if detail != "" {
				left += "; " + detail
			}
			return Change{
				Events:  []Event{{RequestID: r.ID, Actor: actor, Action: ActionRevoked, Detail: left, At: now}},
				Notices: withReceipt(r, s.endNotices(r, actor)...),
			}, nil
		case r.State == StateActive:
			return Change{}, errorf(op, KindConflict, "This grant already expired at %s.", r.Grant.ExpiresAt.UTC().Format("15:04:05 MST"))
		default:
			return Change{}, errorf(op, KindConflict, "Request %s is already %s.", r.ID, stateWords(r))
		}
	})
	if err != nil {
		return r, wrap(op, err)
	}
	if r.State == StateRevoked {
		s.metrics.GrantEnded("revoked")
	}
	s.log.Info("request revoked", "request_id", id, "by", actor, "state", r.State)
	s.Wake()
	s.WakeAnnouncer()
	return r, nil
}

// endNotices are what a revocation or withdrawal tells: the messages are
// updated, the announce channel told, the requester too unless they did it
// themselves, and the provider revokes what it made.
func (s *Service) endNotices(r *Request, actor string) []NoticeKind {
	n := []NoticeKind{NoticeRefresh, NoticeAnnounceRevoked}
	if actor != r.Requester {
		n = append(n, NoticeRevoked)
	}
	if r.Grant != nil && s.providers[r.Resource] != nil {
		n = append(n, NoticeProviderRevoke)
	}
	return n
}

// Cancel withdraws the requester's own pending request, or the pending
// extension of their grant.
func (s *Service) Cancel(ctx context.Context, id, actor string) (Request, error) {
	op := "cancel " + id
	cur, err := s.get(ctx, op, id)
	if err != nil {
		return Request{}, err
	}
	if actor != cur.Requester {
		return cur, errorf(op, KindForbidden, "Only the requester can cancel request %s.", id)
	}
	if cur.State == StatePending {
		return s.end(ctx, op, id, actor, "cancelled by the requester")
	}
	r, err := s.store.Update(ctx, id, func(r *Request) (Change, error) {
		now := s.Now()
		if r.State != StateActive || !r.Extension.Pending() {
			if r.State == StateActive {
				return Change{}, errorf(op, KindConflict, "Request %s is an active grant with no pending extension; `/access revoke %s` ends it.", r.ID, r.ID)
			}
			return Change{}, errorf(op, KindConflict, "Request %s is already %s; there is nothing to cancel.", r.ID, stateWords(r))
		}
		r.Extension.State, r.Extension.DecidedAt = ExtensionCancelled, now
		return Change{
			Events:  []Event{{RequestID: r.ID, Actor: actor, Action: ActionExtCancel, Detail: fmt.Sprintf("extension %d", r.Extension.Seq), At: now}},
			Notices: []NoticeKind{NoticeRefresh},
		}, nil
	})
	if err != nil {
		return r, wrap(op, err)
	}
	s.Wake()
	return r, nil
}

// Extend asks for more time on the requester's active grant. The extension
// goes to the approvers and follows the level's approval rules; once
// approved, the same grant (and token) lasts longer.
func (s *Service) Extend(ctx context.Context, id, actor string, d time.Duration, text string) (Request, error) {
	op := "extend " + id
	cur, err := s.get(ctx, op, id)
	if err != nil {
		return Request{}, err
	}
	if actor != cur.Requester {
		return cur, errorf(op, KindForbidden, "Only the requester can extend request %s; they can ask with `/access extend %s <duration>`.", id, id)
	}
	res := s.policy.Resources[cur.Resource]
	if res == nil {
		return cur, errorf(op, KindInvalid, "Resource %s is no longer in the policy; ask for new access instead.", cur.Resource)
	}
	lvl, ok := res.Levels[cur.Level]
	if !ok {
		return cur, errorf(op, KindInvalid, "Level %s of %s is no longer in the policy; ask for new access instead.", cur.Level, cur.Resource)
	}
	switch {
	case d%time.Second != 0:
		return cur, fieldErr(op, KindInvalid, FieldDuration, "Durations are whole seconds; %s is not.", d)
	case d < s.policy.MinDuration:
		return cur, fieldErr(op, KindInvalid, FieldDuration, "%s is too short: the shortest extension is %s.", FormatDuration(d), FormatDuration(s.policy.MinDuration))
	case d > lvl.MaxDuration:
		return cur, fieldErr(op, KindInvalid, FieldDuration, "%s is too long: %s %s allows at most %s at a time.", FormatDuration(d), res.Name, lvl.Name, FormatDuration(lvl.MaxDuration))
	}
	r, err := s.store.Update(ctx, id, func(r *Request) (Change, error) {
		now := s.Now()
		switch {
		case r.State == StatePending:
			return Change{}, errorf(op, KindConflict, "Request %s has not been approved yet; there is nothing to extend.", r.ID)
		case !r.ActiveAt(now):
			return Change{}, errorf(op, KindConflict, "Request %s is already %s; ask for new access instead.", r.ID, stateWords(r))
		case r.Extension.Pending():
			return Change{}, errorf(op, KindConflict, "An extension of %s (%s more) is already waiting for approval; `/access cancel %s` withdraws it.", r.ID, r.Extension.DurationString(), r.ID)
		}
		seq := 1
		if r.Extension != nil {
			seq = r.Extension.Seq + 1
		}
		r.Extension = &Extension{Seq: seq, Duration: d, DurationText: durationText(text, d), State: ExtensionPending, RequestedAt: now,
			PendingUntil: now.Add(s.policy.PendingTimeout), RemindAt: s.remindAt(now)}
		return Change{
			Events:  []Event{{RequestID: r.ID, Actor: actor, Action: ActionExtAsked, Detail: fmt.Sprintf("extension %d: %s more", seq, r.Extension.DurationString()), At: now}},
			Notices: []NoticeKind{NoticeExtensionRequest},
		}, nil
	})
	if err != nil {
		return r, wrap(op, err)
	}
	s.log.Info("extension requested", "request_id", id, "by", actor, "duration", FormatDuration(d))
	s.Wake()
	return r, nil
}

// ApproveExtension records an approver's yes to a grant's pending
// extension; once the level's number of distinct approvals is reached the
// grant's expiry moves later by the extension's duration.
func (s *Service) ApproveExtension(ctx context.Context, id, approver string) (Request, error) {
	return s.decideExtension(ctx, id, approver, true)
}

// DenyExtension ends a grant's pending extension; the grant is unchanged.
func (s *Service) DenyExtension(ctx context.Context, id, approver string) (Request, error) {
	return s.decideExtension(ctx, id, approver, false)
}

func (s *Service) decideExtension(ctx context.Context, id, actor string, approve bool) (Request, error) {
	op := "decide extension of " + id
	if cur, err := s.mayDecide(ctx, op, id, actor, "approve or deny your own extension", "approve or deny extensions for"); err != nil {
		return cur, err
	}
	r, err := s.store.Update(ctx, id, func(r *Request) (Change, error) {
		now := s.Now()
		e := r.Extension
		switch {
		case e == nil:
			return Change{}, errorf(op, KindConflict, "Request %s has no extension to decide.", r.ID)
		case e.State != ExtensionPending:
			return Change{}, errorf(op, KindConflict, "This extension is already %s.", extensionWords(e))
		case !r.ActiveAt(now):
			return Change{}, errorf(op, KindConflict, "The grant is already %s; there is nothing to extend.", stateWords(r))
		case !now.Before(e.PendingUntil):
			return Change{}, errorf(op, KindConflict, "This extension expired without a decision.")
		}
		if !approve {
			e.State, e.DecidedBy, e.DecidedAt = ExtensionDenied, actor, now
			return Change{
				Events:  []Event{{RequestID: r.ID, Actor: actor, Action: ActionExtDenied, Detail: fmt.Sprintf("extension %d", e.Seq), At: now}},
				Notices: []NoticeKind{NoticeRefresh, NoticeExtensionDenied},
			}, nil
		}
		if e.ApprovedBy(actor) {
			return Change{}, errorf(op, KindConflict, "You have already approved this extension (%d of %d approvals); another approver must approve it too.", len(e.Approvals), r.ApprovalsRequired)
		}
		e.Approvals = append(e.Approvals, Approval{Approver: actor, At: now})
		events := []Event{{RequestID: r.ID, Actor: actor, Action: ActionExtApproved, Detail: fmt.Sprintf("extension %d: %d of %d", e.Seq, len(e.Approvals), r.ApprovalsRequired), At: now}}
		if len(e.Approvals) < r.ApprovalsRequired {
			return Change{Events: events, Notices: []NoticeKind{NoticeRefresh}}, nil
		}
		e.State, e.DecidedBy, e.DecidedAt = ExtensionApproved, actor, now
		old := r.Grant.ExpiresAt
		r.Grant.ExpiresAt = old.Add(e.Duration)
		s.scheduleWarning(r)
		if !r.Grant.WarnAt.IsZero() && !r.Grant.WarnAt.After(now) {
			r.Grant.WarnAt = time.Time{}
		}
		events = append(events, Event{RequestID: r.ID, Actor: System, Action: ActionExtended,
			Detail: fmt.Sprintf("until %s (was %s)", r.Grant.ExpiresAt.UTC().Format(time.RFC3339), old.UTC().Format(time.RFC3339)), At: now})
		notices := withReceipt(r, NoticeRefresh, NoticeExtended)
		if s.providers[r.Resource] != nil {
			notices = append(notices, NoticeProviderExtend)
		}
		return Change{Events: events, Notices: notices}, nil
	})
	if err != nil {
		return r, wrap(op, err)
	}
	s.log.Info("extension decided", "request_id", id, "by", actor, "approve", approve, "state", r.Extension.State)
	s.Wake()
	return r, nil
}

// Review records that an approver has looked at a break-glass grant.
func (s *Service) Review(ctx context.Context, id, reviewer string) (Request, error) {
	op := "review " + id
	cur, err := s.get(ctx, op, id)
	if err != nil {
		return Request{}, err
	}
	if !cur.BreakGlass {
		return cur, errorf(op, KindInvalid, "Request %s was not a break-glass grant; there is nothing to review.", id)
	}
	if err := s.mayDecideOn(ctx, op, &cur, reviewer, "review your own break-glass access", "review break-glass access to"); err != nil {
		return cur, err
	}
	r, err := s.store.Update(ctx, id, func(r *Request) (Change, error) {
		if r.ReviewedBy != "" {
			return Change{}, errorf(op, KindConflict, "Already reviewed by <@%s>.", r.ReviewedBy)
		}
		now := s.Now()
		r.ReviewedBy, r.ReviewedAt, r.ReviewRemindAt = reviewer, now, time.Time{}
		return Change{
			Events:  []Event{{RequestID: r.ID, Actor: reviewer, Action: ActionReviewed, At: now}},
			Notices: []NoticeKind{NoticeRefresh},
		}, nil
	})
	if err != nil {
		return r, wrap(op, err)
	}
	s.Wake()
	return r, nil
}

// Get returns a request.
func (s *Service) Get(ctx context.Context, id string) (Request, error) {
	return s.get(ctx, "get "+id, id)
}

func (s *Service) get(ctx context.Context, op, id string) (Request, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Request{}, errorf(op, KindNotFound, "%q is not a request ID; /access list shows yours.", id)
	}
	r, err := s.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Request{}, &Error{Op: op, Kind: KindNotFound, Msg: fmt.Sprintf("No request %s.", id), Err: err}
	}
	if err != nil {
		return Request{}, wrap(op, err)
	}
	return r, nil
}

// List returns the requester's pending requests and live grants, newest
// first.
func (s *Service) List(ctx context.Context, requester string) ([]Request, error) {
	rs, err := s.store.Find(ctx, Query{Requester: requester, States: []State{StatePending, StateActive}})
	if err != nil {
		return nil, wrap("list requests", err)
	}
	now := s.Now()
	out := rs[:0]
	for _, r := range rs {
		if r.State == StatePending && now.Before(r.PendingUntil) || r.ActiveAt(now) {
			out = append(out, r)
		}
	}
	return out, nil
}

// UsesOf returns the recorded use of the given grants, by request ID.
func (s *Service) UsesOf(ctx context.Context, ids []string) (map[string][]Use, error) {
	if len(ids) == 0 {
		return map[string][]Use{}, nil
	}
	return s.usesOf(ctx, ids)
}

// usesOf reads the recorded use of grants, with what this process has
// counted and not yet written.
func (s *Service) usesOf(ctx context.Context, ids []string) (map[string][]Use, error) {
	u, err := s.store.Uses(ctx, ids)
	if err != nil {
		return nil, wrap("read token use", err)
	}
	for id, p := range s.uses.pending(ids) {
		u[id] = mergeUses(u[id], p)
	}
	return u, nil
}

// Waiting returns what waits for approver's decision: pending requests and
// extensions of resources they approve, that are not their own and that
// they have not approved yet, oldest first.
func (s *Service) Waiting(ctx context.Context, approver string) ([]Request, error) {
	var out []Request
	now := s.Now()
	for _, name := range s.policy.ResourceNames() {
		ok, err := s.IsApprover(ctx, name, approver)
		if err != nil || !ok {
			continue
		}
		rs, err := s.store.Find(ctx, Query{Resource: name, States: []State{StatePending, StateActive}, Limit: 200})
		if err != nil {
			return nil, wrap("requests waiting for "+approver, err)
		}
		for _, r := range rs {
			if r.Requester == approver {
				continue
			}
			if r.State == StatePending && now.Before(r.PendingUntil) && !r.ApprovedBy(approver) ||
				r.ActiveAt(now) && r.Extension.Pending() && now.Before(r.Extension.PendingUntil) && !r.Extension.ApprovedBy(approver) {
				out = append(out, r)
			}
		}
	}
	since := func(r *Request) time.Time {
		if r.State == StateActive {
			return r.Extension.RequestedAt
		}
		return r.CreatedAt
	}
	slices.SortStableFunc(out, func(a, b Request) int { return since(&a).Compare(since(&b)) })
	return out, nil
}

// Reviews returns the break-glass grants still waiting for a review, of
// the resources user approves, newest first.
func (s *Service) Reviews(ctx context.Context, user string) ([]Request, error) {
	rs, err := s.store.Find(ctx, Query{BreakGlassUnreviewed: true, Limit: 200})
	if err != nil {
		return nil, wrap("open reviews", err)
	}
	var out []Request
	for _, r := range rs {
		if ok, err := s.IsApprover(ctx, r.Resource, user); err == nil && ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// ApproverOfAny reports whether user approves any resource.
func (s *Service) ApproverOfAny(ctx context.Context, user string) bool {
	for _, name := range s.policy.ResourceNames() {
		if ok, err := s.IsApprover(ctx, name, user); err == nil && ok {
			return true
		}
	}
	return false
}

// History returns requests for approvers to look back on: by resource, by
// requester, or every resource the viewer approves; paged backwards with
// before. Only approvers may look, and only at resources they approve.
func (s *Service) History(ctx context.Context, viewer string, q Query) ([]Request, error) {
	const op = "history"
	if q.Resource != "" {
		if err := s.mustApprove(ctx, op, q.Resource, viewer, "see the history of"); err != nil {
			return nil, err
		}
	} else if !s.ApproverOfAny(ctx, viewer) {
		return nil, errorf(op, KindForbidden, "Only approvers can look at the history.")
	}
	if q.Limit <= 0 {
		q.Limit = 20
	}
	want := q.Limit
	q.Limit = want * 3
	rs, err := s.store.Find(ctx, q)
	if err != nil {
		return nil, wrap(op, err)
	}
	var out []Request
	for _, r := range rs {
		if ok, err := s.IsApprover(ctx, r.Resource, viewer); err == nil && ok {
			out = append(out, r)
			if len(out) == want {
				break
			}
		}
	}
	return out, nil
}

// TicketEvents returns the audit trail of everything tied to one ticket,
// for approvers of the resources it touched.
func (s *Service) TicketEvents(ctx context.Context, viewer, ticket string) ([]Event, error) {
	const op = "audit"
	rs, err := s.store.Find(ctx, Query{Ticket: ticket, Limit: 200})
	if err != nil {
		return nil, wrap(op, err)
	}
	if !s.ApproverOfAny(ctx, viewer) {
		return nil, errorf(op, KindForbidden, "Only approvers can read the audit trail.")
	}
	var out []Event
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		if ok, err := s.IsApprover(ctx, r.Resource, viewer); err != nil || !ok {
			continue
		}
		evs, err := s.store.Events(ctx, r.ID)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, evs...)
	}
	return out, nil
}

// Events returns a request's audit trail.
func (s *Service) Events(ctx context.Context, id string) ([]Event, error) {
	evs, err := s.store.Events(ctx, id)
	return evs, wrap("audit events "+id, err)
}

// IsApprover reports whether user may approve requests for resource: listed
// by ID, or a member of a listed user group.
func (s *Service) IsApprover(ctx context.Context, resource, user string) (bool, error) {
	res, ok := s.policy.Resources[resource]
	if !ok {
		return false, nil
	}
	return s.member(ctx, res.Approvers, user)
}

// ApproversOf returns a resource's approvers (user and user-group IDs).
func (s *Service) ApproversOf(resource string) []string {
	if res, ok := s.policy.Resources[resource]; ok {
		return res.Approvers
	}
	return nil
}

// member reports whether user is listed in ids or belongs to a user group
// listed there.
func (s *Service) member(ctx context.Context, ids []string, user string) (bool, error) {
	var groups []string
	for _, a := range ids {
		if a == user {
			return true, nil
		}
		if strings.HasPrefix(a, "S") {
			groups = append(groups, a)
		}
	}
	for _, g := range groups {
		if s.directory == nil {
			return false, fmt.Errorf("resolve user group %s: no directory", g)
		}
		members, err := s.directory.GroupMembers(ctx, g)
		if err != nil {
			return false, fmt.Errorf("resolve user group %s: %w", g, err)
		}
		for _, m := range members {
			if m == user {
				return true, nil
			}
		}
	}
	return false, nil
}

func (s *Service) mustApprove(ctx context.Context, op, resource, user, what string) error {
	ok, err := s.IsApprover(ctx, resource, user)
	if err != nil {
		return &Error{Op: op, Kind: KindUnavailable, Msg: "Could not check the approvers' user groups in Slack; try again in a moment.", Err: err}
	}
	if !ok {
		return errorf(op, KindForbidden, "Only approvers of %s can %s it.", resource, what)
	}
	return nil
}

// stateWords describes a finished request for messages like "already …".
func stateWords(r *Request) string {
	switch r.State {
	case StateActive:
		if r.BreakGlass {
			return "granted (break-glass)"
		}
		return "approved"
	case StateDenied:
		return fmt.Sprintf("denied by <@%s>", r.DecidedBy)
	case StateWithdrawn:
		if r.EndedBy == r.Requester {
			return "cancelled"
		}
		return fmt.Sprintf("withdrawn by %s", actorWords(r.EndedBy))
	case StateTimedOut:
		return "expired without a decision"
	case StateExpired:
		return "expired"
	case StateRevoked:
		return fmt.Sprintf("revoked by %s", actorWords(r.EndedBy))
	case StateFailed:
		return "failed"
	default:
		return string(r.State)
	}
}

func extensionWords(e *Extension) string {
	switch e.State {
	case ExtensionApproved:
		return fmt.Sprintf("approved by <@%s>", e.DecidedBy)
	case ExtensionDenied:
		return fmt.Sprintf("denied by <@%s>", e.DecidedBy)
	case ExtensionTimedOut:
		return "expired without a decision"
	case ExtensionCancelled:
		return "cancelled"
	default:
		return string(e.State)
	}
}

// actorWords names an actor in chat: a Slack mention for a user, the
// operator's name otherwise.
func actorWords(actor string) string {
	if strings.HasPrefix(actor, "U") || strings.HasPrefix(actor, "W") {
		return "<@" + actor + ">"
	}
	return actor
}
