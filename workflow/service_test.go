package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatepass/gatepass/storage"
	"github.com/gatepass/gatepass/workflow"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a Notifier that remembers what it was asked to say and fails
// on demand.
type recorder struct {
	mu      sync.Mutex
	notices []workflow.Notice
	fail    map[workflow.NoticeKind][]error // errors to return, in turn
}

func (r *recorder) Notify(_ context.Context, n workflow.Notice) ([]workflow.MessageRef, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if errs := r.fail[n.Kind]; len(errs) > 0 {
		r.fail[n.Kind] = errs[1:]
		return nil, errs[0]
	}
	r.notices = append(r.notices, n)
	if n.Kind == workflow.NoticeApprovalRequest {
		return []workflow.MessageRef{{Purpose: workflow.MessageApproval, Channel: "C0APPROVALS", TS: "1." + n.Request.ID[:4]}}, nil
	}
	return nil, nil
}

// Announce records each announced notice like a notice of its own.
func (r *recorder) Announce(_ context.Context, _ string, ns []workflow.Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if errs := r.fail[workflow.NoticeAnnounceExpired]; len(errs) > 0 {
		r.fail[workflow.NoticeAnnounceExpired] = errs[1:]
		return errs[0]
	}
	r.notices = append(r.notices, ns...)
	return nil
}

func (r *recorder) kinds(id string) []workflow.NoticeKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []workflow.NoticeKind
	for _, n := range r.notices {
		if n.Request.ID == id {
			out = append(out, n.Kind)
		}
	}
	return out
}

func (r *recorder) tokens(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.notices {
		if n.Request.ID == id && n.Kind == workflow.NoticeToken {
			out = append(out, n.Token.Reveal())
		}
	}
	return out
}

type groups map[string][]string

func (g groups) GroupMembers(_ context.Context, id string) ([]string, error) {
	if m, ok := g[id]; ok {
		return m, nil
	}
	return nil, errors.New("no such group")
}

const svcPolicy = `
approver_channel: C0APPROVALS
announce_channel: C0ANNOUNCE
min_duration: 1m
pending_timeout: 30m
resources:
  prod-db:
    approvers: [U0BOB, U0CAROL, S0ONCALL]
    ticket_pattern: '^[A-Z]+-[0-9]+$'
    break_glass: true
    levels:
      read:  {max_duration: 4h, approvals: 1}
      write: {max_duration: 1h, approvals: 2}
  billing:
    approvers: [U0BOB]
    levels:
      read: {max_duration: 1h}
`

type fixture struct {
	providers map[string]workflow.Provider
	svc       *workflow.Service
	store     *storage.Store
	clock     *fakeClock
	rec       *recorder
	ctx       context.Context
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, svcPolicy, time.Date(2026, 11, 27, 9, 0, 0, 500_000_000, time.UTC), nil)
}

