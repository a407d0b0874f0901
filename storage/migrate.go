package storage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gatepass/gatepass/audit"
	"gorm.io/gorm"
)

// schemaVersion is the version of the schema this code writes:
//
//	1  requests, grants, approvals, messages, notices, an append-only audit log
//	2  the hash-chained audit log (and its tip), notice lanes with priorities,
//	   batched announcements, replay memory, use counts, extensions, timers
const schemaVersion = 2

// migrationLock is the PostgreSQL advisory lock that keeps replicas starting
// together from migrating at once.
const migrationLock = 7274_2772

// migrate brings the schema to schemaVersion in one transaction, so a
// failed migration leaves the database as it was.
func (s *Store) migrate(ctx context.Context) error {
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		if s.postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLock).Error; err != nil {
				return err
			}
		}
		m := tx.Migrator()
		version := 0
		if m.HasTable(&metaRow{}) {
			var meta metaRow
			if err := tx.Where("key = ?", "schema_version").Limit(1).Find(&meta).Error; err != nil {
				return err
			}
			version, _ = strconv.Atoi(meta.Value)
		} else if m.HasTable("requests") {
			version = 1
		}
		switch {
		case version > schemaVersion:
			return fmt.Errorf("the database has schema version %d, newer than this gatepass knows (%d); upgrade gatepass", version, schemaVersion)
		case version == schemaVersion:
			// Nothing to do, and nothing taken: re-creating the audit
			// log's guards would lock it against every replica's writes.
			return nil
		}
		fromV1 := version == 1
		if fromV1 {
			if err := s.setAsideV1Audit(tx); err != nil {
				return fmt.Errorf("set aside the version 1 audit log: %w", err)
			}
		}
		if err := tx.AutoMigrate(&requestRow{}, &approvalRow{}, &extApproval{}, &grantRow{}, &messageRow{},
			&eventRow{}, &tipRow{}, &noticeRow{}, &announcementRow{}, &channelGateRow{}, &replayRow{}, &useRow{}, &metaRow{}); err != nil {
			return err
		}
		if err := s.createIndexesAndGuards(tx); err != nil {
			return err
		}
		if err := tx.Exec("INSERT INTO audit_tip (id, seq, hash, pruned_seq) SELECT 1, 0, ?, 0 WHERE NOT EXISTS (SELECT 1 FROM audit_tip WHERE id = 1)", audit.Genesis).Error; err != nil {
			return err
		}
		if fromV1 {
			if err := s.upgradeV1(tx); err != nil {
				return fmt.Errorf("upgrade from version 1: %w", err)
			}
		}
		return tx.Save(&metaRow{Key: "schema_version", Value: strconv.Itoa(schemaVersion)}).Error
	})
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	return nil
}

