package storage

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
	"github.com/google/uuid"
)

type nopNotifier struct{}

func (nopNotifier) Notify(context.Context, workflow.Notice) ([]workflow.MessageRef, error) {
	return nil, nil
}

func (nopNotifier) Announce(context.Context, string, []workflow.Notice) error { return nil }

// BenchmarkLookupToken100k measures in-process token verification (format
// check, SHA-256, index lookup, expiry check) with 100,000 active grants
// stored. It also reports how long opening the store (which loads the
// index) takes and the heap the index holds.
func BenchmarkLookupToken100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	dsn := filepath.Join(b.TempDir(), "gatepass.db")
	s, err := Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	toks := make([]string, n)
	reqs := make([]requestRow, 0, 1000)
	grants := make([]grantRow, 0, 1000)
	for i := range n {
		toks[i], _ = tokens.Mint(rand.Reader)
		id := uuid.NewString()
		h := tokens.HashOf(toks[i]).String()
		reqs = append(reqs, requestRow{ID: id, Requester: fmt.Sprintf("U%06d", i), Resource: "prod-db", Level: "read", DurationSeconds: 86400,
			Ticket: "INC-1", State: string(workflow.StateActive), CreatedAt: now, PendingUntil: now, ApprovalsRequired: 1})
		grants = append(grants, grantRow{RequestID: id, TokenHash: &h, Scope: "prod-db:read", Resource: "prod-db", Level: "read",
			Subject: fmt.Sprintf("U%06d", i), Ticket: "INC-1", State: string(workflow.StateActive), IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
		if len(reqs) == cap(reqs) || i == n-1 {
			if err := s.db.Omit("Approvals", "Grant", "Messages", "Events", "Notices").CreateInBatches(reqs, 500).Error; err != nil {
				b.Fatal(err)
			}
			if err := s.db.CreateInBatches(grants, 500).Error; err != nil {
				b.Fatal(err)
			}
			reqs, grants = reqs[:0], grants[:0]
		}
	}
	s.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	s, err = Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	openTime := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	defer s.Close()
	p, _, err := workflow.ParsePolicy("p", []byte("approver_channel: C0A\nresources:\n  prod-db:\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1d}\n"))
	if err != nil {
		b.Fatal(err)
	}
	svc, err := workflow.New(workflow.Config{Policy: p, Store: s, Notifier: nopNotifier{}, Clock: workflow.SystemClock{}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tok := toks[i%n]
		if !tokens.Valid(tok) {
			b.Fatal("malformed")
		}
		if _, ok, err := svc.LookupToken(ctx, tok); !ok || err != nil {
			b.Fatalf("token %d inactive: %v", i%n, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(openTime.Milliseconds()), "open-ms")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "index-MiB")
}
