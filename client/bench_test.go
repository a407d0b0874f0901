package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatepass/gatepass/client"
)

// BenchmarkIntrospectCached is the path of almost every request of a busy
// service: the offline format check, the SHA-256 of the token, and a cache
// lookup.
func BenchmarkIntrospectCached(b *testing.B) {
	f := newFixture(b, nil)
	c := f.client(b, client.WithClock(time.Now), client.WithCache(client.DefaultCacheEntries, time.Hour))
	f.lookup.grant(f.live, liveClaims(time.Now())) // on the real clock
	ctx := context.Background()
	if res, err := c.Introspect(ctx, f.live); err != nil || !res.Active {
		b.Fatal(res, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Introspect(ctx, f.live); err != nil {
			b.Fatal(err)
		}
	}
	if f.calls() != 1 {
		b.Fatalf("%d requests", f.calls())
	}
}

// BenchmarkIntrospectCachedParallel is the cached path from every core.
func BenchmarkIntrospectCachedParallel(b *testing.B) {
	f := newFixture(b, nil)
	c := f.client(b, client.WithClock(time.Now), client.WithCache(client.DefaultCacheEntries, time.Hour))
	f.lookup.grant(f.live, liveClaims(time.Now()))
	ctx := context.Background()
	if _, err := c.Introspect(ctx, f.live); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Introspect(ctx, f.live); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkIntrospectUncached is one round trip to gatepass's real handler
// over loopback, with every cache off.
func BenchmarkIntrospectUncached(b *testing.B) {
	f := newFixture(b, nil)
	c := f.client(b, client.WithClock(time.Now), client.WithCache(0, 0), client.WithNegativeCache(0))
	f.lookup.grant(f.live, liveClaims(time.Now()))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res, err := c.Introspect(ctx, f.live); err != nil || !res.Active {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkIntrospectMalformed is a look-alike rejected offline.
func BenchmarkIntrospectMalformed(b *testing.B) {
	f := newFixture(b, nil)
	c := f.client(b)
	ctx := context.Background()
	bad := badChecksum(f.live)
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := c.Introspect(ctx, bad); res.Active {
			b.Fatal("active")
		}
	}
}