// newFixtureWith is a service over a fresh SQLite store, with policy, a
// clock set to now, and providers by resource.
func newFixtureWith(t *testing.T, policy string, now time.Time, providers map[string]workflow.Provider) *fixture {
	t.Helper()
	p, _, err := workflow.ParsePolicy("policy", []byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "gatepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &fixture{store: store, providers: providers, clock: &fakeClock{t: now}, rec: &recorder{fail: map[workflow.NoticeKind][]error{}}, ctx: context.Background()}
	f.svc, err = workflow.New(workflow.Config{Policy: p, Store: store, Notifier: f.rec, Directory: groups{"S0ONCALL": {"U0DAVE"}}, Clock: f.clock,
		Providers: providers})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// restart returns a second service over the same store and clock, as a
// restarted process (or another replica) would be: it holds no secret of
// the first.
func (f *fixture) restart(t *testing.T) *workflow.Service {
	t.Helper()
	svc, err := workflow.New(workflow.Config{Policy: f.svc.Policy(), Store: f.store, Notifier: f.rec, Directory: groups{"S0ONCALL": {"U0DAVE"}}, Clock: f.clock, Providers: f.providers})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (f *fixture) submit(t *testing.T, level string, d time.Duration) workflow.Request {
	t.Helper()
	r, err := f.svc.Submit(f.ctx, workflow.Submission{Requester: "U0ALICE", Resource: "prod-db", Level: level, Duration: d, Ticket: "INC-1", Reason: "because"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) deliver(t *testing.T) {
	t.Helper()
	if _, err := f.svc.DeliverDue(f.ctx); err != nil {
		t.Fatal(err)
	}
}

func kindOf(err error) workflow.Kind { return workflow.KindOf(err) }

func TestSubmitChecksThePolicy(t *testing.T) {
	f := newFixture(t)
	sub := func(mod func(*workflow.Submission)) error {
		s := workflow.Submission{Requester: "U0ALICE", Resource: "prod-db", Level: "read", Duration: time.Hour, Ticket: "INC-1"}
		mod(&s)
		_, err := f.svc.Submit(f.ctx, s)
		return err
	}
	cases := []struct {
		name string
		mod  func(*workflow.Submission)
		kind workflow.Kind
		says string
	}{
		{"unknown resource", func(s *workflow.Submission) { s.Resource = "nope" }, workflow.KindInvalid, "Resources: billing, prod-db"},
		{"unknown level", func(s *workflow.Submission) { s.Level = "admin" }, workflow.KindInvalid, "Levels: read, write"},
		{"too short", func(s *workflow.Submission) { s.Duration = 59 * time.Second }, workflow.KindInvalid, "shortest grant is 1m"},
		{"too long", func(s *workflow.Submission) { s.Duration = 4*time.Hour + time.Second }, workflow.KindInvalid, "at most 4h"},
		{"fractional seconds", func(s *workflow.Submission) { s.Duration = time.Hour + time.Millisecond }, workflow.KindInvalid, "whole seconds"},
		{"no ticket", func(s *workflow.Submission) { s.Ticket = "" }, workflow.KindInvalid, "ticket is required"},
		{"ticket pattern", func(s *workflow.Submission) { s.Ticket = "inc-1" }, workflow.KindInvalid, "does not match"},
		{"long reason", func(s *workflow.Submission) { s.Reason = strings.Repeat("x", 1001) }, workflow.KindInvalid, "longer than 1000"},
		{"at the maximum", func(s *workflow.Submission) { s.Duration = 4 * time.Hour }, workflow.KindInternal, ""},
		{"at the minimum", func(s *workflow.Submission) { s.Duration = time.Minute }, workflow.KindInternal, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := sub(c.mod)
			if c.says == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if kindOf(err) != c.kind || !strings.Contains(workflow.UserMessage(err), c.says) {
				t.Fatalf("err = %v (kind %v), want kind %v saying %q", err, kindOf(err), c.kind, c.says)
			}
		})
	}
	if _, err := f.svc.BreakGlass(f.ctx, workflow.Submission{Requester: "U0ALICE", Resource: "billing", Level: "read", Duration: time.Hour, Ticket: "X", Reason: "fire"}); kindOf(err) != workflow.KindForbidden {
		t.Errorf("break-glass on billing: %v, want forbidden", err)
	}
}

func TestDecisionRules(t *testing.T) {
	f := newFixture(t)
	r := f.submit(t, "write", 30*time.Minute)
	cases := []struct {
		who     string
		approve bool
		kind    workflow.Kind
		says    string
	}{
		{"U0ALICE", true, workflow.KindForbidden, "your own request"},
		{"U0ALICE", false, workflow.KindForbidden, "your own request"},
		{"U0MALLORY", true, workflow.KindForbidden, "Only approvers of prod-db"},
		{"U0BOB", true, workflow.KindInternal, ""},
		{"U0BOB", true, workflow.KindConflict, "already approved this request (1 of 2"},
		{"U0DAVE", true, workflow.KindInternal, ""}, // via S0ONCALL: the second approval grants
		{"U0CAROL", false, workflow.KindConflict, "already approved"},
	}
	for i, c := range cases {
		var err error
		if c.approve {
			_, err = f.svc.Approve(f.ctx, r.ID, c.who)
		} else {
			_, err = f.svc.Deny(f.ctx, r.ID, c.who)
		}
		if c.says == "" && err != nil || c.says != "" && (kindOf(err) != c.kind || !strings.Contains(workflow.UserMessage(err), c.says)) {
			t.Fatalf("step %d (%s approve=%v): err %v, want %v %q", i, c.who, c.approve, err, c.kind, c.says)
		}
	}
	got, _ := f.svc.Get(f.ctx, r.ID)
	if got.State != workflow.StateActive || len(got.Approvals) != 2 || got.Grant == nil {
		t.Fatalf("after two approvals: %+v", got)
	}
	if want := f.clock.Now().Truncate(time.Second); !got.Grant.IssuedAt.Equal(want) || !got.Grant.ExpiresAt.Equal(want.Add(30*time.Minute)) {
		t.Errorf("iat %s exp %s; want whole seconds from %s", got.Grant.IssuedAt, got.Grant.ExpiresAt, want)
	}
	if _, err := f.svc.Approve(f.ctx, "not-an-id", "U0BOB"); kindOf(err) != workflow.KindNotFound {
		t.Errorf("unknown id: %v", err)
	}
}

func TestConcurrentApprovalsIssueOnce(t *testing.T) {
	f := newFixture(t)
	r := f.submit(t, "read", time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.Approve(f.ctx, r.ID, []string{"U0BOB", "U0CAROL", "U0DAVE"}[i%3])
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if kindOf(err) != workflow.KindConflict {
				t.Errorf("approval %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	f.deliver(t)
	evs, _ := f.svc.Events(f.ctx, r.ID)
	issued := 0
	for _, e := range evs {
		if e.Action == workflow.ActionIssued {
			issued++
		}
	}
	if wins != 1 || issued != 1 || len(f.rec.tokens(r.ID)) != 1 {
		t.Fatalf("%d approvals won, %d grants issued, %d tokens sent; want 1 each", wins, issued, len(f.rec.tokens(r.ID)))
	}
}

func TestTokenIsActiveUntilTheSecondOfExpiry(t *testing.T) {
	f := newFixture(t)
	r := f.submit(t, "read", time.Hour)
	if _, err := f.svc.Approve(f.ctx, r.ID, "U0BOB"); err != nil {
		t.Fatal(err)
	}
	f.deliver(t)
	toks := f.rec.tokens(r.ID)
	if len(toks) != 1 {
		t.Fatalf("tokens sent: %d", len(toks))
	}
	got, _ := f.svc.Get(f.ctx, r.ID)
	exp := got.Grant.ExpiresAt
	f.clock.t = exp.Add(-time.Nanosecond)
	c, ok, err := f.svc.LookupToken(f.ctx, toks[0])
	if err != nil || !ok || c.RequestID != r.ID || c.Scope() != "prod-db:read" || !c.ExpiresAt.Equal(exp) {
		t.Fatalf("just before exp: %+v %v %v", c, ok, err)
	}
	f.clock.t = exp
	if _, ok, _ := f.svc.LookupToken(f.ctx, toks[0]); ok {
		t.Fatal("active at exp, before any sweep")
	}
	if sw, err := f.svc.ExpireDue(f.ctx); err != nil || sw.Expired != 1 {
		t.Fatalf("ExpireDue = %+v, %v", sw, err)
	}
	if sw, _ := f.svc.ExpireDue(f.ctx); sw.Expired != 0 {
		t.Fatal("expired twice")
	}
	f.deliver(t)
	if k := f.rec.kinds(r.ID); !slices.Contains(k, workflow.NoticeExpired) {
		t.Fatalf("notices %v lack the expiry", k)
	}
	if _, err := f.svc.Revoke(f.ctx, r.ID, "U0ALICE"); kindOf(err) != workflow.KindConflict {
		t.Fatalf("revoke after expiry: %v", err)
	}
}

func TestPendingTimeout(t *testing.T) {
	f := newFixture(t)
	r := f.submit(t, "read", time.Hour)
	f.clock.Advance(30*time.Minute - time.Microsecond)
	if sw, _ := f.svc.ExpireDue(f.ctx); sw.TimedOut != 0 {
		t.Fatal("timed out early")
	}
	f.clock.Advance(time.Microsecond)
	if _, err := f.svc.Approve(f.ctx, r.ID, "U0BOB"); kindOf(err) != workflow.KindConflict {
		t.Fatalf("approval at the deadline: %v", err)
	}
	if sw, _ := f.svc.ExpireDue(f.ctx); sw.TimedOut != 1 {
		t.Fatal("did not time out at the deadline")
	}
	f.deliver(t)
	got := f.rec.kinds(r.ID)
	// Half-way (pending_reminder defaults to half of pending_timeout) the
	// approvers were reminded once.
	if ch, dm := inLane(got, workflow.LaneChannel), inLane(got, workflow.LaneDM); !slices.Equal(ch, []workflow.NoticeKind{workflow.NoticeApprovalRequest, workflow.NoticeReminder, workflow.NoticeRefreshLater}) || !slices.Equal(dm, []workflow.NoticeKind{workflow.NoticeTimedOut}) {
		t.Fatalf("notices %v: want the approval message posted, a reminder, then refreshed, and the requester told", got)
	}
}

func TestRevokeAndWithdraw(t *testing.T) {
	f := newFixture(t)
	pending := f.submit(t, "read", time.Hour)
	if _, err := f.svc.Revoke(f.ctx, pending.ID, "U0MALLORY"); kindOf(err) != workflow.KindForbidden {
		t.Fatalf("outsider revoke: %v", err)
	}
	w, err := f.svc.Revoke(f.ctx, pending.ID, "U0ALICE")
	if err != nil || w.State != workflow.StateWithdrawn {
		t.Fatalf("withdraw: %+v %v", w, err)
	}
	granted := f.submit(t, "read", time.Hour)
	f.svc.Approve(f.ctx, granted.ID, "U0BOB")
	f.deliver(t)
	tok := f.rec.tokens(granted.ID)[0]
	r, err := f.svc.Revoke(f.ctx, granted.ID, "U0CAROL") // an approver may revoke
	if err != nil || r.State != workflow.StateRevoked || r.EndedBy != "U0CAROL" {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	if _, ok, _ := f.svc.LookupToken(f.ctx, tok); ok {
		t.Fatal("revoked token active")
	}
	f.clock.Advance(2 * time.Hour)
	if sw, _ := f.svc.ExpireDue(f.ctx); sw.Expired != 0 {
		t.Fatal("a revoked grant expired")
	}
	f.deliver(t)
	if k := f.rec.kinds(granted.ID); slices.Contains(k, workflow.NoticeExpired) || !slices.Contains(k, workflow.NoticeRevoked) {
		t.Fatalf("notices after revoke: %v", k)
	}
}

func TestBreakGlassAndReview(t *testing.T) {
	f := newFixture(t)
	r, err := f.svc.BreakGlass(f.ctx, workflow.Submission{Requester: "U0ALICE", Resource: "prod-db", Level: "write", Duration: time.Hour, Ticket: "INC-9", Reason: "outage"})
	if err != nil || r.State != workflow.StateActive || !r.BreakGlass {
		t.Fatalf("break-glass: %+v %v", r, err)
	}
	f.deliver(t)
	c, ok, _ := f.svc.LookupToken(f.ctx, f.rec.tokens(r.ID)[0])
	if !ok || !c.BreakGlass {
		t.Fatalf("break-glass token: %+v %v", c, ok)
	}
	if _, err := f.svc.Review(f.ctx, r.ID, "U0ALICE"); kindOf(err) != workflow.KindForbidden {
		t.Fatalf("self review: %v", err)
	}
	if _, err := f.svc.Review(f.ctx, r.ID, "U0MALLORY"); kindOf(err) != workflow.KindForbidden {
		t.Fatalf("outsider review: %v", err)
	}
	if got, err := f.svc.Review(f.ctx, r.ID, "U0CAROL"); err != nil || got.ReviewedBy != "U0CAROL" {
		t.Fatalf("review: %+v %v", got, err)
	}
	if _, err := f.svc.Review(f.ctx, r.ID, "U0BOB"); kindOf(err) != workflow.KindConflict {
		t.Fatalf("second review: %v", err)
	}
}

// A token DM that fails is retried with the same token while this process
// holds its text (a DM Slack accepted late shows a token that works);
// a process that never held it (a restart, another replica) mints a new
// one, which ends the old one.
func TestDeliveryRetriesKeepTheTokenAndGiveUpOnPermanentFailures(t *testing.T) {
	f := newFixture(t)
	r := f.submit(t, "read", time.Hour)
	f.rec.fail[workflow.NoticeToken] = []error{errors.New("slack 503")}
	f.svc.Approve(f.ctx, r.ID, "U0BOB")
	f.deliver(t)
	if toks := f.rec.tokens(r.ID); len(toks) != 0 {
		t.Fatalf("delivered despite failure: %v", toks)
	}
	got, _ := f.svc.Get(f.ctx, r.ID)
	if !got.Grant.HasToken() || !got.Grant.DeliveredAt.IsZero() {
		t.Fatalf("after a failed delivery: %+v", got.Grant)
	}
	failedHash := got.Grant.TokenHash
	f.deliver(t) // not due yet: backing off
	if len(f.rec.tokens(r.ID)) != 0 {
		t.Fatal("retried before the back-off")
	}
	f.clock.Advance(time.Second)
	f.deliver(t)
	toks := f.rec.tokens(r.ID)
	if len(toks) != 1 {
		t.Fatalf("tokens after retry: %d", len(toks))
	}
	got, _ = f.svc.Get(f.ctx, r.ID)
	if got.Grant.TokenHash != failedHash || got.Grant.DeliveredAt.IsZero() {
		t.Fatal("the retry minted a new token though this process still held the first")
	}
	if _, ok, _ := f.svc.LookupToken(f.ctx, toks[0]); !ok {
		t.Fatal("delivered token inactive")
	}

	// After a restart the text is gone: the retry mints a new token, and
	// the one whose delivery was in doubt stops working.
	r2 := f.submit(t, "write", time.Hour)
	f.rec.fail[workflow.NoticeToken] = []error{errors.New("timeout: did Slack get it?")}
	f.svc.Approve(f.ctx, r2.ID, "U0BOB")
	f.svc.Approve(f.ctx, r2.ID, "U0CAROL")
	f.deliver(t)
	doubtful, _ := f.svc.Get(f.ctx, r2.ID)
	restarted := f.restart(t)
	f.clock.Advance(2 * time.Second)
	if _, err := restarted.DeliverDue(f.ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := f.svc.Get(f.ctx, r2.ID)
	if after.Grant.TokenHash == doubtful.Grant.TokenHash || after.Grant.DeliveredAt.IsZero() {
		t.Fatal("after a restart the retry did not replace the token in doubt")
	}
	if toks := f.rec.tokens(r2.ID); len(toks) != 1 {
		t.Fatalf("tokens sent: %d, want the new one", len(toks))
	}
	evs, _ := f.svc.Events(f.ctx, r2.ID)
	minted := 0
	for _, e := range evs {
		if e.Action == workflow.ActionTokenMinted {
			minted++
		}
	}
	if minted != 2 {
		t.Fatalf("%d tokens minted, want 2 (one replaced)", minted)
	}

	// A permanent failure is abandoned, and the audit log says so.
	f.svc.Revoke(f.ctx, r.ID, "U0ALICE") // alice may ask for read again
	d := f.submit(t, "read", time.Hour)
	f.rec.fail[workflow.NoticeDenied] = []error{fmt.Errorf("post: %w", workflow.ErrUndeliverable)}
	f.svc.Deny(f.ctx, d.ID, "U0BOB")
	f.deliver(t)
	f.clock.Advance(time.Hour)
	f.deliver(t)
	if slices.Contains(f.rec.kinds(d.ID), workflow.NoticeDenied) {
		t.Fatal("an undeliverable notice was retried")
	}
	evs, _ = f.svc.Events(f.ctx, d.ID)
	if last := evs[len(evs)-1]; last.Action != workflow.ActionNoticeLost {
		t.Fatalf("last event %+v, want %s", last, workflow.ActionNoticeLost)
	}
	// ... and the approvers are told.
	if k := f.rec.kinds(d.ID); !slices.Contains(k, workflow.NoticeUndeliverable) {
		t.Fatalf("notices %v: the approvers were not told of the undeliverable notice", k)
	}
}

// inLane keeps the kinds of one lane, in order.
func inLane(kinds []workflow.NoticeKind, lane string) []workflow.NoticeKind {
	var out []workflow.NoticeKind
	for _, k := range kinds {
		if k.Lane() == lane {
			out = append(out, k)
		}
	}
	return out
}

// A lane's notices stay in order however often the first fails, and the
// other lane does not wait for it.
func TestNoticesStayInOrderWithinALane(t *testing.T) {
	f := newFixture(t)
	f.rec.fail[workflow.NoticeApprovalRequest] = []error{errors.New("timeout"), errors.New("timeout")}
	r := f.submit(t, "read", time.Hour)
	f.svc.Deny(f.ctx, r.ID, "U0BOB")
	f.deliver(t)
	if got := f.rec.kinds(r.ID); !slices.Equal(got, []workflow.NoticeKind{workflow.NoticeDenied}) {
		t.Fatalf("first pass delivered %v; want the DM only, the channel lane backing off", got)
	}
	for range 4 {
		f.clock.Advance(5 * time.Second)
		f.deliver(t)
	}
	want := []workflow.NoticeKind{workflow.NoticeDenied, workflow.NoticeApprovalRequest, workflow.NoticeRefresh}
	if got := f.rec.kinds(r.ID); !slices.Equal(got, want) {
		t.Fatalf("notices %v, want %v", got, want)
	}
}

func TestListShowsPendingAndLiveOnly(t *testing.T) {
	f := newFixture(t)
	a := f.submit(t, "read", time.Hour)
	b := f.submit(t, "read", time.Hour)
	c := f.submit(t, "read", time.Hour)
	f.svc.Approve(f.ctx, b.ID, "U0BOB")
	f.svc.Deny(f.ctx, c.ID, "U0BOB")
	rs, err := f.svc.List(f.ctx, "U0ALICE")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	if len(ids) != 2 || !slices.Contains(ids, a.ID) || !slices.Contains(ids, b.ID) {
		t.Fatalf("list = %v, want %s and %s", ids, a.ID, b.ID)
	}
	f.clock.Advance(61 * time.Minute) // b's grant ended, a timed out: without any sweep
	if rs, _ := f.svc.List(f.ctx, "U0ALICE"); len(rs) != 0 {
		t.Fatalf("list after expiry: %d entries", len(rs))
	}
}

func TestDurationIsShownAsTyped(t *testing.T) {
	f := newFixture(t)
	cases := []struct{ typed, want string }{
		{"60m", "60m"},
		{"3600s", "3600s"},
		{"90m", "1h"}, // says something else than Duration: not kept
		{"", "1h"},
	}
	for _, c := range cases {
		r, err := f.svc.Submit(f.ctx, workflow.Submission{Requester: "U0ALICE", Resource: "prod-db", Level: "read", Duration: time.Hour, DurationText: c.typed, Ticket: "INC-1"})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := f.svc.Get(f.ctx, r.ID)
		if got.DurationString() != c.want {
			t.Errorf("typed %q: shown as %q, want %q", c.typed, got.DurationString(), c.want)
		}
	}
}
