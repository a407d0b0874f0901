// Package storage keeps gatepass's state in a SQL database through gorm:
// SQLite (a file, the default) or PostgreSQL. It implements workflow.Store.
//
// State changes are transactions that read the request under a write lock
// (BEGIN IMMEDIATE on SQLite, SELECT … FOR UPDATE on PostgreSQL) and write
// it back with a version check, so concurrent decisions on one request, from
// one process or several, apply one after the other. Audit events are
// append-only: the database itself refuses to change or delete them.
//
// Introspection looks tokens up through an in-memory index of grants by
// token hash, which every state change made through this Store keeps
// current.
package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

var _ workflow.Store = (*Store)(nil)

// Store is the gorm implementation of workflow.Store.
type Store struct {
	db       *gorm.DB
	postgres bool

	// writeMu queues this process's SQLite writers in Go, where handing the
	// lock over is immediate, rather than in SQLite's busy handler, which
	// sleeps for up to 100 ms between tries. Other processes sharing the
	// file still wait in the busy handler. Unused for PostgreSQL, whose row
	// locks let writers to different requests run at once.
	writeMu sync.Mutex

	mu       sync.RWMutex
	grants   map[tokens.Hash]workflow.GrantInfo // live grants by token hash
	indexGen uint64                             // bumped by every index change
}

// IsPostgres reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open connects to dsn (a SQLite file path, or a postgres:// URL) and
// migrates the schema.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("open database: empty location")
	}
	cfg := &gorm.Config{
		Logger:         logger.Discard,
		NowFunc:        func() time.Time { return time.Now().UTC() },
		TranslateError: true,
	}
	s := &Store{postgres: IsPostgres(dsn), grants: map[tokens.Hash]workflow.GrantInfo{}}
	var dialector gorm.Dialector
	if s.postgres {
		dialector = postgres.Open(dsn)
	} else {
		if strings.ContainsAny(dsn, "?#") {
			return nil, fmt.Errorf("open database %q: a SQLite path may not contain '?' or '#'", dsn)
		}
		// WAL lets readers run beside the writer; IMMEDIATE transactions take
		// the write lock up front, so concurrent writers queue (up to the busy
		// timeout) instead of failing; FULL sync keeps every commit across a
		// crash.
		q := url.Values{}
		q.Set("_journal_mode", "WAL")
		q.Set("_busy_timeout", "10000")
		q.Set("_foreign_keys", "on")
		q.Set("_txlock", "immediate")
		q.Set("_synchronous", "FULL")
		dialector = sqlite.Open(dsn + "?" + q.Encode())
	}
	db, err := gorm.Open(dialector, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	s.db = db
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if s.postgres {
		sqlDB.SetMaxOpenConns(16)
	} else {
		sqlDB.SetMaxOpenConns(8)
	}
	sqlDB.SetMaxIdleConns(8)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if err := s.loadGrantIndex(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

func (s *Store) migrate(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	if err := db.AutoMigrate(&requestRow{}, &approvalRow{}, &grantRow{}, &messageRow{}, &eventRow{}, &noticeRow{}); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	stmts := []string{
		`CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
		 BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END`,
		`CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
		 BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END`,
	}
	if s.postgres {
		stmts = []string{
			`CREATE OR REPLACE FUNCTION gatepass_audit_append_only() RETURNS trigger AS $$
			 BEGIN RAISE EXCEPTION 'audit events are append-only'; END; $$ LANGUAGE plpgsql`,
			`DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events`,
			`CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
			 FOR EACH STATEMENT EXECUTE FUNCTION gatepass_audit_append_only()`,
		}
	}
	for _, q := range stmts {
		if err := db.Exec(q).Error; err != nil {
			return fmt.Errorf("migrate schema: audit log guard: %w", err)
		}
	}
	return nil
}

// write runs one write (a transaction or a single statement) in turn with
// the process's other SQLite writes.
func (s *Store) write(fn func() error) error {
	if !s.postgres {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	return fn()
}

// notFound maps gorm's not-found to workflow.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return workflow.ErrNotFound
	}
	return err
}

// Create stores a new request with its events and notices.
func (s *Store) Create(ctx context.Context, r workflow.Request, c workflow.Change) error {
	row := toRequestRow(&r)
	err := s.write(func() error {
		return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Omit(clause.Associations).Create(&row).Error; err != nil {
				return err
			}
			if err := writeApprovals(tx, r.ID, nil, r.Approvals); err != nil {
				return err
			}
			if r.Grant != nil {
				g := toGrantRow(&r)
				if err := tx.Create(&g).Error; err != nil {
					return err
				}
			}
			return writeChange(tx, r.ID, c)
		})
	})
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	s.index(nil, &r)
	return nil
}

