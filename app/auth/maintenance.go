package auth

import (
	"context"
	"fmt"
	"time"
)

// maxPruneCalls bounds the store calls of one Prune, each itself bounded,
// so a call always ends.
const maxPruneCalls = 1000

// Prune removes the expired tokens and the audit entries beyond the
// retention (Config.AuditKeep, Config.AuditMaxAge) and reports how many of
// each. It calls the stores until they have nothing left to remove (or
// maxPruneCalls times). Any node may run it; concurrent runs are harmless.
func (s *Service) Prune(ctx context.Context) (tokens, audit int, err error) {
	now := s.now()
	for range maxPruneCalls {
		n, err := s.cfg.Tokens.PruneExpiredTokens(ctx, now)
		if err != nil {
			return tokens, audit, fmt.Errorf("prune tokens: %w", err)
		}
		if n == 0 {
			break
		}
		tokens += n
	}
	keep, maxAge := max(s.cfg.AuditKeep, 0), max(s.cfg.AuditMaxAge, 0)
	for range maxPruneCalls {
		n, err := s.cfg.Audit.PruneAudit(ctx, keep, maxAge, now)
		if err != nil {
			return tokens, audit, fmt.Errorf("prune audit: %w", err)
		}
		if n == 0 {
			break
		}
		audit += n
	}
	return tokens, audit, nil
}

// RunMaintenance calls Prune every interval until ctx is done, then
// returns nil. It blocks: run it in a goroutine the caller owns and waits
// for. A failed Prune is logged and tried again at the next interval.
func (s *Service) RunMaintenance(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("auth: maintenance interval must be positive, got %s", interval)
	}
	t := s.cfg.Clock.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
		tokens, audit, err := s.Prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.cfg.Logger.Warn("auth maintenance failed", "err", err, "tokens_pruned", tokens, "audit_pruned", audit)
		case tokens+audit > 0:
			s.cfg.Logger.Debug("auth maintenance", "tokens_pruned", tokens, "audit_pruned", audit)
		}
		t.Reset(interval)
	}
}
