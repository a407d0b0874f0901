package storage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
	"github.com/jackc/pgx/v5"
)

// The change feed: every state change appends audit events, numbered
// without gaps in commit order (see appendChain), so a process that has
// applied every event up to seq N knows that any change it has not seen
// has a higher number. Following the feed is reading the events after the
// last one seen and re-reading the grants they name; a grant row carries
// its version, so applying it again, or late, is harmless.
//
// How soon a process hears of another's change:
//   - on PostgreSQL, a NOTIFY sent by the changing transaction wakes every
//     listener when it commits (milliseconds); a poll every second covers
//     a lost connection;
//   - on SQLite, a poll every 200 ms (one indexed query);
//   - and before refusing a token it does not know, a process always
//     catches up first, so a token issued anywhere is never refused.
//
// A full comparison of the index with the database every few minutes
// guards against anything the feed could miss.
type feed struct {
	s       *Store
	channel string // PostgreSQL NOTIFY channel

	pullMu sync.Mutex // one pull at a time
	seen   int64      // last event applied (under pullMu)

	roundMu sync.Mutex
	cur     *catchUpRound // running
	next    *catchUpRound // waiting to run after cur
}

type catchUpRound struct {
	done chan struct{}
	err  error
}

// Feed tuning.
const (
	sqlitePoll     = 200 * time.Millisecond
	postgresPoll   = time.Second
	reconcileEvery = 5 * time.Minute
	pruneEvery     = time.Minute
	feedPage       = 2000
	loadPage       = 20000
)

func newFeed(s *Store) *feed { return &feed{s: s} }

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// load fills the index with the live grants, reading them a page at a
// time in key order (an index serves it, so it costs what is live, not
// what is stored), and remembers where the feed starts.
func (f *feed) load(ctx context.Context) error {
	db := f.s.db.WithContext(ctx)
	if f.s.postgres {
		var schema string
		if err := db.Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
			return fmt.Errorf("load live grants: %w", err)
		}
		f.channel = "gatepass_feed_" + nonIdent.ReplaceAllString(strings.ToLower(schema), "_")
		if len(f.channel) > 63 { // PostgreSQL's identifier limit
			f.channel = f.channel[:63]
		}
	}
	// Start the feed where the log ends now: every change after this is
	// in the feed, and the load below sees at least everything before.
	seq, _, err := f.s.AuditTip(ctx)
	if err != nil {
		return err
	}
	var live int
	if err := db.Raw("SELECT COUNT(*) FROM grants WHERE state = 'active'").Scan(&live).Error; err != nil {
		return fmt.Errorf("count live grants: %w", err)
	}
	f.s.index.reserve(live)
	if live > bulkLoad {
		defer relaxGC()()
	}
	if err := f.loadActive(ctx); err != nil {
		return fmt.Errorf("load live grants: %w", err)
	}
	f.pullMu.Lock()
	f.seen = seq
	f.pullMu.Unlock()
	return nil
}

// catchUp returns once the index reflects every change committed before
// it was called. Concurrent callers share the work: each waits for a pull
// that starts after it asked.
func (f *feed) catchUp(ctx context.Context) error {
	f.roundMu.Lock()
	var r *catchUpRound
	if f.cur == nil {
		f.cur = &catchUpRound{done: make(chan struct{})}
		r = f.cur
		go f.run(r)
	} else {
		if f.next == nil {
			f.next = &catchUpRound{done: make(chan struct{})}
		}
		r = f.next
	}
	f.roundMu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *feed) run(r *catchUpRound) {
	for r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, r.err = f.pull(ctx)
		cancel()
		close(r.done)
		f.roundMu.Lock()
		f.cur, f.next = f.next, nil
		r = f.cur
		f.roundMu.Unlock()
	}
}