// Get returns a request with its approvals, grant and messages.
func (s *Store) Get(ctx context.Context, id string) (workflow.Request, error) {
	r, err := s.load(s.db.WithContext(ctx), id, false)
	if err != nil {
		return workflow.Request{}, fmt.Errorf("get request %s: %w", id, err)
	}
	return r, nil
}

func (s *Store) load(tx *gorm.DB, id string, lock bool) (workflow.Request, error) {
	var row requestRow
	q := tx
	if lock && s.postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Where("id = ?", id).Take(&row).Error; err != nil {
		return workflow.Request{}, notFound(err)
	}
	rs, err := hydrate(tx, []requestRow{row})
	if err != nil {
		return workflow.Request{}, err
	}
	return rs[0], nil
}

// hydrate loads the approvals, grants and messages of rows in three queries.
func hydrate(tx *gorm.DB, rows []requestRow) ([]workflow.Request, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	var approvals []approvalRow
	if err := tx.Where("request_id IN ?", ids).Order("request_id, seq").Find(&approvals).Error; err != nil {
		return nil, fmt.Errorf("load approvals: %w", err)
	}
	var grants []grantRow
	if err := tx.Where("request_id IN ?", ids).Find(&grants).Error; err != nil {
		return nil, fmt.Errorf("load grants: %w", err)
	}
	var msgs []messageRow
	if err := tx.Where("request_id IN ?", ids).Order("id").Find(&msgs).Error; err != nil {
		return nil, fmt.Errorf("load messages: %w", err)
	}
	out := make([]workflow.Request, len(rows))
	at := make(map[string]*workflow.Request, len(rows))
	for i := range rows {
		out[i] = fromRequestRow(&rows[i])
		at[rows[i].ID] = &out[i]
	}
	for _, a := range approvals {
		r := at[a.RequestID]
		r.Approvals = append(r.Approvals, workflow.Approval{Approver: a.Approver, At: a.At.UTC()})
	}
	for i := range grants {
		at[grants[i].RequestID].Grant = fromGrantRow(&grants[i])
	}
	for _, m := range msgs {
		r := at[m.RequestID]
		r.Messages = append(r.Messages, workflow.MessageRef{Purpose: m.Purpose, Channel: m.Channel, TS: m.TS})
	}
	return out, nil
}

// maxUpdateAttempts bounds retries of an update that lost a version race.
const maxUpdateAttempts = 5

// Update reads a request under a write lock, applies fn, and writes it back
// with fn's events and notices, in one transaction.
func (s *Store) Update(ctx context.Context, id string, fn func(r *workflow.Request) (workflow.Change, error)) (workflow.Request, error) {
	var err error
	for range maxUpdateAttempts {
		var before, after workflow.Request
		err = s.write(func() error {
			return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				cur, err := s.load(tx, id, true)
				if err != nil {
					return err
				}
				before = cur
				after = clone(cur)
				change, err := fn(&after)
				if err != nil {
					return err
				}
				if err := s.save(tx, &before, &after, change); err != nil {
					return err
				}
				// Index while the row lock is still held, so changes to one
				// request reach the index in the order they commit (see
				// grantindex.go for why a failed commit after this is safe).
				s.index(&before, &after)
				return nil
			})
		})
		if errors.Is(err, workflow.ErrConflict) {
			continue
		}
		if err != nil {
			if after.ID == "" {
				return before, fmt.Errorf("update request %s: %w", id, err)
			}
			// fn refused or the write failed: report the request as it is.
			return before, err
		}
		return after, nil
	}
	return workflow.Request{}, fmt.Errorf("update request %s: %w", id, err)
}

