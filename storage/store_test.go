package storage_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatepass/gatepass/storage"
	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
	"github.com/google/uuid"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// postgresEnv names the variable holding a PostgreSQL URL for these tests;
// .ci/run sets it. Without it the PostgreSQL half of each test is skipped.
const postgresEnv = "GATEPASS_TEST_POSTGRES"

// backend opens fresh, empty stores of one kind. reopen opens the same
// database again, as a restart would.
type backend struct {
	name string
	open func(t *testing.T) (s *storage.Store, reopen func() *storage.Store)
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t *testing.T) (*storage.Store, func() *storage.Store) {
			dsn := filepath.Join(t.TempDir(), "gatepass.db")
			return mustOpen(t, dsn), func() *storage.Store { return mustOpen(t, dsn) }
		}},
		{"postgres", func(t *testing.T) (*storage.Store, func() *storage.Store) {
			base := os.Getenv(postgresEnv)
			if base == "" {
				t.Skipf("PostgreSQL tests skipped: set %s to a postgres:// URL to run them", postgresEnv)
			}
			dsn := freshSchema(t, base)
			return mustOpen(t, dsn), func() *storage.Store { return mustOpen(t, dsn) }
		}},
	}
}

func mustOpen(t *testing.T, dsn string) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// freshSchema creates a schema of its own for one test and returns a URL
// that uses it.
func freshSchema(t *testing.T, base string) string {
	t.Helper()
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if db, err := admin.DB(); err == nil {
			_ = db.Close()
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func each(t *testing.T, fn func(t *testing.T, s *storage.Store, reopen func() *storage.Store)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s, reopen := b.open(t)
			fn(t, s, reopen)
		})
	}
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func pending(id string) workflow.Request {
	return workflow.Request{
		ID: id, Requester: "U0ALICE", Resource: "prod-db", Level: "write", Duration: 30 * time.Minute,
		Ticket: "INC-1", Reason: "slow queries", ApprovalsRequired: 2, State: workflow.StatePending,
		CreatedAt: t0, PendingUntil: t0.Add(30 * time.Minute),
	}
}

func create(t *testing.T, s *storage.Store, r workflow.Request, notices ...workflow.NoticeKind) {
	t.Helper()
	err := s.Create(context.Background(), r, workflow.Change{
		Events:  []workflow.Event{{RequestID: r.ID, Actor: r.Requester, Action: workflow.ActionRequested, At: r.CreatedAt}},
		Notices: notices,
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreateGetRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, _ func() *storage.Store) {
		ctx := context.Background()
		r := pending(uuid.NewString())
		create(t, s, r)
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Requester != r.Requester || got.Duration != r.Duration || got.Reason != r.Reason ||
			!got.CreatedAt.Equal(r.CreatedAt) || !got.PendingUntil.Equal(r.PendingUntil) || got.State != workflow.StatePending || got.Grant != nil {
			t.Fatalf("round trip changed the request:\n got %+v\nwant %+v", got, r)
		}
		if _, err := s.Get(ctx, uuid.NewString()); !errors.Is(err, workflow.ErrNotFound) {
			t.Fatalf("Get(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func TestUpdateSerializesConcurrentChanges(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, _ func() *storage.Store) {
		ctx := context.Background()
		r := pending(uuid.NewString())
		create(t, s, r)
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Update(ctx, r.ID, func(r *workflow.Request) (workflow.Change, error) {
					r.Approvals = append(r.Approvals, workflow.Approval{Approver: fmt.Sprintf("U%03d", i), At: t0})
					return workflow.Change{}, nil
				})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s.Get(ctx, r.ID)
		if len(got.Approvals) != n || got.Version != n+1 {
			t.Fatalf("after %d concurrent updates: %d approvals, version %d", n, len(got.Approvals), got.Version)
		}
	})
}

func TestUpdateThatFailsStoresNothing(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, _ func() *storage.Store) {
		ctx := context.Background()
		r := pending(uuid.NewString())
		create(t, s, r)
		refuse := errors.New("refused")
		_, err := s.Update(ctx, r.ID, func(r *workflow.Request) (workflow.Change, error) {
			r.State = workflow.StateDenied
			return workflow.Change{Notices: []workflow.NoticeKind{workflow.NoticeDenied}}, refuse
		})
		if !errors.Is(err, refuse) {
			t.Fatalf("Update = %v, want the function's error", err)
		}
		got, _ := s.Get(ctx, r.ID)
		if got.State != workflow.StatePending || got.Version != 1 {
			t.Fatalf("a refused update changed the request: %+v", got)
		}
		if ds := claimAll(t, s, t0); len(ds) != 0 {
			t.Fatalf("a refused update queued notices: %+v", ds)
		}
		if _, err := s.Update(ctx, uuid.NewString(), func(*workflow.Request) (workflow.Change, error) { return workflow.Change{}, nil }); !errors.Is(err, workflow.ErrNotFound) {
			t.Fatalf("Update(unknown) = %v, want ErrNotFound", err)
		}
	})
}

