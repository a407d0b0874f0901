package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatepass/gatepass/audit"
	"github.com/gatepass/gatepass/storage"
	"github.com/gatepass/gatepass/workflow"
	"github.com/google/uuid"
)

// events appends n events, each its own transaction.
func events(t *testing.T, s *storage.Store, n int) {
	t.Helper()
	r := pending(uuid.NewString())
	create(t, s, r)
	for i := range n {
		if err := s.AppendEvents(context.Background(), []workflow.Event{{RequestID: r.ID, Actor: "U0BOB", Action: "test.event", Detail: fmt.Sprintf("event %d", i), At: t0.Add(time.Duration(i) * time.Second)}}); err != nil {
			t.Fatal(err)
		}
	}
}

func verify(t *testing.T, s *storage.Store) (int64, error) {
	t.Helper()
	n, _, err := s.VerifyAudit(context.Background())
	return n, err
}

// Concurrent writers never fork the chain: events are numbered without
// gaps and each links to the one before, whatever the interleaving.
func TestConcurrentWritersKeepOneChain(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, reopen func() *storage.Store) {
		other := reopen() // a second process on the same database
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := s
				if w%2 == 1 {
					st = other
				}
				r := pending(uuid.NewString())
				if err := st.Create(context.Background(), r, workflow.Change{Events: []workflow.Event{{Actor: r.Requester, Action: workflow.ActionRequested, At: t0}}}); err != nil {
					t.Error(err)
					return
				}
				for i := range 15 {
					_, err := st.Update(context.Background(), r.ID, func(r *workflow.Request) (workflow.Change, error) {
						return workflow.Change{Events: []workflow.Event{{Actor: "U0BOB", Action: "test.event", Detail: fmt.Sprint(i), At: t0}}}, nil
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		n, err := verify(t, s)
		if err != nil || n != 8*16 {
			t.Fatalf("verify: %d events, %v; want %d linked events", n, err, 8*16)
		}
	})
}

// Tampering with the SQLite file directly (the append-only triggers
// dropped) is found, and verify names the first bad event.
func TestVerifyFindsTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  []string
		wantSeq int64
		reason  string
	}{
		{"edited", []string{"UPDATE audit_events SET detail = 'nothing to see' WHERE seq = 5"}, 5, "edited"},
		{"edited with its hash recomputed badly", []string{"UPDATE audit_events SET actor = 'U0MALLORY', hash = 'ab' || substr(hash, 3) WHERE seq = 4"}, 4, "edited"},
		{"deleted", []string{"DELETE FROM audit_events WHERE seq = 6"}, 6, "missing"},
		{"deleted from the start", []string{"DELETE FROM audit_events WHERE seq <= 2"}, 3, "no prune event vouches"},
		{"deleted from the end", []string{"DELETE FROM audit_events WHERE seq = 10"}, 10, "tip"},
		{"inserted", []string{"UPDATE audit_events SET seq = seq + 100 WHERE seq >= 7", "UPDATE audit_events SET seq = seq - 99 WHERE seq >= 107",
			"INSERT INTO audit_events (seq, at, request_id, action, actor, resource, level, ticket, detail, prev_hash, hash) SELECT 7, at, request_id, action, actor, resource, level, ticket, 'forged', prev_hash, hash FROM audit_events WHERE seq = 6"}, 7, ""},
		{"swapped", []string{"UPDATE audit_events SET seq = -1 WHERE seq = 3", "UPDATE audit_events SET seq = 3 WHERE seq = 4", "UPDATE audit_events SET seq = 4 WHERE seq = -1"}, 3, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gatepass.db")
			s := mustOpen(t, path)
			events(t, s, 9) // 10 events with the request's creation
			if n, err := verify(t, s); err != nil || n != 10 {
				t.Fatalf("before tampering: %d, %v", n, err)
			}
			db := s.DB()
			for _, q := range append([]string{"DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete"}, c.tamper...) {
				if err := db.Exec(q).Error; err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			_, err := verify(t, s)
			var f *audit.Fault
			if !errors.As(err, &f) {
				t.Fatalf("verify after tampering = %v, want a fault", err)
			}
			if f.Seq != c.wantSeq || !strings.Contains(f.Reason, c.reason) {
				t.Fatalf("fault at %d (%s), want event %d (%q)", f.Seq, f.Reason, c.wantSeq, c.reason)
			}
		})
	}
}

