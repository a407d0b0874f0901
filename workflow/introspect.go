package workflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatepass/gatepass/tokens"
)

var _ tokens.Lookup = (*Service)(nil)

// LookupToken implements tokens.Lookup: a token is active while its grant
// is active and the clock is before its expiry, to the second, whether or
// not the expiry sweep has run. An active answer to a named client (an
// introspection key) counts as a use of the grant by that client.
func (s *Service) LookupToken(ctx context.Context, token string) (tokens.Claims, bool, error) {
	g, err := s.store.GrantByTokenHash(ctx, tokens.HashOf(token))
	if errors.Is(err, ErrNotFound) {
		return tokens.Claims{}, false, nil
	}
	if err != nil {
		return tokens.Claims{}, false, fmt.Errorf("look up token: %w", err)
	}
	if g.State != StateActive || !s.clock.Now().Before(g.ExpiresAt) {
		return tokens.Claims{}, false, nil
	}
	if client := tokens.ClientName(ctx); client != "" {
		s.uses.record(g.RequestID, g.Resource, g.Level, g.Ticket, client)
	}
	return tokens.Claims{
		Resource:   g.Resource,
		Level:      g.Level,
		Subject:    g.Requester,
		Ticket:     g.Ticket,
		RequestID:  g.RequestID,
		IssuedAt:   g.IssuedAt,
		ExpiresAt:  g.ExpiresAt,
		BreakGlass: g.BreakGlass,
	}, true, nil
}
