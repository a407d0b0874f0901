// Package bench builds the data sets gatepass's scale benchmarks run
// against: live grants by the hundred thousand or million, a backlog of
// queued notices, years of ended requests. It writes rows in bulk, in the
// schema storage creates, on SQLite or PostgreSQL, much faster than the
// workflow could (which is the point: the benchmarks measure gatepass, not
// the seeding).
//
// Tokens are derived from their index, so a benchmark can present the
// token of grant i without keeping a million strings.
package bench

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gatepass/gatepass/audit"
	"github.com/gatepass/gatepass/tokens"
)

// Token returns the token of seeded grant i: a well-formed gatepass token,
// the same every time.
func Token(i int) string {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(i)+1)
	t, err := tokens.Mint(rand.NewChaCha8(seed))
	if err != nil {
		panic(err) // ChaCha8 never fails to read
	}
	return t
}

// RequestID returns the request ID of seeded grant i (a UUID in form).
func RequestID(prefix byte, i int) string {
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", uint32(prefix)<<24|uint32(i>>24), uint16(i>>8), uint64(i))
}

// batch is how many rows one INSERT carries.
const batch = 400

// insert writes rows in multi-row INSERTs.
func insert(ctx context.Context, db *sql.DB, postgres bool, table string, cols []string, n int, row func(i int) []any) error {
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		var q strings.Builder
		fmt.Fprintf(&q, "INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ", "))
		args := make([]any, 0, (end-start)*len(cols))
		for i := start; i < end; i++ {
			if i > start {
				q.WriteString(", ")
			}
			q.WriteString("(")
			for c := range cols {
				if c > 0 {
					q.WriteString(", ")
				}
				if postgres {
					fmt.Fprintf(&q, "$%d", len(args)+c+1)
				} else {
					q.WriteString("?")
				}
			}
			q.WriteString(")")
			args = append(args, row(i)...)
		}
		if _, err := db.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("seed %s: %w", table, err)
		}
	}
	return nil
}

var requestCols = []string{"id", "requester", "resource", "level", "duration_seconds", "duration_text", "ticket", "reason", "break_glass",
	"approvals_required", "state", "created_at", "pending_until", "decided_by", "decided_at", "ended_by", "ended_at", "end_reason",
	"reviewed_by", "ext_seq", "ext_duration", "ext_duration_text", "ext_state", "ext_decided_by", "response_url", "due_at", "version"}

var grantCols = []string{"request_id", "token_hash", "scope", "resource", "level", "subject", "ticket", "break_glass", "state",
	"issued_at", "expires_at", "delivered_at", "version"}

// LiveGrants writes n active grants of prod-db read, issued at issued and
// expiring at expires, with tokens Token(first) … Token(first+n-1), held
// by 20,000 requesters under 50,000 tickets.
func LiveGrants(ctx context.Context, db *sql.DB, postgres bool, first, n int, issued, expires time.Time) error {
	// Grants start and end on whole seconds, as gatepass issues them.
	issued, expires = issued.UTC().Truncate(time.Second), expires.UTC().Truncate(time.Second)
	err := insert(ctx, db, postgres, "requests", requestCols, n, func(j int) []any {
		i := first + j
		return []any{RequestID('a', i), fmt.Sprintf("U%08d", i%20000), "prod-db", "read", int64(expires.Sub(issued) / time.Second), "",
			fmt.Sprintf("INC-%d", i%50000), "seeded", false, 1, "active", issued, issued, "U0BOB", issued, "", nil, "",
			"", 0, 0, "", "", "", "", expires, 2}
	})
	if err != nil {
		return err
	}
	return insert(ctx, db, postgres, "grants", grantCols, n, func(j int) []any {
		i := first + j
		return []any{RequestID('a', i), tokens.HashOf(Token(i)).String(), "prod-db:read", "prod-db", "read", fmt.Sprintf("U%08d", i%20000),
			fmt.Sprintf("INC-%d", i%50000), false, "active", issued, expires, issued, 2}
	})
}

// EndedRequests writes n requests that ended long ago (history), each
// with a grant that expired.
func EndedRequests(ctx context.Context, db *sql.DB, postgres bool, first, n int, at time.Time) error {
	at = at.UTC().Truncate(time.Second)
	err := insert(ctx, db, postgres, "requests", requestCols, n, func(j int) []any {
		i := first + j
		return []any{RequestID('e', i), fmt.Sprintf("U%08d", i%5000), "prod-db", "read", 1800, "30m",
			fmt.Sprintf("INC-%d", i%100000), "history", false, 1, "expired", at, at, "U0BOB", at, "", at.Add(30 * time.Minute), "",
			"", 0, 0, "", "", "", "", nil, 3}
	})
	if err != nil {
		return err
	}
	return insert(ctx, db, postgres, "grants", grantCols, n, func(j int) []any {
		i := first + j
		return []any{RequestID('e', i), tokens.HashOf(Token(1_000_000_000 + i)).String(), "prod-db:read", "prod-db", "read",
			fmt.Sprintf("U%08d", i%5000), fmt.Sprintf("INC-%d", i%100000), false, "expired", at, at.Add(30 * time.Minute), at, 3}
	})
}

// Notices queues n notices of the given kind and priority, each the head
// of its own lane, due at once.
func Notices(ctx context.Context, db *sql.DB, postgres bool, first, n int, kind string, priority int) error {
	now := time.Now().UTC()
	return insert(ctx, db, postgres, "notices", []string{"request_id", "lane", "kind", "priority", "ready", "attempts", "next_attempt_at", "worker", "last_error", "detail", "created_at"}, n,
		func(j int) []any {
			return []any{RequestID('n', first+j), "dm", kind, priority, true, 0, time.Unix(0, 0).UTC(), "", "", "", now}
		})
}

// Events appends n chained audit events (as gatepass writes them) after
// the chain's current tip, and moves the tip.
func Events(ctx context.Context, db *sql.DB, postgres bool, n int, at time.Time) error {
	var seq int64
	var hash string
	if err := db.QueryRowContext(ctx, "SELECT seq, hash FROM audit_tip WHERE id = 1").Scan(&seq, &hash); err != nil {
		return fmt.Errorf("seed events: %w", err)
	}
	at = at.UTC().Truncate(time.Microsecond)
	cols := []string{"seq", "at", "request_id", "action", "actor", "resource", "level", "ticket", "detail", "prev_hash", "hash"}
	for start := 0; start < n; start += batch {
		m := min(batch, n-start)
		rows := make([][]any, m)
		for j := range m {
			i := start + j
			e := audit.Event{Time: at.Add(time.Duration(i) * time.Millisecond), RequestID: RequestID('e', i/5), Type: "grant.used",
				Actor: "payments-api", Resource: "prod-db", Level: "read", Ticket: fmt.Sprintf("INC-%d", i/5), Detail: "used 3 times"}
			hash = audit.Seal(&e, seq, hash)
			seq = e.Seq
			rows[j] = []any{e.Seq, e.Time, e.RequestID, e.Type, e.Actor, e.Resource, e.Level, e.Ticket, e.Detail, e.PrevHash, e.Hash}
		}
		if err := insert(ctx, db, postgres, "audit_events", cols, m, func(j int) []any { return rows[j] }); err != nil {
			return err
		}
	}
	q := "UPDATE audit_tip SET seq = ?, hash = ? WHERE id = 1"
	if postgres {
		q = "UPDATE audit_tip SET seq = $1, hash = $2 WHERE id = 1"
	}
	_, err := db.ExecContext(ctx, q, seq, hash)
	return err
}
