package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/gatepass/gatepass/audit"
	"github.com/gatepass/gatepass/workflow"
	"gorm.io/gorm"
)

// PruneResult counts what a retention prune removed.
type PruneResult struct {
	Requests int64
	Events   int64
	Through  int64 // the last audit event pruned (0: none)
}

// pruneBatch is how many requests, or events, one transaction removes.
const pruneBatch = 2000

// Prune removes requests that ended and were made before cutoff, with
// their approvals, messages, notices and use counts, and the oldest part
// of the audit log: the events before cutoff and before the oldest request
// that remains. The chain stays verifiable: first an audit.pruned event
// records the last event removed and its hash (see package audit), then
// the events up to it are deleted.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (PruneResult, error) {
	var res PruneResult
	cutoff = cutoff.UTC()
	for {
		var ids []string
		err := s.db.WithContext(ctx).Model(&requestRow{}).
			Where("created_at < ? AND state NOT IN ?", cutoff, []string{string(workflow.StatePending), string(workflow.StateActive)}).
			Limit(pruneBatch).Pluck("id", &ids).Error
		if err != nil {
			return res, fmt.Errorf("prune: find old requests: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		err = s.writeTx(ctx, func(tx *gorm.DB) error {
			for _, table := range []string{"notices", "announcements", "grant_uses", "chat_messages", "approvals", "extension_approvals", "grants", "requests"} {
				col := "request_id"
				if table == "requests" {
					col = "id"
				}
				if err := tx.Exec("DELETE FROM "+table+" WHERE "+col+" IN ?", ids).Error; err != nil {
					return fmt.Errorf("%s: %w", table, err)
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("prune requests: %w", err)
		}
		res.Requests += int64(len(ids))
		if len(ids) < pruneBatch {
			break
		}
	}

	// The audit log is pruned as a prefix, never past the oldest request
	// that remains, so every request kept keeps its whole trail.
	limit := cutoff
	var oldest []time.Time
	if err := s.db.WithContext(ctx).Raw("SELECT created_at FROM requests ORDER BY created_at LIMIT 1").Scan(&oldest).Error; err != nil {
		return res, fmt.Errorf("prune: oldest request: %w", err)
	}
	if len(oldest) == 1 && oldest[0].Before(limit) {
		limit = oldest[0]
	}
	var tip tipRow
	if err := s.db.WithContext(ctx).Where("id = 1").Take(&tip).Error; err != nil {
		return res, fmt.Errorf("prune: %w", err)
	}
	var through []eventRow
	err := s.db.WithContext(ctx).Where("at < ? AND seq > ?", limit, tip.PrunedSeq).Order("seq DESC").Limit(1).Find(&through).Error
	if err != nil {
		return res, fmt.Errorf("prune: find old events: %w", err)
	}
	if len(through) == 0 {
		return res, nil
	}
	// Events are in commit order and their times follow it closely, but a
	// later event may carry an earlier time; stop before the first event at
	// or after the limit.
	var first []eventRow
	if err := s.db.WithContext(ctx).Where("at >= ? AND seq > ?", limit, tip.PrunedSeq).Order("seq").Limit(1).Find(&first).Error; err != nil {
		return res, fmt.Errorf("prune: %w", err)
	}
	last := through[0]
	if len(first) == 1 && first[0].Seq <= last.Seq {
		var before []eventRow
		if err := s.db.WithContext(ctx).Where("seq = ?", first[0].Seq-1).Find(&before).Error; err != nil {
			return res, fmt.Errorf("prune: %w", err)
		}
		if len(before) == 0 || before[0].Seq <= tip.PrunedSeq {
			return res, nil
		}
		last = before[0]
	}
	err = s.writeTx(ctx, func(tx *gorm.DB) error {
		ev := audit.Event{Time: time.Now().UTC(), Type: audit.Pruned, Actor: workflow.System, Detail: audit.PrunedDetail(last.Seq, last.Hash, limit)}
		if err := s.appendChain(tx, []audit.Event{ev}); err != nil {
			return err
		}
		return tx.Exec("UPDATE audit_tip SET pruned_seq = ? WHERE id = 1", last.Seq).Error
	})
	if err != nil {
		return res, fmt.Errorf("prune: record the prune in the audit log: %w", err)
	}
	res.Through = last.Seq
	for {
		var n int64
		err := s.writeTx(ctx, func(tx *gorm.DB) error {
			r := tx.Exec("DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events WHERE seq <= ? ORDER BY seq LIMIT ?)", last.Seq, pruneBatch)
			n = r.RowsAffected
			return r.Error
		})
		if err != nil {
			return res, fmt.Errorf("prune audit events: %w", err)
		}
		res.Events += n
		if n < pruneBatch {
			return res, nil
		}
	}
}

// Optimize keeps SQLite's query plans and write-ahead log healthy under
// sustained writes: fresh statistics (PRAGMA optimize) and a passive
// checkpoint. PostgreSQL's autovacuum does the same there.
func (s *Store) Optimize(ctx context.Context) {
	if s.postgres {
		return
	}
	db := s.db.WithContext(ctx)
	if err := db.Exec("PRAGMA optimize").Error; err != nil {
		s.log.Warn("sqlite: optimize", "err", err)
	}
	if err := db.Exec("PRAGMA wal_checkpoint(PASSIVE)").Error; err != nil {
		s.log.Warn("sqlite: checkpoint", "err", err)
	}
}
