package workflow

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
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
	wake      chan struct{}
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
		clock: cfg.Clock, log: cfg.Logger, newID: cfg.NewID, random: cfg.Random,
		wake: make(chan struct{}, 1),
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
}

// check validates a submission against the policy.
func (s *Service) check(op string, sub Submission, breakGlass bool) (*Resource, Level, error) {
	if sub.Requester == "" {
		return nil, Level{}, errorf(op, KindInvalid, "no requester")
	}
	res, ok := s.policy.Resources[sub.Resource]
	if !ok {
		return nil, Level{}, errorf(op, KindInvalid, "Unknown resource %q. Resources: %s.", sub.Resource, strings.Join(s.policy.ResourceNames(), ", "))
	}
	lvl, ok := res.Levels[sub.Level]
	if !ok {
		return nil, Level{}, errorf(op, KindInvalid, "%s has no level %q. Levels: %s.", res.Name, sub.Level, strings.Join(res.LevelNames(), ", "))
	}
	switch {
	case sub.Duration%time.Second != 0:
		return nil, Level{}, errorf(op, KindInvalid, "Durations are whole seconds; %s is not.", sub.Duration)
	case sub.Duration < s.policy.MinDuration:
		return nil, Level{}, errorf(op, KindInvalid, "%s is too short: the shortest grant is %s.", FormatDuration(sub.Duration), FormatDuration(s.policy.MinDuration))
	case sub.Duration > lvl.MaxDuration:
		return nil, Level{}, errorf(op, KindInvalid, "%s is too long: %s %s allows at most %s.", FormatDuration(sub.Duration), res.Name, lvl.Name, FormatDuration(lvl.MaxDuration))
	}
	switch {
	case sub.Ticket == "":
		return nil, Level{}, errorf(op, KindInvalid, "A ticket is required, such as INC-123.")
	case utf8.RuneCountInString(sub.Ticket) > MaxTicketLen:
		return nil, Level{}, errorf(op, KindInvalid, "The ticket is longer than %d characters.", MaxTicketLen)
	case res.TicketPattern != nil && !res.TicketPattern.MatchString(sub.Ticket):
		return nil, Level{}, errorf(op, KindInvalid, "Ticket %q does not match the pattern %s requires: %s", sub.Ticket, res.Name, res.TicketPattern.String())
	}
	if utf8.RuneCountInString(sub.Reason) > MaxReasonLen {
		return nil, Level{}, errorf(op, KindInvalid, "The reason is longer than %d characters.", MaxReasonLen)
	}
	if breakGlass {
		if !res.BreakGlass {
			return nil, Level{}, errorf(op, KindForbidden, "Break-glass is not allowed for %s; ask for approval instead.", res.Name)
		}
		if strings.TrimSpace(sub.Reason) == "" {
			return nil, Level{}, errorf(op, KindInvalid, "Break-glass needs a reason.")
		}
	}
	return res, lvl, nil
}

func (s *Service) newRequest(sub Submission, lvl Level, now time.Time) Request {
	return Request{
		ID:                s.newID(),
		Requester:         sub.Requester,
		Resource:          sub.Resource,
		Level:             sub.Level,
		Duration:          sub.Duration,
		DurationText:      durationText(sub),
		Ticket:            sub.Ticket,
		Reason:            strings.TrimSpace(sub.Reason),
		ApprovalsRequired: lvl.Approvals,
		State:             StatePending,
		CreatedAt:         now,
		PendingUntil:      now.Add(s.policy.PendingTimeout),
	}
}