// setAsideV1Audit renames version 1's audit table (and drops its guards) so
// the chained table can take its name; upgradeV1 copies the events over.
func (s *Store) setAsideV1Audit(tx *gorm.DB) error {
	stmts := []string{
		`DROP TRIGGER IF EXISTS audit_events_no_update`,
		`DROP TRIGGER IF EXISTS audit_events_no_delete`,
		`DROP INDEX IF EXISTS idx_audit_events_request`,
		`DROP INDEX IF EXISTS idx_audit_events_at`,
		`ALTER TABLE audit_events RENAME TO audit_events_v1`,
	}
	if s.postgres {
		stmts = []string{
			`DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events`,
			`DROP INDEX IF EXISTS idx_audit_events_request`,
			`DROP INDEX IF EXISTS idx_audit_events_at`,
			`ALTER TABLE audit_events RENAME TO audit_events_v1`,
		}
	}
	for _, q := range stmts {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) createIndexesAndGuards(tx *gorm.DB) error {
	truth := s.truth()
	stmts := []string{
		// Only lane heads are claimed; the index holds only them.
		`CREATE INDEX IF NOT EXISTS idx_notices_ready ON notices (priority, next_attempt_at) WHERE ready = ` + truth,
		`CREATE INDEX IF NOT EXISTS idx_announcements_order ON announcements (priority, id)`,
		// Loading the live grants at start reads only them, in key order.
		`CREATE INDEX IF NOT EXISTS idx_grants_active ON grants (request_id) WHERE state = 'active'`,
		`CREATE INDEX IF NOT EXISTS idx_requests_unreviewed ON requests (created_at) WHERE break_glass = ` + truth + ` AND reviewed_by = ''`,
	}
	if s.postgres {
		stmts = append(stmts,
			`CREATE OR REPLACE FUNCTION gatepass_audit_append_only() RETURNS trigger AS $$
			 BEGIN RAISE EXCEPTION 'audit events are append-only'; END; $$ LANGUAGE plpgsql`,
			`CREATE OR REPLACE FUNCTION gatepass_audit_prune_only() RETURNS trigger AS $$
			 BEGIN
			   IF OLD.seq > (SELECT pruned_seq FROM audit_tip WHERE id = 1) THEN
			     RAISE EXCEPTION 'audit events are append-only (only a retention prune removes old events)';
			   END IF;
			   RETURN OLD;
			 END; $$ LANGUAGE plpgsql`,
			`DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events`,
			`CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR TRUNCATE ON audit_events
			 FOR EACH STATEMENT EXECUTE FUNCTION gatepass_audit_append_only()`,
			`DROP TRIGGER IF EXISTS audit_events_prune_only ON audit_events`,
			`CREATE TRIGGER audit_events_prune_only BEFORE DELETE ON audit_events
			 FOR EACH ROW EXECUTE FUNCTION gatepass_audit_prune_only()`,
		)
	} else {
		stmts = append(stmts,
			`CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
			 BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END`,
			`CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
			 WHEN OLD.seq > (SELECT pruned_seq FROM audit_tip WHERE id = 1)
			 BEGIN SELECT RAISE(ABORT, 'audit events are append-only (only a retention prune removes old events)'); END`,
		)
	}
	for _, q := range stmts {
		if err := tx.Exec(q).Error; err != nil {
			return fmt.Errorf("%.60s…: %w", q, err)
		}
	}
	return nil
}

// upgradeV1 carries a version 1 database's data into version 2: the audit
// events are chained in their original order, grants learn their version,
// queued notices find their lanes' heads and priorities, announcements move
// to their own queue, and live requests get their next due time.
func (s *Store) upgradeV1(tx *gorm.DB) error {
	type v1Event struct {
		ID        int64
		RequestID string
		Actor     string
		Action    string
		Detail    string
		At        time.Time
		Resource  *string
		Level     *string
		Ticket    *string
	}
	var tip tipRow
	if err := tx.Where("id = 1").Take(&tip).Error; err != nil {
		return err
	}
	last := int64(0)
	for {
		var batch []v1Event
		err := tx.Raw(`SELECT e.id, e.request_id, e.actor, e.action, e.detail, e.at, r.resource, r.level, r.ticket
			FROM audit_events_v1 e LEFT JOIN requests r ON r.id = e.request_id
			WHERE e.id > ? ORDER BY e.id LIMIT 1000`, last).Scan(&batch).Error
		if err != nil {
			return fmt.Errorf("read version 1 events: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		rows := make([]eventRow, len(batch))
		for i, e := range batch {
			ev := audit.Event{Time: e.At, RequestID: e.RequestID, Type: e.Action, Actor: e.Actor, Detail: e.Detail,
				Resource: deref(e.Resource), Level: deref(e.Level), Ticket: deref(e.Ticket)}
			tip.Hash = audit.Seal(&ev, tip.Seq, tip.Hash)
			tip.Seq = ev.Seq
			rows[i] = fromAuditEvent(&ev)
			last = e.ID
		}
		if err := tx.CreateInBatches(rows, 200).Error; err != nil {
			return fmt.Errorf("chain version 1 events: %w", err)
		}
	}
	stmts := []struct {
		q    string
		args []any
	}{
		{`UPDATE audit_tip SET seq = ?, hash = ? WHERE id = 1`, []any{tip.Seq, tip.Hash}},
		{`DROP TABLE audit_events_v1`, nil},
		{`UPDATE grants SET version = (SELECT version FROM requests WHERE requests.id = grants.request_id)`, nil},
		{`UPDATE notices SET priority = CASE kind WHEN 'expired' THEN 1 WHEN 'timed_out' THEN 1 ELSE 0 END`, nil},
		{`INSERT INTO announcements (request_id, kind, priority, attempts, next_attempt_at, worker, last_error, created_at)
		  SELECT request_id, kind, CASE kind WHEN 'announce_revoked' THEN 0 ELSE 1 END, 0, next_attempt_at, '', '', created_at
		  FROM notices WHERE kind IN ('announce_expired', 'announce_revoked') ORDER BY id`, nil},
		{`DELETE FROM notices WHERE kind IN ('announce_expired', 'announce_revoked')`, nil},
		{`UPDATE notices SET ready = (id IN (SELECT MIN(id) FROM notices GROUP BY request_id, lane))`, nil},
		{`UPDATE requests SET due_at = pending_until WHERE state = 'pending'`, nil},
		{`UPDATE requests SET due_at = (SELECT expires_at FROM grants WHERE grants.request_id = requests.id) WHERE state = 'active'`, nil},
	}
	for _, st := range stmts {
		if err := tx.Exec(st.q, st.args...).Error; err != nil {
			return fmt.Errorf("%.50s…: %w", st.q, err)
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
