package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
)

const lifecyclePolicy = `
approver_channel: C0APPROVALS
announce_channel: C0ANNOUNCE
min_duration: 1m
pending_timeout: 30m
pending_reminder: 10m
warn_before: 5m
review_reminder: 1h
token_delivery_timeout: 10m
ticket_url: "https://tracker.example/browse/{ticket}"
resources:
  prod-db:
    approvers: [U0BOB, U0CAROL, S0ONCALL]
    break_glass: true
    break_glass_users: [U0ALICE, S0ONCALL]
    break_glass_max_duration: 30m
    levels:
      read:  {max_duration: 4h, approvals: 1}
      write: {max_duration: 1h, approvals: 2}
  vault:
    approvers: [U0BOB]
    provider:
      webhook: {url: "https://hooks.example/gatepass", secret_env: HOOK_SECRET}
    levels:
      read: {max_duration: 1h}
`

// fakeProvider records what it was asked and fails on demand.
type fakeProvider struct {
	mu      sync.Mutex
	calls   []string
	failing map[string]int // method → failures left (-1: always)
	// beforeGrant, when set, runs as a grant starts, before it is made.
	beforeGrant func()
}

func (p *fakeProvider) do(method string, g workflow.ProviderGrant) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, method+" "+g.RequestID+" "+g.ExpiresAt.Format(time.RFC3339))
	if n := p.failing[method]; n != 0 {
		if n > 0 {
			p.failing[method] = n - 1
		}
		return fmt.Errorf("%s refused", method)
	}
	return nil
}

func (p *fakeProvider) Grant(_ context.Context, g workflow.ProviderGrant) (workflow.Credential, error) {
	if p.beforeGrant != nil {
		p.beforeGrant()
	}
	if err := p.do("grant", g); err != nil {
		return workflow.Credential{}, err
	}
	return workflow.Credential{Label: "Password", Secret: "s3cret-" + g.RequestID[:4]}, nil
}
func (p *fakeProvider) Extend(_ context.Context, g workflow.ProviderGrant) error {
	return p.do("extend", g)
}
func (p *fakeProvider) Revoke(_ context.Context, g workflow.ProviderGrant) error {
	return p.do("revoke", g)
}
func (p *fakeProvider) Reconcile(_ context.Context, live []workflow.ProviderGrant) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, fmt.Sprintf("reconcile %d", len(live)))
	return nil
}

func (p *fakeProvider) count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.calls {
		if strings.HasPrefix(c, method+" ") {
			n++
		}
	}
	return n
}

type lifeFixture struct {
	*fixture
	prov *fakeProvider
}

func newLifeFixture(t *testing.T) *lifeFixture {
	t.Helper()
	prov := &fakeProvider{failing: map[string]int{}}
	f := newFixtureWith(t, lifecyclePolicy, time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), map[string]workflow.Provider{"vault": prov})
	return &lifeFixture{fixture: f, prov: prov}
}

