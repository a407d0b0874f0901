package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatepass/gatepass/bench"
	"github.com/gatepass/gatepass/storage"
)

// stormSize is how many grants end in the same second in
// BenchmarkExpiryStorm: GATEPASS_BENCH_STORM (default 1000; BENCHMARKS.md
// has 10000).
func stormSize() int {
	if n, err := strconv.Atoi(os.Getenv("GATEPASS_BENCH_STORM")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// BenchmarkExpiryStorm: many grants expire in the same second while the
// Slack stand-in allows one post per second per channel, as Slack does.
// It reports how late tokens turn inactive (they must not be active after
// exp), how long a token approved during the storm takes to reach its
// requester (the goal: 2 s), how many announce-channel posts named every
// ended grant, and how long until all were named.
//
//	GATEPASS_BENCH_STORM=10000 go test -run XXX -bench ExpiryStorm -benchtime 1x -timeout 30m .
//	(with GATEPASS_TEST_POSTGRES set, it runs on PostgreSQL; with
//	GATEPASS_BENCH_REPLICAS=3 as well, on three serve processes behind a
//	round-robin balancer)
func BenchmarkExpiryStorm(b *testing.B) {
	n := stormSize()
	pg := os.Getenv("GATEPASS_TEST_POSTGRES") != "" && os.Getenv("GATEPASS_BENCH_SQLITE") == ""
	replicas, _ := strconv.Atoi(os.Getenv("GATEPASS_BENCH_REPLICAS"))
	if replicas > 1 {
		if !pg {
			b.Fatal("GATEPASS_BENCH_REPLICAS needs PostgreSQL (GATEPASS_TEST_POSTGRES)")
		}
		binary(b) // built before the clock starts
	}
	exp := time.Now().Add(15 * time.Second).Truncate(time.Second)
	policy := strings.NewReplacer("approvals: 2", "approvals: 1", "pending_timeout: 30m", "pending_timeout: 30m\nwarn_before: 0\npending_reminder: 0").Replace(testPolicy)
	h := newHarness(b, harnessOptions{postgres: pg, policy: policy, seed: func(dsn string) {
		s, err := storage.Open(context.Background(), dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		db, _ := s.DB().DB()
		if err := bench.LiveGrants(context.Background(), db, storage.IsPostgres(dsn), 0, n, exp.Add(-time.Hour), exp); err != nil {
			b.Fatal(err)
		}
	}})
	if replicas > 1 {
		h.stop()
		startReplicas(b, h, replicas)
	}
	h.slack.SetChannelRateLimit(1, 1)
	b.ResetTimer()

	// Tokens are active until exp and inactive from it, however many end.
	sample := make([]string, 0, 20)
	for i := 0; i < n; i += max(1, n/20) {
		sample = append(sample, bench.Token(i))
	}
	for _, tok := range sample {
		if !active(h.introspect(tok)) {
			b.Fatal("a seeded grant is inactive before its exp")
		}
	}
	time.Sleep(time.Until(exp))
	var worst time.Duration
	for _, tok := range sample {
		if active(h.introspect(tok)) {
			b.Fatalf("a grant was active %s after its exp", time.Since(exp))
		}
	}
	worst = time.Since(exp)

	// A request made and approved in the storm: its messages and token go
	// out within 2 s, however many announcements wait behind the limit.
	time.Sleep(time.Second)
	var tokenLag, approvalLag time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		id := h.request(carol, "billing read 30m INC-STORM during the storm")
		h.approvalMessage(id)
		approvalLag = time.Since(start)
		start = time.Now()
		h.click(bob, approvals, id, "approve")
		h.token(carol, id)
		tokenLag = time.Since(start)
	}()
	wg.Wait()

	// Every ended grant is named in the announce channel.
	deadline := time.Now().Add(time.Duration(n/20+120) * time.Second)
	named := 0
	for {
		named = 0
		for _, m := range h.slack.Messages(announce) {
			named += strings.Count(m.Text, "INC-")
		}
		if named >= n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %s only %d of %d ended grants were announced", time.Since(exp), named, n)
		}
		time.Sleep(250 * time.Millisecond)
	}
	allNamed := time.Since(exp)
	time.Sleep(5 * time.Second) // a grant announced twice would show by now
	named = 0
	for _, m := range h.slack.Messages(announce) {
		named += strings.Count(m.Text, "INC-")
	}
	posts := len(h.slack.Messages(announce))
	b.StopTimer()
	b.ReportMetric(float64(worst.Milliseconds()), "sample-checked-after-exp-ms")
	b.ReportMetric(float64(approvalLag.Milliseconds()), "approval-message-ms")
	b.ReportMetric(float64(tokenLag.Milliseconds()), "token-dm-ms")
	b.ReportMetric(float64(posts), "announce-posts")
	b.ReportMetric(allNamed.Seconds(), "all-announced-s")
	b.ReportMetric(float64(n), "grants")
	b.ReportMetric(float64(named), "grants-named") // more than grants: one was announced twice
	b.ReportMetric(float64(max(1, replicas)), "replicas")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAckAtRate sends slash commands at a steady rate (default 100/s,
// GATEPASS_BENCH_RATE) for GATEPASS_BENCH_SECONDS (default 10) and reports
// the acknowledgement latency percentiles (the goal: p99 ≤ 50 ms).
//
//	go test -run XXX -bench AckAtRate -benchtime 1x .
func BenchmarkAckAtRate(b *testing.B) {
	rate, secs := 100, 10
	if v, err := strconv.Atoi(os.Getenv("GATEPASS_BENCH_RATE")); err == nil && v > 0 {
		rate = v
	}
	if v, err := strconv.Atoi(os.Getenv("GATEPASS_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	h := newHarness(b, harnessOptions{})
	total := rate * secs
	lat := make([]time.Duration, total)
	var wg sync.WaitGroup
	b.ResetTimer()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range total {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			r, err := h.slack.SlashCommand(context.Background(), fmt.Sprintf("U%07d", i), "prod-db read 30m INC-1 steady load")
			lat[i] = time.Since(start)
			if err != nil || !idRE.MatchString(r.Text) {
				b.Errorf("command %d: %v %s", i, err, r.Text)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(rate), "cmd/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}
