package storage

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/gatepass/gatepass/workflow"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The outbox. Notices wait in lanes (a request's channel messages, its
// direct messages, its provider actions); only the head of each lane is
// marked ready, and a partial index holds only the ready ones by priority
// and due time, so a claim reads what it claims and nothing else, however
// long the queue. Claims lease notices to a worker, who renews the lease
// while it works; a crashed worker's notices are taken over when the lease
// runs out, seconds later.

func (s *Store) truth() string {
	if s.postgres {
		return "true"
	}
	return "1"
}

// greatest and least are SQL's two-argument maximum and minimum.
func (s *Store) greatest() string {
	if s.postgres {
		return "GREATEST"
	}
	return "MAX"
}

func (s *Store) least() string {
	if s.postgres {
		return "LEAST"
	}
	return "MIN"
}

func (s *Store) skipLocked() string {
	if s.postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// ClaimNotices leases up to limit due lane heads of one priority.
func (s *Store) ClaimNotices(ctx context.Context, now time.Time, lease time.Duration, priority, limit int, worker string) ([]workflow.Delivery, error) {
	now = now.UTC()
	var rows []noticeRow
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		return tx.Raw(`UPDATE notices SET lease_until = ?, worker = ?
			WHERE id IN (SELECT id FROM notices
				WHERE ready = `+s.truth()+` AND priority = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
				ORDER BY next_attempt_at LIMIT ?`+s.skipLocked()+`)
			RETURNING id, request_id, kind, attempts, detail, next_attempt_at, created_at`,
			now.Add(lease), worker, priority, now, now, limit).Scan(&rows).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim notices: %w", err)
	}
	// RETURNING keeps no order: oldest due first, then queue order.
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].NextAttemptAt.Equal(rows[j].NextAttemptAt) {
			return rows[i].NextAttemptAt.Before(rows[j].NextAttemptAt)
		}
		return rows[i].ID < rows[j].ID
	})
	out := make([]workflow.Delivery, len(rows))
	for i, n := range rows {
		out[i] = workflow.Delivery{ID: n.ID, RequestID: n.RequestID, Kind: workflow.NoticeKind(n.Kind), Attempts: n.Attempts, Detail: n.Detail, QueuedAt: n.CreatedAt.UTC()}
	}
	return out, nil
}

// RenewLeases extends worker's leases on notices still being delivered.
func (s *Store) RenewLeases(ctx context.Context, worker string, ids []int64, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		return tx.Exec("UPDATE notices SET lease_until = ? WHERE worker = ? AND id IN ?", until.UTC(), worker, ids).Error
	})
	if err != nil {
		return fmt.Errorf("renew notice leases: %w", err)
	}
	return nil
}

// FinishNotice removes a notice, marks the next of its lane as the head,
// and queues follow's notices and events, in one transaction. The
// request's row is locked meanwhile, so a change queueing a notice into
// the same lane at the same time cannot miss becoming the head.
func (s *Store) FinishNotice(ctx context.Context, d workflow.Delivery, follow workflow.Change) error {
	var r workflow.Request
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		var row requestRow
		q := tx
		if s.postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		found := true
		if err := q.Where("id = ?", d.RequestID).Take(&row).Error; err != nil {
			if notFound(err) != workflow.ErrNotFound {
				return err
			}
			found = false
		}
		if err := tx.Exec("DELETE FROM notices WHERE id = ?", d.ID).Error; err != nil {
			return err
		}
		lane := d.Kind.Lane()
		if err := tx.Exec(`UPDATE notices SET ready = `+s.truth()+` WHERE id = (SELECT MIN(id) FROM notices WHERE request_id = ? AND lane = ?)`, d.RequestID, lane).Error; err != nil {
			return err
		}
		if !found || (len(follow.Notices) == 0 && len(follow.Events) == 0) {
			return nil
		}
		r = fromRequestRow(&row)
		ch := []pendingChange{{r: &r, c: follow}}
		if err := s.queue(tx, ch); err != nil {
			return err
		}
		return s.chain(tx, ch)
	})
	if err != nil {
		return fmt.Errorf("finish notice %d: %w", d.ID, err)
	}
	return nil
}

