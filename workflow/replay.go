package workflow

import (
	"context"
	"fmt"
	"time"
)

// Once makes a request from Slack act at most once: the first time key is
// seen (within window) do runs and its answer is remembered; the same key
// again (Slack retrying, or someone repeating a signed request) gets that
// answer back without acting, replayed=true, and a nil answer if the first
// is still being worked out. The memory is in the database, so it holds
// across restarts and replicas.
func (s *Service) Once(ctx context.Context, key string, window time.Duration, do func() []byte) (answer []byte, replayed bool, err error) {
	now := s.Now()
	first, prior, err := s.store.ClaimReplay(ctx, key, now, now.Add(window))
	if err != nil {
		return nil, false, fmt.Errorf("check for a repeated Slack request: %w", err)
	}
	if !first {
		s.log.Info("Slack request seen before; answered without acting again")
		return prior, true, nil
	}
	answer = do()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	if err := s.store.SaveReplay(sctx, key, answer); err != nil {
		s.log.Warn("remember the answer to a Slack request", "err", err)
	}
	return answer, false, nil
}