// durationText keeps the typed duration if it says the same as Duration.
func durationText(sub Submission) string {
	t := strings.TrimSpace(sub.DurationText)
	if len(t) > 32 {
		return ""
	}
	if d, err := ParseDuration(t); err != nil || d != sub.Duration {
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
	s.log.Info("request submitted", "request", r.ID, "requester", r.Requester, "scope", r.Scope(), "duration", FormatDuration(r.Duration), "ticket", r.Ticket)
	s.Wake()
	return r, nil
}

// BreakGlass grants access at once, without approval, where the resource
// allows it; the approvers are alerted and must review it afterwards.
func (s *Service) BreakGlass(ctx context.Context, sub Submission) (Request, error) {
	const op = "break glass"
	_, lvl, err := s.check(op, sub, true)
	if err != nil {
		return Request{}, err
	}
	now := s.Now()
	r := s.newRequest(sub, lvl, now)
	r.BreakGlass = true
	r.PendingUntil = now
	issue(&r, now)
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
	s.log.Warn("break-glass access granted", "request", r.ID, "requester", r.Requester, "scope", r.Scope(), "duration", FormatDuration(r.Duration), "ticket", r.Ticket)
	s.Wake()
	return r, nil
}

// issue turns r into an active grant starting at now (to the whole second).
func issue(r *Request, now time.Time) {
	iat := now.Truncate(time.Second)
	r.State = StateActive
	r.Grant = &Grant{IssuedAt: iat, ExpiresAt: iat.Add(r.Duration)}
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
	cur, err := s.get(ctx, op, id)
	if err != nil {
		return Request{}, err
	}
	if actor == cur.Requester {
		return cur, errorf(op, KindForbidden, "You can't approve or deny your own request; another approver of %s must decide.", cur.Resource)
	}
	if err := s.mustApprove(ctx, op, cur.Resource, actor, "approve or deny requests for"); err != nil {
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
				Notices: []NoticeKind{NoticeRefresh, NoticeDenied},
			}, nil
		}
		if r.ApprovedBy(actor) {
			return Change{}, errorf(op, KindConflict, "You have already approved this request (%d of %d approvals); another approver must approve it too.", len(r.Approvals), r.ApprovalsRequired)
		}
		r.Approvals = append(r.Approvals, Approval{Approver: actor, At: now})
		events := []Event{{RequestID: r.ID, Actor: actor, Action: ActionApproved, Detail: fmt.Sprintf("%d of %d", len(r.Approvals), r.ApprovalsRequired), At: now}}
		if len(r.Approvals) < r.ApprovalsRequired {
			return Change{Events: events, Notices: []NoticeKind{NoticeRefresh}}, nil
		}
		r.DecidedBy, r.DecidedAt = actor, now
		issue(r, now)
		events = append(events, Event{RequestID: r.ID, Actor: System, Action: ActionIssued, Detail: issuedDetail(r), At: now})
		return Change{Events: events, Notices: []NoticeKind{NoticeRefresh, NoticeToken}}, nil
	})
	if err != nil {
		return r, wrap(op, err)
	}
	s.log.Info("request decided", "request", id, "by", actor, "approve", approve, "state", r.State, "approvals", len(r.Approvals), "required", r.ApprovalsRequired)
	s.Wake()
	return r, nil
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
	r, err := s.store.Update(ctx, id, func(r *Request) (Change, error) {
		now := s.Now()
		switch {
		case r.State == StatePending:
			r.State, r.EndedBy, r.EndedAt = StateWithdrawn, actor, now
			return Change{
				Events:  []Event{{RequestID: r.ID, Actor: actor, Action: ActionWithdrawn, At: now}},
				Notices: endNotices(r, actor),
			}, nil
		case r.State == StateActive && r.ActiveAt(now):
			r.State, r.EndedBy, r.EndedAt = StateRevoked, actor, now
			return Change{
				Events:  []Event{{RequestID: r.ID, Actor: actor, Action: ActionRevoked, Detail: fmt.Sprintf("%s left", FormatDuration(r.Grant.ExpiresAt.Sub(now))), At: now}},
				Notices: endNotices(r, actor),
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
	s.log.Info("request revoked", "request", id, "by", actor, "state", r.State)
	s.Wake()
	return r, nil
}

// endNotices are what a revocation or withdrawal tells: the messages are
// updated, the announce channel told, and the requester too unless they
// did it themselves.
func endNotices(r *Request, actor string) []NoticeKind {
	n := []NoticeKind{NoticeRefresh, NoticeAnnounceRevoked}
	if actor != r.Requester {
		n = append(n, NoticeRevoked)
	}
	return n
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
	if reviewer == cur.Requester {
		return cur, errorf(op, KindForbidden, "You can't review your own break-glass access; another approver of %s must.", cur.Resource)
	}
	if err := s.mustApprove(ctx, op, cur.Resource, reviewer, "review break-glass access to"); err != nil {
		return cur, err
	}
	r, err := s.store.Update(ctx, id, func(r *Request) (Change, error) {
		if r.ReviewedBy != "" {
			return Change{}, errorf(op, KindConflict, "Already reviewed by <@%s>.", r.ReviewedBy)
		}
		now := s.Now()
		r.ReviewedBy, r.ReviewedAt = reviewer, now
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
	rs, err := s.store.ListByRequester(ctx, requester, StatePending, StateActive)
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
	var groups []string
	for _, a := range res.Approvers {
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
		return fmt.Sprintf("withdrawn by <@%s>", r.EndedBy)
	case StateTimedOut:
		return "expired without a decision"
	case StateExpired:
		return "expired"
	case StateRevoked:
		return fmt.Sprintf("revoked by <@%s>", r.EndedBy)
	default:
		return string(r.State)
	}
}
