package storage_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatepass/gatepass/storage"
	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
	"github.com/google/uuid"
)

// stressRounds is how many rounds the revocation race runs:
// GATEPASS_STRESS_ROUNDS overrides it for longer runs.
func stressRounds(def int) int {
	if n, err := strconv.Atoi(os.Getenv("GATEPASS_STRESS_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return def
}

// The revocation race: many goroutines introspect a token while it is
// minted and revoked. Once the revocation has returned (as /access revoke
// answers), no lookup that starts afterwards may find the token active, in
// this process or, once it has caught up, in another.
func TestRevocationIsFinalUnderConcurrentLookups(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, reopen func() *storage.Store) {
		other := reopen()
		ctx := context.Background()
		rounds := stressRounds(60)
		const lookers = 8
		for round := range rounds {
			r := pending(uuid.NewString())
			create(t, s, r)
			if _, err := s.Update(ctx, r.ID, func(r *workflow.Request) (workflow.Change, error) {
				r.State = workflow.StateActive
				r.Grant = &workflow.Grant{IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
				return workflow.Change{}, nil
			}); err != nil {
				t.Fatal(err)
			}
			tok, _ := tokens.Mint(rand.Reader)
			h := tokens.HashOf(tok)
			var revokedAt atomic.Int64 // unix nanos once the revocation returned
			var stop atomic.Bool
			var bad atomic.Int64
			var wg sync.WaitGroup
			for i := range lookers {
				st := s
				if i%2 == 1 {
					st = other
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !stop.Load() {
						started := time.Now().UnixNano()
						after := revokedAt.Load()
						g, err := st.GrantByTokenHash(ctx, h)
						if err == nil && g.State == workflow.StateActive && after != 0 && started > after {
							if st == s {
								bad.Add(1)
							}
						}
					}
				}()
			}
			// Mint, then revoke, racing the lookups.
			if _, err := s.Update(ctx, r.ID, func(r *workflow.Request) (workflow.Change, error) {
				r.Grant.TokenHash = h
				return workflow.Change{Events: []workflow.Event{{Actor: workflow.System, Action: workflow.ActionTokenMinted, At: t0}}}, nil
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Update(ctx, r.ID, func(r *workflow.Request) (workflow.Change, error) {
				r.State = workflow.StateRevoked
				return workflow.Change{Events: []workflow.Event{{Actor: "U0ALICE", Action: workflow.ActionRevoked, At: t0}}}, nil
			}); err != nil {
				t.Fatal(err)
			}
			revokedAt.Store(time.Now().UnixNano())
			time.Sleep(time.Millisecond)
			if err := other.CatchUp(ctx); err != nil {
				t.Fatal(err)
			}
			stop.Store(true)
			wg.Wait()
			if n := bad.Load(); n > 0 {
				t.Fatalf("round %d: %d lookups after the revocation answered active", round, n)
			}
			for _, st := range []*storage.Store{s, other} {
				if _, err := st.GrantByTokenHash(ctx, h); !errors.Is(err, workflow.ErrNotFound) {
					t.Fatalf("round %d: revoked token still found: %v", round, err)
				}
			}
		}
	})
}

// Another process's changes reach this one's index: a token it issued is
// found at once (the miss catches up first), its revocation within a poll.
func TestFeedBringsOtherProcessesChanges(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, reopen func() *storage.Store) {
		other := reopen()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go other.Follow(ctx)
		woke := make(chan struct{}, 10)
		other.OnChange(func() { woke <- struct{}{} })

		// An unknown token is refused, and the refusal is remembered.
		if _, err := other.GrantByTokenHash(ctx, tokens.HashOf("gpass_unknown")); !errors.Is(err, workflow.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
		r := pending(uuid.NewString())
		create(t, s, r)
		h := grant(t, s, r.ID, t0.Add(time.Hour))
		if g, err := other.GrantByTokenHash(ctx, h); err != nil || g.RequestID != r.ID {
			t.Fatalf("a token issued by another process: %+v, %v", g, err)
		}
		if _, err := s.Update(ctx, r.ID, func(r *workflow.Request) (workflow.Change, error) {
			r.State = workflow.StateRevoked
			return workflow.Change{Events: []workflow.Event{{Actor: "cli:ops", Action: workflow.ActionRevoked, At: t0}}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			if _, err := other.GrantByTokenHash(ctx, h); errors.Is(err, workflow.ErrNotFound) {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatal("another process's revocation not honoured within a second")
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("revocation seen by the other process after %s", time.Since(start))
		select {
		case <-woke:
		case <-time.After(2 * time.Second):
			t.Fatal("OnChange was not called for another process's changes")
		}
	})
}

func TestReplayMemory(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, reopen func() *storage.Store) {
		ctx := context.Background()
		key := "sig:" + strings.Repeat("ab", 32) + uuid.NewString()[:8] // as long as the bot's keys
		first, reply, err := s.ClaimReplay(ctx, key, t0, t0.Add(10*time.Minute))
		if err != nil || !first || reply != nil {
			t.Fatalf("first claim: %v %q %v", first, reply, err)
		}
		other := reopen()
		if first, reply, err := other.ClaimReplay(ctx, key, t0, t0.Add(10*time.Minute)); err != nil || first || reply != nil {
			t.Fatalf("replay while the first is at work: %v %q %v", first, reply, err)
		}
		if err := s.SaveReplay(ctx, key, []byte(`{"text":"ok"}`)); err != nil {
			t.Fatal(err)
		}
		if first, reply, err := other.ClaimReplay(ctx, key, t0, t0.Add(10*time.Minute)); err != nil || first || string(reply) != `{"text":"ok"}` {
			t.Fatalf("replay after the answer: %v %q %v", first, reply, err)
		}
		if n, err := s.PruneReplays(ctx, t0.Add(11*time.Minute)); err != nil || n != 1 {
			t.Fatalf("prune: %d %v", n, err)
		}
	})
}

func TestUsesAccumulateAndAreAudited(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, _ func() *storage.Store) {
		ctx := context.Background()
		r := pending(uuid.NewString())
		create(t, s, r)
		for i := range 2 {
			at := t0.Add(time.Duration(i) * time.Minute)
			err := s.RecordUses(ctx, []workflow.Use{{RequestID: r.ID, Client: "payments-api", Count: 5, First: at, Last: at.Add(time.Second)}},
				[]workflow.Event{{RequestID: r.ID, Actor: "payments-api", Action: workflow.ActionUsed, Detail: "used 5 times", At: at}})
			if err != nil {
				t.Fatal(err)
			}
		}
		uses, err := s.Uses(ctx, []string{r.ID})
		u := uses[r.ID]
		if err != nil || len(u) != 1 || u[0].Count != 10 || !u[0].First.Equal(t0) || !u[0].Last.Equal(t0.Add(time.Minute+time.Second)) {
			t.Fatalf("uses = %+v, %v", u, err)
		}
		evs, _ := s.Events(ctx, r.ID)
		if len(evs) != 3 || evs[2].Action != workflow.ActionUsed {
			t.Fatalf("use events = %+v", evs)
		}
		if n, err := verify(t, s); err != nil || n != 3 {
			t.Fatalf("chain: %d, %v", n, err)
		}
	})
}

func TestUpdateManySkipsWhatIsNotDue(t *testing.T) {
	each(t, func(t *testing.T, s *storage.Store, _ func() *storage.Store) {
		ctx := context.Background()
		a, b := pending(uuid.NewString()), pending(uuid.NewString())
		create(t, s, a)
		create(t, s, b)
		rs, err := s.UpdateMany(ctx, []string{a.ID, b.ID}, func(r *workflow.Request) (workflow.Change, error) {
			if r.ID == b.ID {
				return workflow.Change{}, workflow.ErrSkip
			}
			r.State = workflow.StateTimedOut
			return workflow.Change{Events: []workflow.Event{{Actor: workflow.System, Action: workflow.ActionTimedOut, At: t0}}, Notices: []workflow.NoticeKind{workflow.NoticeTimedOut}}, nil
		})
		if err != nil || len(rs) != 1 || rs[0].ID != a.ID || rs[0].State != workflow.StateTimedOut {
			t.Fatalf("UpdateMany = %+v, %v", rs, err)
		}
		if got, _ := s.Get(ctx, b.ID); got.Version != 1 {
			t.Fatalf("a skipped request changed: %+v", got)
		}
		if ds := claimAll(t, s, t0); len(ds) != 1 || ds[0].RequestID != a.ID {
			t.Fatalf("notices: %+v", ds)
		}
	})
}