// RetryNotice releases a notice to be tried again at the given time.
func (s *Store) RetryNotice(ctx context.Context, id int64, at time.Time, lastErr string, countAttempt bool) error {
	inc := 0
	if countAttempt {
		inc = 1
	}
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE notices SET attempts = attempts + ?, next_attempt_at = ?, lease_until = NULL, worker = '', last_error = ? WHERE id = ?`,
			inc, at.UTC(), truncateText(lastErr, 2000), id).Error
	})
	if err != nil {
		return fmt.Errorf("reschedule notice %d: %w", id, err)
	}
	return nil
}

// ClaimAnnouncements leases up to limit due announcements, revocations
// first, then oldest first.
func (s *Store) ClaimAnnouncements(ctx context.Context, now time.Time, lease time.Duration, limit int, worker string) ([]workflow.Announcement, error) {
	now = now.UTC()
	var rows []announcementRow
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		return tx.Raw(`UPDATE announcements SET lease_until = ?, worker = ?
			WHERE id IN (SELECT id FROM announcements
				WHERE next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
				ORDER BY priority, id LIMIT ?`+s.skipLocked()+`)
			RETURNING id, request_id, kind, priority, attempts, created_at`,
			now.Add(lease), worker, now, now, limit).Scan(&rows).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim announcements: %w", err)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Priority != rows[j].Priority {
			return rows[i].Priority < rows[j].Priority
		}
		return rows[i].ID < rows[j].ID
	})
	out := make([]workflow.Announcement, len(rows))
	for i, a := range rows {
		out[i] = workflow.Announcement{ID: a.ID, RequestID: a.RequestID, Kind: workflow.NoticeKind(a.Kind), Attempts: a.Attempts, QueuedAt: a.CreatedAt.UTC()}
	}
	return out, nil
}

// FinishAnnouncements removes announcements that were posted.
func (s *Store) FinishAnnouncements(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.writeTx(ctx, func(tx *gorm.DB) error { return tx.Exec("DELETE FROM announcements WHERE id IN ?", ids).Error }); err != nil {
		return fmt.Errorf("finish announcements: %w", err)
	}
	return nil
}

// RetryAnnouncements releases announcements to be tried again at the given
// time.
func (s *Store) RetryAnnouncements(ctx context.Context, ids []int64, at time.Time, lastErr string) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE announcements SET attempts = attempts + 1, next_attempt_at = ?, lease_until = NULL, worker = '', last_error = ? WHERE id IN ?`,
			at.UTC(), truncateText(lastErr, 2000), ids).Error
	})
	if err != nil {
		return fmt.Errorf("reschedule announcements: %w", err)
	}
	return nil
}

// ReleaseAnnouncements lets claimed announcements go, due at once, without
// counting an attempt.
func (s *Store) ReleaseAnnouncements(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE announcements SET lease_until = NULL, worker = '' WHERE id IN ?`, ids).Error
	})
	if err != nil {
		return fmt.Errorf("release announcements: %w", err)
	}
	return nil
}

// GateChannel takes channel's next posting slot: it reports true, and
// holds the slot until until, if no one holds it after now.
func (s *Store) GateChannel(ctx context.Context, channel string, now, until time.Time) (bool, error) {
	var n int64
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO channel_gates (channel, not_before) VALUES (?, ?)
			ON CONFLICT (channel) DO UPDATE SET not_before = excluded.not_before WHERE channel_gates.not_before <= ?`,
			channel, until.UTC(), now.UTC())
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("take a posting slot in %s: %w", channel, err)
	}
	return n == 1, nil
}

// DeferChannel keeps the announcer out of channel until until.
func (s *Store) DeferChannel(ctx context.Context, channel string, until time.Time) error {
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO channel_gates (channel, not_before) VALUES (?, ?)
			ON CONFLICT (channel) DO UPDATE SET not_before = `+s.greatest()+`(channel_gates.not_before, excluded.not_before)`,
			channel, until.UTC()).Error
	})
	if err != nil {
		return fmt.Errorf("hold posts to %s: %w", channel, err)
	}
	return nil
}

// QueueStats reports the outbox's length and its oldest entry.
func (s *Store) QueueStats(ctx context.Context) (workflow.QueueStats, error) {
	var st workflow.QueueStats
	db := s.db.WithContext(ctx)
	var counts struct{ Notices, Announcements int }
	if err := db.Raw("SELECT (SELECT COUNT(*) FROM notices) AS notices, (SELECT COUNT(*) FROM announcements) AS announcements").Scan(&counts).Error; err != nil {
		return st, fmt.Errorf("count queued notices: %w", err)
	}
	st.Notices, st.Announcements = counts.Notices, counts.Announcements
	for _, table := range []string{"notices", "announcements"} {
		var oldest []time.Time
		if err := db.Raw("SELECT created_at FROM " + table + " ORDER BY id LIMIT 1").Scan(&oldest).Error; err != nil {
			return st, fmt.Errorf("oldest queued in %s: %w", table, err)
		}
		if len(oldest) == 1 && (st.Oldest.IsZero() || oldest[0].Before(st.Oldest)) {
			st.Oldest = oldest[0].UTC()
		}
	}
	return st, nil
}