// pull applies every event after the last one seen and reports how many
// there were.
func (f *feed) pull(ctx context.Context) (int, error) {
	f.pullMu.Lock()
	defer f.pullMu.Unlock()
	db := f.s.db.WithContext(ctx)
	total := 0
	for {
		var evs []struct {
			Seq       int64
			RequestID string
		}
		if err := db.Raw(`SELECT seq, request_id FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?`, f.seen, feedPage).Scan(&evs).Error; err != nil {
			return total, fmt.Errorf("follow changes after %d: %w", f.seen, err)
		}
		if len(evs) == 0 {
			break
		}
		seen := map[string]bool{}
		var ids []string
		for _, e := range evs {
			if e.RequestID != "" && !seen[e.RequestID] {
				seen[e.RequestID] = true
				ids = append(ids, e.RequestID)
			}
		}
		if err := f.refresh(ctx, ids); err != nil {
			return total, err
		}
		f.seen = evs[len(evs)-1].Seq
		total += len(evs)
		if len(evs) < feedPage {
			break
		}
	}
	if total > 0 {
		f.s.changed()
	}
	return total, nil
}

// refresh re-reads the grants of the given requests into the index.
func (f *feed) refresh(ctx context.Context, ids []string) error {
	return f.refreshWhere(ctx, ids, "")
}

// refreshWhere re-reads the grants of the given requests that also match
// cond (when given) into the index.
func (f *feed) refreshWhere(ctx context.Context, ids []string, cond string) error {
	where := "request_id IN ?"
	if cond != "" {
		where += " AND " + cond
	}
	for part := range slices.Chunk(ids, maxInParams) {
		if _, _, err := f.scanGrantsWhere(ctx, where, part); err != nil {
			return fmt.Errorf("re-read changed grants: %w", err)
		}
	}
	return nil
}

// loadActive applies every active grant: on PostgreSQL in one streamed
// query, on SQLite a page at a time in key order (a partial index serves
// it: the cost is what is live, not what is stored).
func (f *feed) loadActive(ctx context.Context) error {
	if f.s.postgres {
		return f.streamActive(ctx)
	}
	last := ""
	for {
		n, lastID, err := f.scanGrantsWhere(ctx, "state = 'active' AND request_id > ? ORDER BY request_id LIMIT ?", last, loadPage)
		if err != nil || n < loadPage {
			return err
		}
		last = lastID
	}
}

// bulkLoad is how many live grants make start-up worth relaxing the
// garbage collector for.
const bulkLoad = 100_000

var (
	gcMu      sync.Mutex
	gcLoads   int
	gcPercent int
)

// relaxGC lets the heap grow further between collections while a large
// index is being built (most of what is allocated then stays), and returns
// the function that puts the setting back. Loads in one process share one
// relaxation. A memory limit (GOMEMLIMIT) still holds: the collector runs
// more often as the heap nears it.
func relaxGC() func() {
	gcMu.Lock()
	defer gcMu.Unlock()
	if gcLoads == 0 {
		gcPercent = debug.SetGCPercent(400)
		if gcPercent < 0 { // collection was off: leave it so
			debug.SetGCPercent(gcPercent)
		}
	}
	gcLoads++
	return func() {
		gcMu.Lock()
		defer gcMu.Unlock()
		if gcLoads--; gcLoads == 0 {
			debug.SetGCPercent(gcPercent)
		}
	}
}

// streamActive reads every active grant from PostgreSQL in one streamed
// query on a connection of its own, taking each row's fields as raw text.
func (f *feed) streamActive(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, f.s.dsn)
	if err != nil {
		return redactURLError(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SELECT "+pgGrantFields+" FROM grants WHERE state = 'active'", pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return err
	}
	defer rows.Close()
	l := newLoader(f.s.index)
	var fields [11][]byte
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != len(fields) {
			return fmt.Errorf("live grants: %d columns, want %d", len(raw), len(fields))
		}
		copy(fields[:], raw)
		if _, ok := l.add(&fields); !ok {
			return fmt.Errorf("grant %s: unreadable record", raw[0])
		}
	}
	l.flush()
	return rows.Err()
}