func (f *lifeFixture) ask(t *testing.T, resource, level string, d time.Duration) workflow.Request {
	t.Helper()
	r, err := f.svc.Submit(f.ctx, workflow.Submission{Requester: "U0ALICE", Resource: resource, Level: level, Duration: d, Ticket: "INC-1"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *lifeFixture) count(id string, k workflow.NoticeKind) int {
	n := 0
	for _, got := range f.rec.kinds(id) {
		if got == k {
			n++
		}
	}
	return n
}

func TestExtensionMovesTheSameGrant(t *testing.T) {
	f := newLifeFixture(t)
	r := f.ask(t, "prod-db", "write", time.Hour)
	f.svc.Approve(f.ctx, r.ID, "U0BOB")
	f.svc.Approve(f.ctx, r.ID, "U0CAROL")
	f.deliver(t)
	tok := f.rec.tokens(r.ID)[0]
	before, _ := f.svc.Get(f.ctx, r.ID)

	cases := []struct {
		who  string
		d    time.Duration
		kind workflow.Kind
	}{
		{"U0BOB", 30 * time.Minute, workflow.KindForbidden}, // only the requester
		{"U0ALICE", 61 * time.Minute, workflow.KindInvalid}, // beyond the level's max
		{"U0ALICE", 30 * time.Second, workflow.KindInvalid}, // below min_duration
		{"U0ALICE", 30*time.Minute + time.Millisecond, workflow.KindInvalid},
	}
	for _, c := range cases {
		if _, err := f.svc.Extend(f.ctx, r.ID, c.who, c.d, ""); kindOf(err) != c.kind {
			t.Errorf("extend by %s for %s: %v, want %v", c.who, c.d, err, c.kind)
		}
	}
	e, err := f.svc.Extend(f.ctx, r.ID, "U0ALICE", 30*time.Minute, "30m")
	if err != nil || !e.Extension.Pending() || e.Extension.Seq != 1 {
		t.Fatalf("extend: %+v %v", e.Extension, err)
	}
	if _, err := f.svc.Extend(f.ctx, r.ID, "U0ALICE", 30*time.Minute, ""); kindOf(err) != workflow.KindConflict {
		t.Fatalf("a second pending extension: %v", err)
	}
	if _, err := f.svc.ApproveExtension(f.ctx, r.ID, "U0ALICE"); kindOf(err) != workflow.KindForbidden {
		t.Fatalf("self approval of an extension: %v", err)
	}
	if got, err := f.svc.ApproveExtension(f.ctx, r.ID, "U0BOB"); err != nil || got.Grant.ExpiresAt != before.Grant.ExpiresAt {
		t.Fatalf("1 of 2: %+v %v", got.Grant, err)
	}
	if _, err := f.svc.ApproveExtension(f.ctx, r.ID, "U0BOB"); kindOf(err) != workflow.KindConflict {
		t.Fatalf("same approver twice: %v", err)
	}
	got, err := f.svc.ApproveExtension(f.ctx, r.ID, "U0DAVE") // through the user group
	if err != nil || got.Extension.State != workflow.ExtensionApproved || !got.Grant.ExpiresAt.Equal(before.Grant.ExpiresAt.Add(30*time.Minute)) {
		t.Fatalf("approved extension: %+v %+v %v", got.Extension, got.Grant, err)
	}
	c, ok, _ := f.svc.LookupToken(f.ctx, tok)
	if !ok || !c.ExpiresAt.Equal(got.Grant.ExpiresAt) {
		t.Fatalf("introspection after the extension: %+v %v", c, ok)
	}
	f.deliver(t)
	if toks := f.rec.tokens(r.ID); len(toks) != 1 {
		t.Fatalf("%d tokens sent; an extension keeps the token", len(toks))
	}
	if f.count(r.ID, workflow.NoticeExtensionRequest) != 1 || f.count(r.ID, workflow.NoticeExtended) != 1 {
		t.Fatalf("notices %v", f.rec.kinds(r.ID))
	}
	// A denied extension changes nothing.
	f.svc.Extend(f.ctx, r.ID, "U0ALICE", time.Hour, "")
	denied, err := f.svc.DenyExtension(f.ctx, r.ID, "U0CAROL")
	if err != nil || denied.Extension.State != workflow.ExtensionDenied || !denied.Grant.ExpiresAt.Equal(got.Grant.ExpiresAt) {
		t.Fatalf("denied extension: %+v %v", denied.Extension, err)
	}
	// One left unanswered times out; nothing changes either.
	f.svc.Extend(f.ctx, r.ID, "U0ALICE", time.Hour, "")
	f.clock.Advance(31 * time.Minute)
	f.svc.ExpireDue(f.ctx)
	timedOut, _ := f.svc.Get(f.ctx, r.ID)
	if timedOut.Extension.State != workflow.ExtensionTimedOut || !timedOut.Grant.ExpiresAt.Equal(got.Grant.ExpiresAt) {
		t.Fatalf("unanswered extension: %+v", timedOut.Extension)
	}
	evs, _ := f.svc.Events(f.ctx, r.ID)
	var actions []string
	for _, e := range evs {
		if strings.HasPrefix(e.Action, "extension.") || e.Action == workflow.ActionExtended {
			actions = append(actions, e.Action)
		}
	}
	want := []string{"extension.requested", "extension.approved", "extension.approved", "grant.extended", "extension.requested", "extension.denied", "extension.requested", "extension.timed_out"}
	if !slices.Equal(actions, want) {
		t.Fatalf("extension audit trail %v, want %v", actions, want)
	}
}

func TestCancel(t *testing.T) {
	f := newLifeFixture(t)
	r := f.ask(t, "prod-db", "read", time.Hour)
	if _, err := f.svc.Cancel(f.ctx, r.ID, "U0BOB"); kindOf(err) != workflow.KindForbidden {
		t.Fatalf("cancel by another: %v", err)
	}
	c, err := f.svc.Cancel(f.ctx, r.ID, "U0ALICE")
	if err != nil || c.State != workflow.StateWithdrawn || c.EndedBy != "U0ALICE" {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	if _, err := f.svc.Approve(f.ctx, r.ID, "U0BOB"); kindOf(err) != workflow.KindConflict {
		t.Fatalf("approving a cancelled request: %v", err)
	}
	if _, err := f.svc.Cancel(f.ctx, r.ID, "U0ALICE"); kindOf(err) != workflow.KindConflict {
		t.Fatalf("cancelling twice: %v", err)
	}
	// An active grant has nothing to cancel but its pending extension.
	g := f.ask(t, "prod-db", "read", time.Hour)
	f.svc.Approve(f.ctx, g.ID, "U0BOB")
	if _, err := f.svc.Cancel(f.ctx, g.ID, "U0ALICE"); kindOf(err) != workflow.KindConflict || !strings.Contains(workflow.UserMessage(err), "revoke") {
		t.Fatalf("cancel of a grant: %v", err)
	}
	f.svc.Extend(f.ctx, g.ID, "U0ALICE", time.Hour, "")
	if got, err := f.svc.Cancel(f.ctx, g.ID, "U0ALICE"); err != nil || got.Extension.State != workflow.ExtensionCancelled || got.State != workflow.StateActive {
		t.Fatalf("cancel of an extension: %+v %v", got.Extension, err)
	}
}

func TestAlreadyHeldIsRefused(t *testing.T) {
	f := newLifeFixture(t)
	r := f.ask(t, "prod-db", "read", time.Hour)
	f.svc.Approve(f.ctx, r.ID, "U0BOB")
	_, err := f.svc.Submit(f.ctx, workflow.Submission{Requester: "U0ALICE", Resource: "prod-db", Level: "read", Duration: time.Hour, Ticket: "INC-2"})
	if kindOf(err) != workflow.KindConflict || !strings.Contains(workflow.UserMessage(err), "/access extend "+r.ID) {
		t.Fatalf("asking again for held access: %v", err)
	}
	// Another level, or the same after the grant ends, is fine.
	f.ask(t, "prod-db", "write", time.Hour)
	f.clock.Advance(time.Hour)
	f.ask(t, "prod-db", "read", time.Hour)
}

func TestTimersFireOnceAndCatchUp(t *testing.T) {
	f := newLifeFixture(t)
	// A pending request is reminded once, at pending_reminder.
	p := f.ask(t, "prod-db", "read", 2*time.Hour)
	// A break-glass grant is reminded at every review_reminder until reviewed.
	bg, err := f.svc.BreakGlass(f.ctx, workflow.Submission{Requester: "U0ALICE", Resource: "prod-db", Level: "write", Duration: 30 * time.Minute, Ticket: "INC-9", Reason: "outage"})
	if err != nil {
		t.Fatal(err)
	}
	// A grant longer than warn_before is warned once, warn_before before exp.
	g := f.ask(t, "prod-db", "read", time.Hour)
	f.svc.Approve(f.ctx, g.ID, "U0BOB")

	f.clock.Advance(9 * time.Minute)
	f.svc.ExpireDue(f.ctx)
	f.deliver(t)
	if n := f.count(p.ID, workflow.NoticeReminder); n != 0 {
		t.Fatalf("reminded early: %d", n)
	}
	f.clock.Advance(time.Minute)
	for range 3 {
		f.svc.ExpireDue(f.ctx)
	}
	f.deliver(t)
	if n := f.count(p.ID, workflow.NoticeReminder); n != 1 {
		t.Fatalf("pending reminders: %d, want 1", n)
	}
	f.clock.Advance(46 * time.Minute) // 4 minutes before g's expiry
	for range 2 {
		f.svc.ExpireDue(f.ctx)
	}
	f.deliver(t)
	if n := f.count(g.ID, workflow.NoticeWarn); n != 1 {
		t.Fatalf("warnings: %d, want 1", n)
	}
	// gatepass was down for a while: everything due is caught up, once.
	f.clock.Advance(3 * time.Hour)
	for range 2 {
		f.svc.ExpireDue(f.ctx)
	}
	f.deliver(t)
	if n := f.count(g.ID, workflow.NoticeWarn); n != 1 {
		t.Fatalf("warnings after expiry: %d, want still 1", n)
	}
	if n := f.count(bg.ID, workflow.NoticeReviewReminder); n != 1 {
		t.Fatalf("review reminders after a long outage: %d, want 1 (then one per interval)", n)
	}
	f.clock.Advance(time.Hour)
	f.svc.ExpireDue(f.ctx)
	f.deliver(t)
	if n := f.count(bg.ID, workflow.NoticeReviewReminder); n != 2 {
		t.Fatalf("review reminders: %d, want 2", n)
	}
	f.svc.Review(f.ctx, bg.ID, "U0BOB")
	f.clock.Advance(5 * time.Hour)
	f.svc.ExpireDue(f.ctx)
	f.deliver(t)
	if n := f.count(bg.ID, workflow.NoticeReviewReminder); n != 2 {
		t.Fatalf("reminded after the review: %d", n)
	}
	// A short grant is not warned.
	s := f.ask(t, "prod-db", "read", 4*time.Minute)
	f.svc.Approve(f.ctx, s.ID, "U0BOB")
	f.clock.Advance(5 * time.Minute)
	f.svc.ExpireDue(f.ctx)
	f.deliver(t)
	if n := f.count(s.ID, workflow.NoticeWarn); n != 0 {
		t.Fatalf("a grant shorter than warn_before was warned")
	}
}

func TestBreakGlassRules(t *testing.T) {
	f := newLifeFixture(t)
	sub := workflow.Submission{Requester: "U0ERIN", Resource: "prod-db", Level: "write", Duration: 20 * time.Minute, Ticket: "INC-9", Reason: "outage"}
	if _, err := f.svc.BreakGlass(f.ctx, sub); kindOf(err) != workflow.KindForbidden {
		t.Fatalf("break-glass by someone not in break_glass_users: %v", err)
	}
	sub.Requester = "U0DAVE" // through the S0ONCALL group
	sub.Duration = 31 * time.Minute
	if _, err := f.svc.BreakGlass(f.ctx, sub); kindOf(err) != workflow.KindInvalid || !strings.Contains(workflow.UserMessage(err), "break-glass on prod-db allows at most 30m") {
		t.Fatalf("beyond break_glass_max_duration: %v", err)
	}
	sub.Duration = 30 * time.Minute
	if _, err := f.svc.BreakGlass(f.ctx, sub); err != nil {
		t.Fatalf("break-glass by the on-call group: %v", err)
	}
}

func TestDeceptiveCharactersAreRefused(t *testing.T) {
	f := newLifeFixture(t)
	for _, c := range []struct{ ticket, reason string }{
		{"INC-1\u202e", ""},
		{"INC\u200b-1", ""},
		{"INC-1", "looks fine \u202etxt.exe"},
		{"INC-1", "zero\u200dwidth"},
	} {
		_, err := f.svc.Submit(f.ctx, workflow.Submission{Requester: "U0ALICE", Resource: "prod-db", Level: "write", Duration: time.Hour, Ticket: c.ticket, Reason: c.reason})
		if kindOf(err) != workflow.KindInvalid || !strings.Contains(workflow.UserMessage(err), "invisible or direction-changing") {
			t.Errorf("ticket %q reason %q: %v", c.ticket, c.reason, err)
		}
	}
}

// A grant whose token cannot reach its requester does not stay live with a
// token nobody holds: a permanent refusal ends it at once, and a token not
// delivered within token_delivery_timeout ends it then.
func TestUndeliveredTokensEndTheGrant(t *testing.T) {
	f := newLifeFixture(t)
	refused := f.ask(t, "prod-db", "read", time.Hour)
	f.rec.fail[workflow.NoticeToken] = []error{fmt.Errorf("post: %w", workflow.ErrUndeliverable)}
	f.svc.Approve(f.ctx, refused.ID, "U0BOB")
	f.deliver(t)
	got, _ := f.svc.Get(f.ctx, refused.ID)
	if got.State != workflow.StateFailed || !strings.Contains(got.EndReason, "could not be delivered") {
		t.Fatalf("after a permanent refusal: %s %q", got.State, got.EndReason)
	}
	if k := f.rec.kinds(refused.ID); !slices.Contains(k, workflow.NoticeFailureAlert) {
		t.Fatalf("approvers not told: %v", k)
	}

	outage := f.ask(t, "prod-db", "write", time.Hour)
	f.rec.fail[workflow.NoticeToken] = slices.Repeat([]error{errors.New("slack is down")}, 50)
	f.svc.Approve(f.ctx, outage.ID, "U0BOB")
	f.svc.Approve(f.ctx, outage.ID, "U0CAROL")
	for range 12 {
		f.clock.Advance(time.Minute)
		f.svc.ExpireDue(f.ctx)
		f.deliver(t)
	}
	got, _ = f.svc.Get(f.ctx, outage.ID)
	if got.State != workflow.StateFailed || !strings.Contains(got.EndReason, "within 10m") {
		t.Fatalf("after 12 minutes of outage: %s %q", got.State, got.EndReason)
	}
	if got.Grant.HasToken() {
		if _, ok, _ := f.svc.LookupToken(f.ctx, "gpass_x"); ok {
			t.Fatal("unreachable")
		}
	}
}

func TestProviderGrantRevokeAndFailure(t *testing.T) {
	f := newLifeFixture(t)
	r, err := f.svc.Submit(f.ctx, workflow.Submission{Requester: "U0ALICE", Resource: "vault", Level: "read", Duration: time.Hour, Ticket: "INC-1"})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Approve(f.ctx, r.ID, "U0BOB")
	f.deliver(t)
	if f.prov.count("grant") != 1 {
		t.Fatalf("provider calls %v", f.prov.calls)
	}
	f.rec.mu.Lock()
	var cred workflow.Credential
	for _, n := range f.rec.notices {
		if n.Kind == workflow.NoticeToken && n.Request.ID == r.ID {
			cred = n.Credential
		}
	}
	f.rec.mu.Unlock()
	if !strings.HasPrefix(cred.Secret, "s3cret-") {
		t.Fatalf("the token DM did not carry the provider's credential: %+v", cred)
	}
	// Expiry revokes at the provider; a failing revoke is retried until it
	// works, and the approvers are alerted while it fails.
	f.prov.failing["revoke"] = 3
	f.clock.Advance(time.Hour)
	f.svc.ExpireDue(f.ctx)
	for range 6 {
		f.deliver(t)
		f.clock.Advance(10 * time.Second)
	}
	if f.prov.count("revoke") != 4 {
		t.Fatalf("revoke attempts %d, want 4 (3 failures, then success): %v", f.prov.count("revoke"), f.prov.calls)
	}
	if f.count(r.ID, workflow.NoticeProviderFailing) != 1 {
		t.Fatalf("approvers alerted %d times, want once", f.count(r.ID, workflow.NoticeProviderFailing))
	}
	evs, _ := f.svc.Events(f.ctx, r.ID)
	if last := evs[len(evs)-1]; last.Action != workflow.ActionProvRevoked {
		t.Fatalf("last event %s, want %s", last.Action, workflow.ActionProvRevoked)
	}

	// A provider that cannot grant fails the request; nothing stays behind.
	f.prov.failing["grant"] = -1
	bad, _ := f.svc.Submit(f.ctx, workflow.Submission{Requester: "U0ALICE", Resource: "vault", Level: "read", Duration: time.Hour, Ticket: "INC-2"})
	f.svc.Approve(f.ctx, bad.ID, "U0BOB")
	for range 6 {
		f.deliver(t)
		f.clock.Advance(20 * time.Second)
	}
	got, _ := f.svc.Get(f.ctx, bad.ID)
	if got.State != workflow.StateFailed || !strings.Contains(got.EndReason, "could not grant") {
		t.Fatalf("after the provider failed: %s %q", got.State, got.EndReason)
	}
	k := f.rec.kinds(bad.ID)
	if !slices.Contains(k, workflow.NoticeFailed) || !slices.Contains(k, workflow.NoticeFailureAlert) || slices.Contains(k, workflow.NoticeToken) {
		t.Fatalf("notices of a failed grant: %v", k)
	}
	if f.prov.count("revoke") < 5 {
		t.Fatalf("what the failed grant left was not revoked: %v", f.prov.calls)
	}
	if err := f.svc.ReconcileProviders(f.ctx); err != nil || !slices.Contains(f.prov.calls, "reconcile 0") {
		t.Fatalf("reconcile: %v %v", err, f.prov.calls)
	}
}

// Thousands of grants ending in one second are swept in batches, each
// exactly once, however many sweepers run.
func TestMassExpiryIsSweptOnceInBatches(t *testing.T) {
	f := newLifeFixture(t)
	const n = 1200
	ids := make([]string, 0, n)
	for i := range n {
		r, err := f.svc.Submit(f.ctx, workflow.Submission{Requester: fmt.Sprintf("U%05d", i), Resource: "prod-db", Level: "read", Duration: time.Hour, Ticket: "INC-1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Approve(f.ctx, r.ID, "U0BOB"); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	f.clock.Advance(time.Hour)
	other := f.restart(t)
	var wg sync.WaitGroup
	results := make([]workflow.Sweep, 3)
	for i, svc := range []*workflow.Service{f.svc, other, f.svc} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sw, err := svc.ExpireDue(f.ctx)
			if err != nil {
				t.Error(err)
			}
			results[i] = sw
		}()
	}
	wg.Wait()
	total := 0
	for _, r := range results {
		total += r.Expired
	}
	if total != n {
		t.Fatalf("expired %d in all (%+v), want each of %d once", total, results, n)
	}
	for _, id := range ids[:10] {
		evs, _ := f.svc.Events(f.ctx, id)
		expired := 0
		for _, e := range evs {
			if e.Action == workflow.ActionExpired {
				expired++
			}
		}
		if expired != 1 {
			t.Fatalf("%s expired %d times", id, expired)
		}
	}
}

// Introspections by a named client are counted as uses, flushed in
// batches with an audit event, and summed for people.
func TestUseIsRecorded(t *testing.T) {
	f := newLifeFixture(t)
	r := f.ask(t, "prod-db", "read", time.Hour)
	f.svc.Approve(f.ctx, r.ID, "U0BOB")
	f.deliver(t)
	tok := f.rec.tokens(r.ID)[0]
	for i := range 7 {
		client := "payments-api"
		if i%3 == 2 {
			client = "ledger"
		}
		ctx := tokens.WithClientName(f.ctx, client)
		if _, ok, _ := f.svc.LookupToken(ctx, tok); !ok {
			t.Fatal("inactive")
		}
	}
	if _, ok, _ := f.svc.LookupToken(f.ctx, tok); !ok { // no client: not counted
		t.Fatal("inactive")
	}
	if err := f.svc.FlushUses(f.ctx); err != nil {
		t.Fatal(err)
	}
	uses, _ := f.svc.UsesOf(f.ctx, []string{r.ID})
	if s := workflow.UseSummary(uses[r.ID]); s != "used 7 times by payments-api, ledger" {
		t.Fatalf("summary %q", s)
	}
	evs, _ := f.svc.Events(f.ctx, r.ID)
	used := 0
	for _, e := range evs {
		if e.Action == workflow.ActionUsed {
			used++
		}
	}
	if used != 2 {
		t.Fatalf("%d use events, want one per client", used)
	}
	if workflow.UseSummary(nil) != "never used" {
		t.Fatal("never used")
	}
}

func TestReplaysActOnce(t *testing.T) {
	f := newLifeFixture(t)
	calls := 0
	do := func() []byte { calls++; return []byte(`{"ok":1}`) }
	a, replayed, err := f.svc.Once(f.ctx, "sig:abc", 10*time.Minute, do)
	if err != nil || replayed || string(a) != `{"ok":1}` {
		t.Fatalf("first: %s %v %v", a, replayed, err)
	}
	b, replayed, err := f.restart(t).Once(f.ctx, "sig:abc", 10*time.Minute, do)
	if err != nil || !replayed || string(b) != `{"ok":1}` || calls != 1 {
		t.Fatalf("replay: %s %v %v (%d calls)", b, replayed, err, calls)
	}
}

func TestHistoryAndAuditAreForApprovers(t *testing.T) {
	f := newLifeFixture(t)
	r := f.ask(t, "prod-db", "read", time.Hour)
	f.svc.Approve(f.ctx, r.ID, "U0BOB")
	if _, err := f.svc.History(f.ctx, "U0ALICE", workflow.Query{}); kindOf(err) != workflow.KindForbidden {
		t.Fatalf("history for a requester: %v", err)
	}
	if _, err := f.svc.History(f.ctx, "U0BOB", workflow.Query{Resource: "vault"}); err != nil {
		t.Fatalf("history of a resource bob approves: %v", err)
	}
	rs, err := f.svc.History(f.ctx, "U0DAVE", workflow.Query{Requester: "U0ALICE"})
	if err != nil || len(rs) != 1 {
		t.Fatalf("history by requester: %d %v", len(rs), err)
	}
	evs, err := f.svc.TicketEvents(f.ctx, "U0CAROL", "INC-1")
	if err != nil || len(evs) < 3 {
		t.Fatalf("audit of INC-1: %d %v", len(evs), err)
	}
	if _, err := f.svc.TicketEvents(f.ctx, "U0ALICE", "INC-1"); kindOf(err) != workflow.KindForbidden {
		t.Fatalf("audit for a requester: %v", err)
	}
	w, _ := f.svc.Waiting(f.ctx, "U0BOB")
	if len(w) != 0 {
		t.Fatalf("waiting for bob: %d", len(w))
	}
	p := f.ask(t, "prod-db", "write", time.Hour)
	if w, _ := f.svc.Waiting(f.ctx, "U0BOB"); len(w) != 1 || w[0].ID != p.ID {
		t.Fatalf("waiting for bob: %+v", w)
	}
	if w, _ := f.svc.Waiting(f.ctx, "U0ALICE"); len(w) != 0 {
		t.Fatal("alice waits for her own request")
	}
}

// A grant revoked while its provider credential is being made, whose
// revoke ran before the credential existed, is undone once the credential
// is made: nothing is left behind until its expiry.
func TestProviderGrantEndedWhileMade(t *testing.T) {
	f := newLifeFixture(t)
	r, err := f.svc.Submit(f.ctx, workflow.Submission{Requester: "U0ALICE", Resource: "vault", Level: "read", Duration: time.Hour, Ticket: "INC-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(f.ctx, r.ID, "U0BOB"); err != nil {
		t.Fatal(err)
	}
	f.prov.beforeGrant = func() {
		f.prov.beforeGrant = nil
		if _, err := f.svc.Revoke(f.ctx, r.ID, "U0BOB"); err != nil {
			t.Error(err)
		}
		// The revocation's provider revoke is delivered meanwhile, by
		// another worker.
		if _, err := f.svc.DeliverDue(f.ctx); err != nil {
			t.Error(err)
		}
	}
	f.deliver(t)
	f.prov.mu.Lock()
	calls := slices.Clone(f.prov.calls)
	f.prov.mu.Unlock()
	i := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "grant ") })
	if i < 0 || !slices.ContainsFunc(calls[i+1:], func(c string) bool { return strings.HasPrefix(c, "revoke ") }) {
		t.Fatalf("the credential made after its grant was revoked was not undone: %v", calls)
	}
}