// save writes the difference between before and after.
func (s *Store) save(tx *gorm.DB, before, after *workflow.Request, c workflow.Change) error {
	if after.ID != before.ID {
		return fmt.Errorf("update request %s: the ID may not change", before.ID)
	}
	row := toRequestRow(after)
	row.Version = before.Version + 1
	res := tx.Model(&requestRow{}).Where("id = ? AND version = ?", before.ID, before.Version).
		Select("state", "decided_by", "decided_at", "ended_by", "ended_at", "reviewed_by", "reviewed_at", "pending_until", "version").
		Updates(&row)
	if res.Error != nil {
		return fmt.Errorf("update request %s: %w", before.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return workflow.ErrConflict
	}
	after.Version = row.Version
	if err := writeApprovals(tx, after.ID, before.Approvals, after.Approvals); err != nil {
		return err
	}
	switch {
	case before.Grant == nil && after.Grant != nil:
		g := toGrantRow(after)
		if err := tx.Create(&g).Error; err != nil {
			return fmt.Errorf("create grant %s: %w", after.ID, err)
		}
	case after.Grant != nil:
		g := toGrantRow(after)
		err := tx.Model(&grantRow{}).Where("request_id = ?", after.ID).
			Select("token_hash", "state", "issued_at", "expires_at", "delivered_at").Updates(&g).Error
		if err != nil {
			return fmt.Errorf("update grant %s: %w", after.ID, err)
		}
	case before.Grant != nil:
		return fmt.Errorf("update request %s: a grant may not be removed", after.ID)
	}
	return writeChange(tx, after.ID, c)
}

func writeApprovals(tx *gorm.DB, id string, before, after []workflow.Approval) error {
	if len(after) < len(before) {
		return fmt.Errorf("update request %s: approvals may not be removed", id)
	}
	var rows []approvalRow
	for i := len(before); i < len(after); i++ {
		rows = append(rows, approvalRow{RequestID: id, Approver: after[i].Approver, Seq: i + 1, At: after[i].At.UTC()})
	}
	if len(rows) == 0 {
		return nil
	}
	if err := tx.Create(&rows).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return workflow.ErrConflict
		}
		return fmt.Errorf("record approval of %s: %w", id, err)
	}
	return nil
}

// dueNow is the attempt time of a new notice: due at once, whatever the
// clock says.
var dueNow = time.Unix(0, 0).UTC()

func writeChange(tx *gorm.DB, id string, c workflow.Change) error {
	if len(c.Events) > 0 {
		rows := make([]eventRow, len(c.Events))
		for i, e := range c.Events {
			rows[i] = toEventRow(e)
			rows[i].RequestID = id
		}
		if err := tx.Create(&rows).Error; err != nil {
			return fmt.Errorf("append audit events of %s: %w", id, err)
		}
	}
	if len(c.Notices) > 0 {
		rows := make([]noticeRow, len(c.Notices))
		now := time.Now().UTC()
		for i, k := range c.Notices {
			rows[i] = noticeRow{RequestID: id, Lane: k.Lane(), Kind: string(k), NextAttemptAt: dueNow, CreatedAt: now}
		}
		if err := tx.Create(&rows).Error; err != nil {
			return fmt.Errorf("queue notices of %s: %w", id, err)
		}
	}
	return nil
}

// ListByRequester returns the requester's requests in the given states,
// newest first (at most 100).
func (s *Store) ListByRequester(ctx context.Context, requester string, states ...workflow.State) ([]workflow.Request, error) {
	db := s.db.WithContext(ctx)
	var rows []requestRow
	q := db.Where("requester = ?", requester)
	if len(states) > 0 {
		q = q.Where("state IN ?", stateStrings(states))
	}
	if err := q.Order("created_at DESC").Limit(100).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list requests of %s: %w", requester, err)
	}
	return hydrate(db, rows)
}

func stateStrings(states []workflow.State) []string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = string(st)
	}
	return out
}

// DueExpiries returns IDs of active grants whose expiry is at or before now.
func (s *Store) DueExpiries(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&grantRow{}).
		Where("state = ? AND expires_at <= ?", string(workflow.StateActive), now.UTC()).
		Order("expires_at").Limit(limit).Pluck("request_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("find due expiries: %w", err)
	}
	return ids, nil
}

