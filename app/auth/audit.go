package auth

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Audit records that p did action (domain.Audit* names, "resource.verb") to
// target ("job/nightly", "user/alice"; may be empty) with result. It never
// refuses an entry for its free text: target and detail are cut to their
// bounds and their control characters replaced, so callers may pass what
// they have (never a secret or a password). Returns a
// *domain.ValidationError for an invalid action or result, and the store's
// errors; the caller decides whether a failed audit fails the request.
func (s *Service) Audit(ctx context.Context, p Principal, action, target, detail string, result domain.AuditResult) error {
	at := s.now()
	e := domain.AuditEntry{
		At: at, Actor: p.Actor(), Action: action, Result: result,
		Target: clip(target, domain.MaxAuditTargetLen),
		Detail: clip(detail, domain.MaxAuditDetailLen),
	}
	if domain.ValidateName("token_id", p.TokenID) == nil {
		e.TokenID = p.TokenID
	}
	var err error
	for range 3 { // a repeated nonce in the same millisecond: draw again
		e.ID = domain.AuditID(at, newNonce())
		if err = e.Validate(); err != nil {
			return err
		}
		if err = s.cfg.Audit.AppendAudit(ctx, e); !errors.Is(err, domain.ErrAlreadyExists) {
			return err
		}
	}
	return err
}

// ListAudit lists audit entries newest first (see ports.AuditFilter).
func (s *Service) ListAudit(ctx context.Context, f ports.AuditFilter) (ports.Page[domain.AuditEntry], error) {
	return s.cfg.Audit.ListAudit(ctx, f)
}

// clip makes s acceptable as bounded audit text: invalid UTF-8 and control
// characters other than newline and tab become U+FFFD, and text beyond
// limit bytes is cut at a character boundary and ends with "…".
func clip(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) && r != '\n' && r != '\t' {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if len(s) <= limit {
		return s
	}
	const ellipsis = "…"
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
