package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatepass/gatepass/storage"
	"github.com/gatepass/gatepass/workflow"
	"github.com/google/uuid"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Sizes come from the environment, so the same benchmarks run small in a
// quick check and at full scale for BENCHMARKS.md:
//
//	GATEPASS_BENCH_LIVE      live grants for the start-up benchmark (default 100000)
//	GATEPASS_TEST_POSTGRES   also run on PostgreSQL (a postgres:// URL)
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// databases yields a fresh database of each kind available: a SQLite file,
// and a PostgreSQL schema when GATEPASS_TEST_POSTGRES is set.
func databases(b *testing.B) map[string]string {
	out := map[string]string{"sqlite": filepath.Join(b.TempDir(), "gatepass.db")}
	if base := os.Getenv("GATEPASS_TEST_POSTGRES"); base != "" {
		admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			b.Fatal(err)
		}
		schema := "bench_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
		if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			admin.Exec("DROP SCHEMA " + schema + " CASCADE")
			if db, err := admin.DB(); err == nil {
				db.Close()
			}
		})
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		out["postgres"] = base + sep + "search_path=" + schema
	}
	return out
}

func open(b *testing.B, dsn string) *storage.Store {
	b.Helper()
	s, err := storage.Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkOpenWithLiveGrants measures start-up (schema check and loading
// every live grant into the introspection index) with
// GATEPASS_BENCH_LIVE live grants and as many ended requests of history.
//
//	GATEPASS_BENCH_LIVE=1000000 go test -run XXX -bench OpenWithLiveGrants -benchtime 3x ./bench
func BenchmarkOpenWithLiveGrants(b *testing.B) {
	n := envInt("GATEPASS_BENCH_LIVE", 100_000)
	for name, dsn := range databases(b) {
		s := open(b, dsn)
		db, _ := s.DB().DB()
		now := time.Now()
		if err := LiveGrants(context.Background(), db, storage.IsPostgres(dsn), 0, n, now, now.Add(24*time.Hour)); err != nil {
			b.Fatal(err)
		}
		if err := EndedRequests(context.Background(), db, storage.IsPostgres(dsn), 0, n, now.Add(-24*time.Hour)); err != nil {
			b.Fatal(err)
		}
		// Statistics as a long-running database has them: the load must not
		// depend on what the planner knows.
		s.DB().Exec("ANALYZE")
		s.Close()
		b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
			var before, after runtime.MemStats
			b.ResetTimer()
			for range b.N {
				runtime.GC()
				runtime.ReadMemStats(&before)
				s := open(b, dsn)
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				if s.IndexSize() != n {
					b.Fatalf("index holds %d grants, want %d", s.IndexSize(), n)
				}
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "open-ms")
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "heap-B/grant")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkClaimAtBacklog measures claiming and finishing one notice with
// 1,000, 10,000 and 30,000 queued: the cost must not grow with the queue.
//
//	go test -run XXX -bench ClaimAtBacklog -benchtime 2000x ./bench
func BenchmarkClaimAtBacklog(b *testing.B) {
	for name, dsn := range databases(b) {
		s := open(b, dsn)
		db, _ := s.DB().DB()
		queued := 0
		for _, size := range []int{1_000, 10_000, 30_000} {
			if err := Notices(context.Background(), db, storage.IsPostgres(dsn), queued, size-queued, "expired", workflow.PriorityRoutine); err != nil {
				b.Fatal(err)
			}
			queued = size
			// An urgent notice among the routine ones: claiming it must not
			// walk past them.
			b.Run(fmt.Sprintf("%s/queued=%d", name, size), func(b *testing.B) {
				ctx := context.Background()
				for i := range b.N {
					if err := Notices(ctx, db, storage.IsPostgres(dsn), 10_000_000+size*10+i, 1, "token", workflow.PriorityUrgent); err != nil {
						b.Fatal(err)
					}
					ds, err := s.ClaimNotices(ctx, time.Now(), time.Minute, workflow.PriorityUrgent, 8, "bench")
					if err != nil || len(ds) != 1 {
						b.Fatalf("claim: %d %v", len(ds), err)
					}
					if err := s.FinishNotice(ctx, ds[0], workflow.Change{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		s.Close()
	}
}

// BenchmarkLookupMisses compares in-process token checks of live tokens
// with a mix where half the tokens are dead (expired or never issued):
// misses are answered from memory, so the mix must run at least 0.8× as
// fast as all hits.
//
//	go test -run XXX -bench LookupMisses ./bench
func BenchmarkLookupMisses(b *testing.B) {
	const live, dead = 100_000, 5_000
	for name, dsn := range databases(b) {
		s := open(b, dsn)
		db, _ := s.DB().DB()
		now := time.Now()
		if err := LiveGrants(context.Background(), db, storage.IsPostgres(dsn), 0, live, now, now.Add(24*time.Hour)); err != nil {
			b.Fatal(err)
		}
		if err := EndedRequests(context.Background(), db, storage.IsPostgres(dsn), 0, dead/2, now.Add(-time.Hour)); err != nil {
			b.Fatal(err)
		}
		s.Close()
		s = open(b, dsn)
		p, _, _ := workflow.ParsePolicy("p", []byte("approver_channel: C0A\nresources:\n  prod-db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1d}\n"))
		svc, err := workflow.New(workflow.Config{Policy: p, Store: s, Notifier: nopNotifier{}, Clock: workflow.SystemClock{}})
		if err != nil {
			b.Fatal(err)
		}
		hits := make([]string, 1024)
		for i := range hits {
			hits[i] = Token(i * 97 % live)
		}
		misses := make([]string, dead)
		for i := range misses {
			if i%2 == 0 {
				misses[i] = Token(1_000_000_000 + i/2) // an expired grant's
			} else {
				misses[i] = Token(2_000_000_000 + i) // never issued
			}
		}
		ctx := context.Background()
		for _, mix := range []struct {
			name   string
			misses bool
		}{{"hits", false}, {"half-misses", true}} {
			b.Run(name+"/"+mix.name, func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						i++
						tok := hits[i%len(hits)]
						want := true
						if mix.misses && i%2 == 0 {
							tok, want = misses[(i/2)%len(misses)], false
						}
						if _, ok, err := svc.LookupToken(ctx, tok); ok != want || err != nil {
							b.Fatalf("lookup: %v %v, want %v", ok, err, want)
						}
					}
				})
			})
		}
		s.Close()
	}
}

type nopNotifier struct{}

func (nopNotifier) Notify(context.Context, workflow.Notice) ([]workflow.MessageRef, error) {
	return nil, nil
}
func (nopNotifier) Announce(context.Context, string, []workflow.Notice) error { return nil }

// BenchmarkAuditVerify walks a chain of GATEPASS_BENCH_EVENTS events
// (default 200000; BENCHMARKS.md has 1000000), as `gatepass audit verify`
// does, reporting events per second and the heap it needed.
//
//	GATEPASS_BENCH_EVENTS=1000000 go test -run XXX -bench AuditVerify -benchtime 1x ./bench
func BenchmarkAuditVerify(b *testing.B) {
	n := envInt("GATEPASS_BENCH_EVENTS", 200_000)
	for name, dsn := range databases(b) {
		s := open(b, dsn)
		db, _ := s.DB().DB()
		if err := Events(context.Background(), db, storage.IsPostgres(dsn), n, time.Now().Add(-time.Hour)); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			peak := before.HeapAlloc
			done := make(chan struct{})
			go func() {
				var m runtime.MemStats
				for {
					select {
					case <-done:
						return
					case <-time.After(50 * time.Millisecond):
						runtime.ReadMemStats(&m)
						if m.HeapAlloc > peak {
							peak = m.HeapAlloc
						}
					}
				}
			}()
			b.ResetTimer()
			for range b.N {
				count, _, err := s.VerifyAudit(context.Background())
				if err != nil || count != int64(n) {
					b.Fatalf("verify: %d events, %v", count, err)
				}
			}
			b.StopTimer()
			close(done)
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(peak-before.HeapAlloc)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(0, "ns/op")
		})
		s.Close()
	}
}