// DueTimeouts returns IDs of pending requests past their decision deadline.
func (s *Store) DueTimeouts(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&requestRow{}).
		Where("state = ? AND pending_until <= ?", string(workflow.StatePending), now.UTC()).
		Order("pending_until").Limit(limit).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("find due timeouts: %w", err)
	}
	return ids, nil
}

// ClaimDeliveries leases the oldest queued notice of each request and lane
// that is due. Finding candidates is a plain read; each is then leased by a
// conditional update, so two claimers never get the same notice.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]workflow.Delivery, error) {
	now = now.UTC()
	until := now.Add(lease)
	var rows []noticeRow
	err := s.db.WithContext(ctx).
		Where("next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)", now, now).
		Where("NOT EXISTS (SELECT 1 FROM notices e WHERE e.request_id = notices.request_id AND e.lane = notices.lane AND e.id < notices.id)").
		Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("claim notices: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	var out []workflow.Delivery
	err = s.write(func() error {
		return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			for _, n := range rows {
				res := tx.Model(&noticeRow{}).
					Where("id = ? AND (lease_until IS NULL OR lease_until <= ?)", n.ID, now).
					Update("lease_until", until)
				if res.Error != nil {
					return res.Error
				}
				if res.RowsAffected == 1 {
					out = append(out, workflow.Delivery{ID: n.ID, RequestID: n.RequestID, Kind: workflow.NoticeKind(n.Kind), Attempts: n.Attempts})
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("claim notices: %w", err)
	}
	return out, nil
}

// FinishDelivery removes a delivered (or abandoned) notice from the queue.
func (s *Store) FinishDelivery(ctx context.Context, id int64, _ time.Time) error {
	if err := s.write(func() error { return s.db.WithContext(ctx).Delete(&noticeRow{}, id).Error }); err != nil {
		return fmt.Errorf("finish notice %d: %w", id, err)
	}
	return nil
}

// RetryDelivery releases a notice to be tried again at the given time.
func (s *Store) RetryDelivery(ctx context.Context, id int64, at time.Time, lastErr string) error {
	if len(lastErr) > 2000 {
		lastErr = lastErr[:2000]
	}
	err := s.write(func() error {
		return s.db.WithContext(ctx).Model(&noticeRow{}).Where("id = ?", id).Updates(map[string]any{
			"attempts":        gorm.Expr("attempts + 1"),
			"next_attempt_at": at.UTC(),
			"lease_until":     nil,
			"last_error":      lastErr,
		}).Error
	})
	if err != nil {
		return fmt.Errorf("reschedule notice %d: %w", id, err)
	}
	return nil
}

// AddMessages records chat messages that show a request. A message already
// recorded for the same purpose and channel is kept as it was.
func (s *Store) AddMessages(ctx context.Context, requestID string, refs []workflow.MessageRef) error {
	if len(refs) == 0 {
		return nil
	}
	rows := make([]messageRow, len(refs))
	for i, m := range refs {
		rows[i] = messageRow{RequestID: requestID, Purpose: m.Purpose, Channel: m.Channel, TS: m.TS}
	}
	err := s.write(func() error {
		return s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error
	})
	if err != nil {
		return fmt.Errorf("record messages of %s: %w", requestID, err)
	}
	return nil
}

// AppendEvents adds audit events.
func (s *Store) AppendEvents(ctx context.Context, events []workflow.Event) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]eventRow, len(events))
	for i, e := range events {
		rows[i] = toEventRow(e)
	}
	if err := s.write(func() error { return s.db.WithContext(ctx).Create(&rows).Error }); err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

// Events returns a request's audit events in order.
func (s *Store) Events(ctx context.Context, requestID string) ([]workflow.Event, error) {
	var rows []eventRow
	if err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("audit events of %s: %w", requestID, err)
	}
	out := make([]workflow.Event, len(rows))
	for i := range rows {
		out[i] = fromEventRow(&rows[i])
	}
	return out, nil
}

// DB returns the underlying gorm handle, for tests and maintenance.
func (s *Store) DB() *gorm.DB { return s.db }