// loader applies grants read from the database to the index, a batch at
// a time. Strings that repeat between grants are shared through the
// index's intern table, locked for one grant at a time, never across a
// read from the database (a reconcile's load must not hold up the feed).
type loader struct {
	ix    *grantIndex
	batch []indexEntry
}

func newLoader(ix *grantIndex) *loader {
	return &loader{ix: ix, batch: make([]indexEntry, 0, 1024)}
}

// add parses one grant's fields (in grantRecord's order) and returns its
// request ID.
func (l *loader) add(f *[11][]byte) (string, bool) {
	l.ix.internMu.Lock()
	e, ok := parseGrantFields(f, l.ix.interned)
	l.ix.internMu.Unlock()
	if !ok {
		return "", false
	}
	l.batch = append(l.batch, e)
	if len(l.batch) == cap(l.batch) {
		l.flush()
	}
	return e.requestID, true
}

func (l *loader) flush() {
	l.ix.applyBatch(l.batch)
	l.batch = l.batch[:0]
}

// pgGrantFields are a grant's fields as PostgreSQL text, in the order
// parseGrantFields reads them.
const pgGrantFields = "request_id, COALESCE(token_hash, ''), resource, level, subject, (break_glass::int)::text, state, " +
	"(date_part('epoch', issued_at)::bigint)::text, (date_part('epoch', expires_at)::bigint)::text, version::text, ticket"

// grantRecord is what the index needs of a grant, as one text value the
// database assembles: the fields joined by U+001F, the ticket last (so it
// may hold anything), times as Unix seconds (grants start and end on whole
// seconds). One column per row instead of eleven keeps reading a million
// grants at start-up cheap.
func (s *Store) grantRecord() string {
	if s.postgres {
		return "concat_ws(chr(31), " + pgGrantFields + ")"
	}
	// SQLite keeps times as text (2026-11-27 09:00:00+00:00): parsing
	// that in Go is cheaper than having SQLite convert it.
	return "request_id || char(31) || COALESCE(token_hash, '') || char(31) || resource || char(31) || level || char(31) || subject || char(31) || " +
		"CAST(break_glass AS INTEGER) || char(31) || state || char(31) || issued_at || char(31) || expires_at || char(31) || " +
		"version || char(31) || ticket"
}

