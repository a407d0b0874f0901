package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatepass/gatepass/tokens"
)

// Use recording. Every introspection that answers "active" (and every
// request a provider's proxy forwards) is a use of the grant by a named
// client. Counting one is a map lookup and two atomic additions; a flush
// every useFlushEvery writes the counts in one transaction, and an audit
// event per grant and client at most once a minute ("used 37 times by
// payments-api"), so a busy service neither slows introspection nor floods
// the database. On SIGTERM the last counts are flushed; a SIGKILL loses at
// most the last flush interval's counts.
const (
	useFlushEvery = 5 * time.Second
	useAuditEvery = time.Minute
)

type useKey struct{ requestID, client string }

type useCounter struct {
	count atomic.Int64 // since the last flush
	first atomic.Int64 // unix nanoseconds; 0 when none since the last flush
	last  atomic.Int64

	resource, level, ticket string

	// Owned by the flusher:
	unaudited             int64
	auditFirst, auditLast time.Time
	lastAudit             time.Time
	idle                  int
}

type useRecorder struct {
	store Usage
	clock Clock
	log   *slog.Logger
	m     sync.Map // useKey → *useCounter
	// clients holds every client name ever counted (a handful), so the
	// uses of given grants are found without walking every counter.
	clients sync.Map // string → struct{}
	mu      sync.Mutex
}

func newUseRecorder(store Usage, clock Clock, log *slog.Logger) *useRecorder {
	return &useRecorder{store: store, clock: clock, log: log}
}

func (u *useRecorder) record(requestID, resource, level, ticket, client string) {
	now := u.clock.Now().UnixNano()
	k := useKey{requestID, client}
	v, ok := u.m.Load(k)
	if !ok {
		v, _ = u.m.LoadOrStore(k, &useCounter{resource: resource, level: level, ticket: ticket})
		u.clients.LoadOrStore(client, struct{}{})
	}
	c := v.(*useCounter)
	c.count.Add(1)
	c.first.CompareAndSwap(0, now)
	c.last.Store(now)
}

// flush writes the counts gathered since the last flush. final writes the
// audit events of every grant used since its last one.
func (u *useRecorder) flush(ctx context.Context, final bool) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.clock.Now().UTC()
	type taken struct {
		c     *useCounter
		n     int64
		first int64
		audit bool
	}
	var took []taken
	var uses []Use
	var events []Event
	u.m.Range(func(key, v any) bool {
		k, c := key.(useKey), v.(*useCounter)
		n := c.count.Swap(0)
		first := c.first.Swap(0)
		t := taken{c: c, n: n, first: first}
		if n > 0 {
			last := time.Unix(0, c.last.Load()).UTC()
			f := time.Unix(0, first).UTC()
			uses = append(uses, Use{RequestID: k.requestID, Client: k.client, Count: n, First: f, Last: last})
			if c.unaudited == 0 {
				c.auditFirst = f
			}
			c.unaudited += n
			c.auditLast = last
			c.idle = 0
		} else {
			c.idle++
		}
		if c.unaudited > 0 && (final || now.Sub(c.lastAudit) >= useAuditEvery || c.idle > 0) {
			events = append(events, Event{
				RequestID: k.requestID, Actor: k.client, Action: ActionUsed, At: now,
				Resource: c.resource, Level: c.level, Ticket: c.ticket,
				Detail: fmt.Sprintf("used %d time%s between %s and %s", c.unaudited, plural(c.unaudited),
					c.auditFirst.Format(time.RFC3339), c.auditLast.Format(time.RFC3339)),
			})
			t.audit = true
		}
		if c.idle > 2 && c.unaudited == 0 {
			u.m.Delete(key)
		}
		took = append(took, t)
		return true
	})
	if len(uses) == 0 && len(events) == 0 {
		return nil
	}
	if err := u.store.RecordUses(ctx, uses, events); err != nil {
		// Put the counts back for the next flush: nothing is lost.
		for _, t := range took {
			if t.n > 0 {
				t.c.count.Add(t.n)
				t.c.first.CompareAndSwap(0, t.first)
				t.c.unaudited -= t.n
			}
		}
		return err
	}
	for _, t := range took {
		if t.audit {
			t.c.unaudited, t.c.lastAudit = 0, now
		}
	}
	return nil
}

// pending returns the uses of the given grants counted in this process
// and not yet written.
func (u *useRecorder) pending(ids []string) map[string][]Use {
	var clients []string
	u.clients.Range(func(k, _ any) bool {
		clients = append(clients, k.(string))
		return true
	})
	sort.Strings(clients)
	out := map[string][]Use{}
	for _, id := range ids {
		if _, done := out[id]; done {
			continue
		}
		for _, client := range clients {
			v, ok := u.m.Load(useKey{id, client})
			if !ok {
				continue
			}
			c := v.(*useCounter)
			if n := c.count.Load(); n > 0 {
				out[id] = append(out[id], Use{RequestID: id, Client: client, Count: n,
					First: time.Unix(0, c.first.Load()).UTC(), Last: time.Unix(0, c.last.Load()).UTC()})
			}
		}
	}
	return out
}

// mergeUses adds b's counts to a's, client by client.
func mergeUses(a, b []Use) []Use {
	out := append([]Use(nil), a...)
	for _, u := range b {
		found := false
		for i := range out {
			if out[i].Client == u.Client {
				out[i].Count += u.Count
				if u.Last.After(out[i].Last) {
					out[i].Last = u.Last
				}
				if out[i].First.IsZero() || u.First.Before(out[i].First) {
					out[i].First = u.First
				}
				found = true
			}
		}
		if !found {
			out = append(out, u)
		}
	}
	return out
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// RecordUse counts one use of a grant by client (an introspection key's
// name, or a proxy).
func (s *Service) RecordUse(c tokens.Claims, client string) {
	s.uses.record(c.RequestID, c.Resource, c.Level, c.Ticket, client)
}

// RunUsage writes recorded token use every few seconds until ctx ends,
// then once more.
func (s *Service) RunUsage(ctx context.Context) {
	t := time.NewTicker(useFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.uses.flush(ctx, false); err != nil && ctx.Err() == nil {
				s.log.Warn("record token use", "err", err)
			}
		}
	}
}

// FlushUses writes every use recorded so far, with its audit events.
func (s *Service) FlushUses(ctx context.Context) error {
	return s.uses.flush(ctx, true)
}

// UseSummary says how a grant was used, for people: "used 12 times by
// payments-api (9), ledger (3)" or "never used".
func UseSummary(uses []Use) string {
	var total int64
	sorted := append([]Use(nil), uses...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Count != sorted[j].Count {
			return sorted[i].Count > sorted[j].Count
		}
		return sorted[i].Client < sorted[j].Client
	})
	var parts []string
	for _, u := range sorted {
		total += u.Count
		parts = append(parts, u.Client)
	}
	if total == 0 {
		return "never used"
	}
	if len(parts) > 5 {
		parts = append(parts[:5], fmt.Sprintf("%d more", len(parts)-5))
	}
	return fmt.Sprintf("used %d time%s by %s", total, plural(total), strings.Join(parts, ", "))
}

// LastUse is the latest use among uses, or zero.
func LastUse(uses []Use) time.Time {
	var t time.Time
	for _, u := range uses {
		if u.Last.After(t) {
			t = u.Last
		}
	}
	return t
}
