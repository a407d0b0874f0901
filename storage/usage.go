package storage

import (
	"context"
	"fmt"
	"slices"

	"github.com/gatepass/gatepass/audit"
	"github.com/gatepass/gatepass/workflow"
	"gorm.io/gorm"
)

// RecordUses adds counts of token use, and their audit events, in one
// transaction.
func (s *Store) RecordUses(ctx context.Context, uses []workflow.Use, events []workflow.Event) error {
	if len(uses) == 0 && len(events) == 0 {
		return nil
	}
	later, earlier := s.greatest(), s.least()
	evs := make([]audit.Event, len(events))
	for i := range events {
		evs[i] = toAuditEvent(&events[i])
	}
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		for _, u := range uses {
			err := tx.Exec(`INSERT INTO grant_uses (request_id, client, count, first_at, last_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (request_id, client) DO UPDATE SET count = grant_uses.count + excluded.count,
					first_at = `+earlier+`(grant_uses.first_at, excluded.first_at), last_at = `+later+`(grant_uses.last_at, excluded.last_at)`,
				u.RequestID, truncateText(u.Client, 64), u.Count, u.First.UTC(), u.Last.UTC()).Error
			if err != nil {
				return err
			}
		}
		return s.appendChain(tx, evs)
	})
	if err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	return nil
}

// Uses returns the recorded use of the given grants, busiest client first.
func (s *Store) Uses(ctx context.Context, requestIDs []string) (map[string][]workflow.Use, error) {
	out := map[string][]workflow.Use{}
	for part := range slices.Chunk(requestIDs, maxInParams) {
		var rows []useRow
		err := s.db.WithContext(ctx).Where("request_id IN ?", part).
			Order("request_id, count DESC, client").Find(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("read token use: %w", err)
		}
		for _, r := range rows {
			out[r.RequestID] = append(out[r.RequestID], workflow.Use{RequestID: r.RequestID, Client: r.Client, Count: r.Count, First: r.FirstAt.UTC(), Last: r.LastAt.UTC()})
		}
	}
	return out, nil
}