// A retention prune removes old requests and the oldest part of the log,
// and the chain that remains still verifies; removing more than the prune
// vouched for is found.
func TestPruneKeepsTheChainVerifiable(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, _ func() *storage.Store) {
		ctx := context.Background()
		old := pending(uuid.NewString())
		create(t, s, old)
		if _, err := s.Update(ctx, old.ID, func(r *workflow.Request) (workflow.Change, error) {
			r.State, r.EndedAt = workflow.StateTimedOut, t0.Add(30*time.Minute)
			return workflow.Change{Events: []workflow.Event{{Actor: workflow.System, Action: workflow.ActionTimedOut, At: t0.Add(30 * time.Minute)}},
				Notices: []workflow.NoticeKind{workflow.NoticeTimedOut, workflow.NoticeAnnounceRevoked}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		recent := pending(uuid.NewString())
		recent.CreatedAt = t0.Add(48 * time.Hour)
		create(t, s, recent)
		res, err := s.Prune(ctx, t0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 1 || res.Events != 2 {
			t.Fatalf("pruned %+v, want the old request and its 2 events", res)
		}
		if _, err := s.Get(ctx, old.ID); !errors.Is(err, workflow.ErrNotFound) {
			t.Fatalf("old request still there: %v", err)
		}
		if _, err := s.Get(ctx, recent.ID); err != nil {
			t.Fatalf("recent request pruned: %v", err)
		}
		n, err := verify(t, s)
		if err != nil || n != 2 {
			t.Fatalf("after prune: %d events, %v; want the recent request's and the prune's, verified", n, err)
		}
		// Pruning again with nothing old is a no-op.
		if res, err := s.Prune(ctx, t0.Add(24*time.Hour)); err != nil || res.Requests != 0 || res.Events != 0 {
			t.Fatalf("second prune: %+v, %v", res, err)
		}
	})
}

// Version 1 databases (before the chain) are migrated: every event is
// chained in its original order, grants keep working, queued notices
// find their lanes, and announcements their queue.
func TestMigrateFromVersion1(t *testing.T) {
	dump, err := os.ReadFile("testdata/schema_v1.sql")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "v1.db")
	raw := mustOpenRaw(t, path)
	if _, err := raw.Exec(string(dump)); err != nil {
		t.Fatalf("load the version 1 database: %v", err)
	}
	raw.Close()
	s := mustOpen(t, path)
	ctx := context.Background()
	n, err := verify(t, s)
	if err != nil || n != 10 {
		t.Fatalf("migrated chain: %d events, %v; want the 10 version 1 events, chained", n, err)
	}
	evs, _ := s.Events(ctx, "22222222-2222-4222-8222-222222222222")
	if len(evs) != 3 || evs[0].Action != workflow.ActionRequested || evs[0].Resource != "prod-db" || evs[0].Ticket != "INC-2222" {
		t.Fatalf("events of a migrated request: %+v", evs)
	}
	r, err := s.Get(ctx, "22222222-2222-4222-8222-222222222222")
	if err != nil || r.State != workflow.StateActive || r.Grant == nil || !r.Grant.HasToken() {
		t.Fatalf("migrated grant: %+v, %v", r, err)
	}
	due, _ := s.DueRequests(ctx, time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), 10)
	if len(due) != 2 {
		t.Fatalf("due after migration: %v, want the pending request and the active grant", due)
	}
	anns, _ := s.ClaimAnnouncements(ctx, time.Now(), time.Minute, 10, "w")
	if len(anns) != 3 {
		t.Fatalf("announcements after migration: %d, want the 3 queued in version 1", len(anns))
	}
	ds := claimAll(t, s, time.Now())
	if len(ds) == 0 {
		t.Fatal("no lane head after migration")
	}
	// Migrating again changes nothing.
	s2 := mustOpen(t, path)
	if n, err := verify(t, s2); err != nil || n != 10 {
		t.Fatalf("after a second open: %d, %v", n, err)
	}
}