// claimAll claims every due notice of both priorities at now.
func claimAll(t *testing.T, s *storage.Store, now time.Time) []workflow.Delivery {
	t.Helper()
	var out []workflow.Delivery
	for _, p := range []int{workflow.PriorityUrgent, workflow.PriorityRoutine} {
		ds, err := s.ClaimNotices(context.Background(), now, time.Minute, p, 100, "test")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ds...)
	}
	return out
}

func grant(t *testing.T, s *storage.Store, id string, exp time.Time) tokens.Hash {
	t.Helper()
	tok, _ := tokens.Mint(rand.Reader)
	h := tokens.HashOf(tok)
	_, err := s.Update(context.Background(), id, func(r *workflow.Request) (workflow.Change, error) {
		r.State = workflow.StateActive
		r.Grant = &workflow.Grant{IssuedAt: exp.Add(-r.Duration), ExpiresAt: exp, TokenHash: h}
		return workflow.Change{Events: []workflow.Event{{Actor: workflow.System, Action: workflow.ActionIssued, At: t0}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDueRequests(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, _ func() *storage.Store) {
		ctx := context.Background()
		early, late, waiting := pending(uuid.NewString()), pending(uuid.NewString()), pending(uuid.NewString())
		for _, r := range []workflow.Request{early, late, waiting} {
			create(t, s, r)
		}
		grant(t, s, early.ID, t0.Add(10*time.Minute))
		grant(t, s, late.ID, t0.Add(20*time.Minute))
		cases := []struct {
			at   time.Time
			want []string
		}{
			{t0.Add(10*time.Minute - time.Microsecond), nil},
			{t0.Add(10 * time.Minute), []string{early.ID}},
			{t0.Add(25 * time.Minute), []string{early.ID, late.ID}},
			{t0.Add(30 * time.Minute), []string{early.ID, late.ID, waiting.ID}},
		}
		for _, c := range cases {
			ids, err := s.DueRequests(ctx, c.at, 10)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(ids, ",") != strings.Join(c.want, ",") {
				t.Errorf("at %s: due %v, want %v (in due order)", c.at.Sub(t0), ids, c.want)
			}
		}
	})
}

func TestNoticesAreOrderedPerLaneAndLeased(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, _ func() *storage.Store) {
		ctx := context.Background()
		a, b := pending(uuid.NewString()), pending(uuid.NewString())
		create(t, s, a, workflow.NoticeApprovalRequest, workflow.NoticeRefresh)
		create(t, s, b, workflow.NoticeApprovalRequest)

		first := claimAll(t, s, t0)
		if len(first) != 2 || first[0].RequestID != a.ID || first[0].Kind != workflow.NoticeApprovalRequest || first[1].RequestID != b.ID {
			t.Fatalf("first claim = %+v, want the head notice of each request", first)
		}
		if again := claimAll(t, s, t0); len(again) != 0 {
			t.Fatalf("leased notices were claimed twice: %+v", again)
		}
		// The lease runs out: a crashed worker's notice is claimed again.
		if again := claimAll(t, s, t0.Add(time.Minute)); len(again) != 2 {
			t.Fatalf("after the lease: claimed %d, want 2", len(again))
		}
		// A renewed lease keeps it.
		if err := s.RenewLeases(ctx, "test", []int64{first[0].ID, first[1].ID}, t0.Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if again := claimAll(t, s, t0.Add(5*time.Minute)); len(again) != 0 {
			t.Fatalf("renewed leases were claimed by another: %+v", again)
		}
		later := t0.Add(10 * time.Minute)
		if err := s.FinishNotice(ctx, first[0], workflow.Change{}); err != nil {
			t.Fatal(err)
		}
		if err := s.RetryNotice(ctx, first[1].ID, later.Add(time.Minute), "slack is down", true); err != nil {
			t.Fatal(err)
		}
		next := claimAll(t, s, later)
		if len(next) != 1 || next[0].RequestID != a.ID || next[0].Kind != workflow.NoticeRefresh {
			t.Fatalf("after finishing a's head: %+v, want a's refresh only (b backs off)", next)
		}
		if err := s.FinishNotice(ctx, next[0], workflow.Change{}); err != nil {
			t.Fatal(err)
		}
		retried := claimAll(t, s, later.Add(time.Minute))
		if len(retried) != 1 || retried[0].RequestID != b.ID || retried[0].Attempts != 1 {
			t.Fatalf("after the back-off: %+v, want b's notice on its second attempt", retried)
		}
		// A notice queued while its lane's head is being delivered waits
		// behind it, and becomes the head when it is finished.
		if _, err := s.Update(ctx, b.ID, func(*workflow.Request) (workflow.Change, error) {
			return workflow.Change{Notices: []workflow.NoticeKind{workflow.NoticeRefresh}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if more := claimAll(t, s, later.Add(time.Minute)); len(more) != 0 {
			t.Fatalf("a notice jumped its lane: %+v", more)
		}
		if err := s.FinishNotice(ctx, retried[0], workflow.Change{}); err != nil {
			t.Fatal(err)
		}
		if more := claimAll(t, s, later.Add(time.Minute)); len(more) != 1 || more[0].Kind != workflow.NoticeRefresh {
			t.Fatalf("after the head finished: %+v, want the refresh", more)
		}
	})
}

func TestLanesAndPrioritiesAreIndependent(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, _ func() *storage.Store) {
		ctx := context.Background()
		r := pending(uuid.NewString())
		create(t, s, r, workflow.NoticeApprovalRequest, workflow.NoticeToken, workflow.NoticeRefresh, workflow.NoticeExpired, workflow.NoticeProviderRevoke)
		ds, err := s.ClaimNotices(ctx, t0, time.Minute, workflow.PriorityUrgent, 10, "w")
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, d := range ds {
			kinds = append(kinds, string(d.Kind))
		}
		if strings.Join(kinds, ",") != "approval_request,token,provider_revoke" {
			t.Fatalf("claimed %v, want the head of each lane", kinds)
		}
		// Routine notices are claimed on their own; this one waits behind
		// its lane's head anyway.
		if rs, _ := s.ClaimNotices(ctx, t0, time.Minute, workflow.PriorityRoutine, 10, "w"); len(rs) != 0 {
			t.Fatalf("routine claim = %+v, want nothing (expired DM waits behind the token)", rs)
		}
		// Announcements go to their own queue, revocations first.
		other := pending(uuid.NewString())
		create(t, s, other, workflow.NoticeAnnounceExpired)
		create(t, s, pending(uuid.NewString()), workflow.NoticeAnnounceRevoked)
		anns, err := s.ClaimAnnouncements(ctx, t0, time.Minute, 10, "w")
		if err != nil {
			t.Fatal(err)
		}
		if len(anns) != 2 || anns[0].Kind != workflow.NoticeAnnounceRevoked || anns[1].RequestID != other.ID {
			t.Fatalf("announcements = %+v, want the revocation first", anns)
		}
		if again, _ := s.ClaimAnnouncements(ctx, t0, time.Minute, 10, "w"); len(again) != 0 {
			t.Fatalf("leased announcements claimed twice: %+v", again)
		}
		if err := s.FinishAnnouncements(ctx, []int64{anns[0].ID, anns[1].ID}); err != nil {
			t.Fatal(err)
		}
		st, err := s.QueueStats(ctx)
		if err != nil || st.Announcements != 0 || st.Notices != 5 {
			t.Fatalf("queue stats %+v, %v; want 5 notices, no announcements", st, err)
		}
	})
}

func TestChannelGatesPaceProcessesTogether(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, reopen func() *storage.Store) {
		ctx := context.Background()
		other := reopen()
		if ok, err := s.GateChannel(ctx, "C0ANNOUNCE", t0, t0.Add(time.Second)); err != nil || !ok {
			t.Fatalf("first slot: %v %v", ok, err)
		}
		if ok, _ := other.GateChannel(ctx, "C0ANNOUNCE", t0.Add(500*time.Millisecond), t0.Add(1500*time.Millisecond)); ok {
			t.Fatal("two processes took the same slot")
		}
		if ok, _ := other.GateChannel(ctx, "C0OTHER", t0, t0.Add(time.Second)); !ok {
			t.Fatal("another channel's slot was held")
		}
		if err := s.DeferChannel(ctx, "C0ANNOUNCE", t0.Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		if ok, _ := other.GateChannel(ctx, "C0ANNOUNCE", t0.Add(2*time.Second), t0.Add(3*time.Second)); ok {
			t.Fatal("a deferred channel was posted to")
		}
		if ok, _ := other.GateChannel(ctx, "C0ANNOUNCE", t0.Add(5*time.Second), t0.Add(6*time.Second)); !ok {
			t.Fatal("the slot after the deferral was not free")
		}
	})
}

func TestGrantIndexFollowsChangesAndRestarts(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, reopen func() *storage.Store) {
		ctx := context.Background()
		r := pending(uuid.NewString())
		create(t, s, r)
		h := grant(t, s, r.ID, t0.Add(time.Hour))
		g, err := s.GrantByTokenHash(ctx, h)
		if err != nil || g.State != workflow.StateActive || g.RequestID != r.ID || g.Resource != "prod-db" || g.Requester != "U0ALICE" {
			t.Fatalf("GrantByTokenHash = %+v, %v", g, err)
		}
		// A restart finds the grant again.
		if g, err := reopen().GrantByTokenHash(ctx, h); err != nil || g.RequestID != r.ID {
			t.Fatalf("after reopen: %+v, %v", g, err)
		}
		// A rotated token replaces the old one.
		h2 := tokens.HashOf("gpass_other")
		if _, err := s.Update(ctx, r.ID, func(r *workflow.Request) (workflow.Change, error) {
			r.Grant.TokenHash = h2
			return workflow.Change{}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GrantByTokenHash(ctx, h); !errors.Is(err, workflow.ErrNotFound) {
			t.Fatalf("old token after rotation: %v, want ErrNotFound", err)
		}
		if _, err := s.Update(ctx, r.ID, func(r *workflow.Request) (workflow.Change, error) {
			r.State = workflow.StateRevoked
			return workflow.Change{}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if g, err := s.GrantByTokenHash(ctx, h2); !errors.Is(err, workflow.ErrNotFound) {
			t.Fatalf("revoked grant: %+v, %v; want ErrNotFound", g, err)
		}
	})
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, _ func() *storage.Store) {
		ctx := context.Background()
		r := pending(uuid.NewString())
		create(t, s, r)
		if err := s.AppendEvents(ctx, []workflow.Event{{RequestID: r.ID, Actor: "U0BOB", Action: workflow.ActionApproved, Detail: "1 of 2", At: t0}}); err != nil {
			t.Fatal(err)
		}
		evs, err := s.Events(ctx, r.ID)
		if err != nil || len(evs) != 2 || evs[1].Action != workflow.ActionApproved || evs[1].Actor != "U0BOB" || evs[1].Seq != evs[0].Seq+1 || evs[1].PrevHash != evs[0].Hash {
			t.Fatalf("Events = %+v, %v", evs, err)
		}
		for _, q := range []string{"UPDATE audit_events SET actor = 'U0MALLORY'", "DELETE FROM audit_events"} {
			if err := s.DB().Exec(q).Error; err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want the append-only guard", q, err)
			}
		}
	})
}

func TestMessagesAreRecordedOnce(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, _ func() *storage.Store) {
		ctx := context.Background()
		r := pending(uuid.NewString())
		create(t, s, r)
		ref := workflow.MessageRef{Purpose: workflow.MessageApproval, Channel: "C0APPROVALS", TS: "1.0001"}
		for _, ts := range []string{"1.0001", "1.0002"} {
			ref.TS = ts
			if err := s.AddMessages(ctx, r.ID, []workflow.MessageRef{ref}); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s.Get(ctx, r.ID)
		if len(got.Messages) != 1 || got.Messages[0].TS != "1.0001" {
			t.Fatalf("messages = %+v, want the first one only", got.Messages)
		}
	})
}

func TestSQLitePragmas(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "gatepass.db"))
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "synchronous": "2", "busy_timeout": "50"} {
		var got string
		if err := s.DB().Raw("PRAGMA " + pragma).Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	// Foreign keys hold: no approval of a request that does not exist.
	err := s.DB().Exec("INSERT INTO approvals (request_id, approver, seq, at) VALUES ('nope', 'U0A', 1, '2026-01-01 00:00:00')").Error
	if err == nil {
		t.Fatal("an approval of a missing request was stored")
	}
}

func mustOpenRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
