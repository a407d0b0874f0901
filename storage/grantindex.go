package storage

import (
	"context"
	"fmt"

	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
	"gorm.io/gorm"
)

// The grant index answers introspection from memory: live grants by the
// hash of their current token. It is loaded at Open and kept current by
// every Create and Update made through this Store. A hash it does not hold
// is looked up in the database (and remembered if live), so a grant written
// by another process is still found.
//
// Update changes the index at the end of its transaction, while it still
// holds the request's row lock, so two changes to one request always reach
// the index in the order they commit (after a revocation, a late "store the
// token's hash" can never put the token back). Should the commit itself
// fail after that, the index errs on the safe side: a grant it dropped is
// refused until a restart reloads it, and a hash it added belongs to a
// token that delivery then discards unsent, since delivery sends a token
// only after its hash is stored.

func (s *Store) loadGrantIndex(ctx context.Context) error {
	var rows []grantRow
	err := s.db.WithContext(ctx).
		Where("state = ? AND token_hash IS NOT NULL", string(workflow.StateActive)).
		FindInBatches(&rows, 5000, func(_ *gorm.DB, _ int) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			for i := range rows {
				if h, err := tokens.ParseHash(*rows[i].TokenHash); err == nil {
					s.grants[h] = grantInfo(&rows[i])
				}
			}
			return nil
		}).Error
	if err != nil {
		return fmt.Errorf("load live grants: %w", err)
	}
	return nil
}

// index updates the grant index after a committed change from before (nil
// for a new request) to after.
func (s *Store) index(before, after *workflow.Request) {
	var old tokens.Hash
	if before != nil && before.Grant.HasToken() {
		old = before.Grant.TokenHash
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indexGen++
	if old != (tokens.Hash{}) {
		delete(s.grants, old)
	}
	if after.Grant.HasToken() && grantState(after.State) == string(workflow.StateActive) {
		g := toGrantRow(after)
		s.grants[after.Grant.TokenHash] = grantInfo(&g)
	}
}

// GrantByTokenHash finds the grant whose current token has hash h.
func (s *Store) GrantByTokenHash(ctx context.Context, h tokens.Hash) (workflow.GrantInfo, error) {
	s.mu.RLock()
	g, ok := s.grants[h]
	gen := s.indexGen
	s.mu.RUnlock()
	if ok {
		return g, nil
	}
	var row grantRow
	if err := s.db.WithContext(ctx).Where("token_hash = ?", h.String()).Take(&row).Error; err != nil {
		return workflow.GrantInfo{}, fmt.Errorf("grant by token: %w", notFound(err))
	}
	info := grantInfo(&row)
	if info.State == workflow.StateActive {
		// Remember it unless a change committed meanwhile, which might have
		// ended this very grant.
		s.mu.Lock()
		if s.indexGen == gen {
			s.grants[h] = info
		}
		s.mu.Unlock()
	}
	return info, nil
}