// splitGrantRecord splits what grantRecord wrote into its fields.
func splitGrantRecord(rec []byte, f *[11][]byte) bool {
	rest := rec
	for i := range 10 {
		j := bytes.IndexByte(rest, 0x1f)
		if j < 0 {
			return false
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	f[10] = rest
	return true
}

// parseGrantFields reads a grant's fields in grantRecord's order: request
// ID, token hash, resource, level, subject, break-glass (0/1), state,
// issued and expires (Unix seconds or SQLite's time text), version,
// ticket.
func parseGrantFields(f *[11][]byte, local map[string]string) (indexEntry, bool) {
	issued, err1 := unixSeconds(f[7])
	expires, err2 := unixSeconds(f[8])
	version, err3 := strconv.Atoi(string(f[9]))
	if err1 != nil || err2 != nil || err3 != nil {
		return indexEntry{}, false
	}
	intern := func(b []byte) string {
		if v, ok := local[string(b)]; ok {
			return v
		}
		v := string(b)
		if len(local) < maxInterned {
			local[v] = v
		}
		return v
	}
	e := indexEntry{
		requestID: string(f[0]), requester: intern(f[4]), resource: intern(f[2]), level: intern(f[3]),
		ticket: intern(f[10]), issued: issued, expires: expires, version: int32(version),
		active: string(f[6]) == string(workflow.StateActive), breakGlass: len(f[5]) == 1 && (f[5][0] == '1' || f[5][0] == 't'),
	}
	if len(f[1]) == 2*len(e.hash) {
		if _, err := hex.Decode(e.hash[:], f[1]); err != nil {
			e.hash = tokens.Hash{}
		}
	}
	return e, true
}

// unixSeconds reads a time the database wrote: Unix seconds (PostgreSQL's
// record), or SQLite's text form. The common form, whole seconds in UTC
// ("2026-11-27 09:00:00+00:00"), is read without time.Parse.
func unixSeconds(b []byte) (int64, error) {
	if len(b) > 0 && b[0] != '-' && len(b) < 12 {
		return strconv.ParseInt(string(b), 10, 64)
	}
	if len(b) == 25 && b[4] == '-' && b[7] == '-' && b[10] == ' ' && b[13] == ':' && b[16] == ':' && string(b[19:]) == "+00:00" {
		n := func(i, w int) int {
			v := 0
			for _, c := range b[i : i+w] {
				v = v*10 + int(c-'0')
			}
			return v
		}
		return time.Date(n(0, 4), time.Month(n(5, 2)), n(8, 2), n(11, 2), n(14, 2), n(17, 2), 0, time.UTC).Unix(), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, string(b)); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("unreadable time %q", b)
}

// scanGrantsWhere applies the grants matching where to the index and
// returns how many there were and the last request ID.
func (f *feed) scanGrantsWhere(ctx context.Context, where string, args ...any) (int, string, error) {
	rows, err := f.s.db.WithContext(ctx).Raw("SELECT request_id, "+f.s.grantRecord()+" FROM grants WHERE "+where, args...).Rows()
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	l := newLoader(f.s.index)
	var (
		n       int
		last    string
		id, rec sql.RawBytes
		fields  [11][]byte
	)
	for rows.Next() {
		if err := rows.Scan(&id, &rec); err != nil {
			return n, last, err
		}
		var ok bool
		if splitGrantRecord(rec, &fields) {
			last, ok = l.add(&fields)
		}
		if !ok {
			return n, last, fmt.Errorf("grant %s: unreadable record", id)
		}
		n++
	}
	l.flush()
	return n, last, rows.Err()
}

// reconcile compares the index with the database: every grant the index
// holds as live is re-read, and every live grant in the database is
// applied, so nothing the feed might have missed survives it.
func (f *feed) reconcile(ctx context.Context) error {
	ix := f.s.index
	ix.mu.RLock()
	var live []string
	for id, e := range ix.byID {
		if e.active {
			live = append(live, id)
		}
	}
	ix.mu.RUnlock()
	// Those that ended (the second pass reads every live one).
	if err := f.refreshWhere(ctx, live, "state <> 'active'"); err != nil {
		return err
	}
	if err := f.loadActive(ctx); err != nil {
		return fmt.Errorf("reconcile live grants: %w", err)
	}
	return nil
}

// Follow keeps this process's grant index current with changes other
// processes commit, until ctx ends. Run it once per Store, beside serve.
func (s *Store) Follow(ctx context.Context) error {
	poll := sqlitePoll
	wake := make(chan struct{}, 1)
	if s.postgres {
		poll = postgresPoll
		go s.listen(ctx, wake)
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	reconcile := time.NewTicker(reconcileEvery)
	defer reconcile.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-wake:
		case <-prune.C:
			s.index.prune(time.Now().Add(-time.Minute))
			continue
		case <-reconcile.C:
			if err := s.feed.reconcile(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("compare the grant index with the database", "err", err)
			}
			continue
		}
		if err := s.feed.catchUp(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("follow changes from other processes", "err", err)
		}
	}
}

// listen waits for NOTIFY from other processes' commits and wakes Follow,
// reconnecting with backoff when the connection drops.
func (s *Store) listen(ctx context.Context, wake chan<- struct{}) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("change notifications from PostgreSQL interrupted; polling every second meanwhile", "err", redactURLError(err), "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, wake chan<- struct{}) error {
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.feed.channel}.Sanitize()); err != nil {
		return err
	}
	// Anything committed before LISTEN took effect is caught by this.
	select {
	case wake <- struct{}{}:
	default:
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// CatchUp applies every change committed so far by any process. Follow
// does this continuously; tests and tools call it to be sure.
func (s *Store) CatchUp(ctx context.Context) error { return s.feed.catchUp(ctx) }
