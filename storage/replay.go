package storage

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ClaimReplay records key as accepted until until. It reports whether this
// is the first time; if not, reply is the first answer (nil while that is
// still being worked out).
func (s *Store) ClaimReplay(ctx context.Context, key string, now, until time.Time) (bool, []byte, error) {
	var first bool
	var prior replayRow
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&replayRow{Key: key, CreatedAt: now.UTC(), ExpiresAt: until.UTC()})
		if res.Error != nil {
			return res.Error
		}
		if first = res.RowsAffected == 1; first {
			return nil
		}
		return tx.Where("key = ?", key).Take(&prior).Error
	})
	if err != nil {
		return false, nil, fmt.Errorf("remember Slack request: %w", err)
	}
	return first, prior.Reply, nil
}

// SaveReplay records the answer given to the request named by key.
func (s *Store) SaveReplay(ctx context.Context, key string, reply []byte) error {
	if reply == nil {
		reply = []byte{}
	}
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		return tx.Model(&replayRow{}).Where("key = ?", key).Update("reply", reply).Error
	})
	if err != nil {
		return fmt.Errorf("remember answer to Slack request: %w", err)
	}
	return nil
}

// PruneReplays forgets Slack requests whose replay window has passed.
func (s *Store) PruneReplays(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("expires_at < ?", now.UTC()).Delete(&replayRow{})
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, fmt.Errorf("forget old Slack requests: %w", err)
	}
	return n, nil
}
