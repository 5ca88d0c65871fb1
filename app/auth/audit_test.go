package auth_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestAuditRecordsWhoDidWhat(t *testing.T) {
	e := newEnv(t)
	alice := auth.Principal{User: "alice", Role: domain.RoleOperator, TokenID: "tok1", Kind: domain.TokenAPI}
	worker := auth.Principal{TokenID: "tok2", Kind: domain.TokenWorker, Group: "g"}
	require.NoError(t, e.svc.Audit(e.ctx, alice, domain.AuditJobTrigger, "job/nightly", "params overridden", domain.AuditOK))
	e.clk.Advance(time.Second)
	require.NoError(t, e.svc.Audit(e.ctx, worker, "run.report", "run/r1", "", domain.AuditOK))
	e.clk.Advance(time.Second)
	require.NoError(t, e.svc.Audit(e.ctx, auth.Principal{}, domain.AuditUserLogin, "user/bob", "from 192.0.2.7", domain.AuditDenied))

	page, err := e.svc.ListAudit(e.ctx, ports.AuditFilter{})
	require.NoError(t, err)
	require.Len(t, page.Items, 3)
	got := page.Items
	require.Equal(t, []string{domain.ActorAnonymous, "token:tok2", "alice"}, []string{got[0].Actor, got[1].Actor, got[2].Actor}, "newest first")
	require.Equal(t, "", got[0].TokenID)
	require.Equal(t, "tok2", got[1].TokenID)
	first := got[2]
	require.Equal(t, t0, first.At)
	require.True(t, strings.HasPrefix(first.ID, domain.AuditIDPrefix(t0)+"~"), first.ID)
	require.Equal(t, domain.AuditJobTrigger, first.Action)
	require.Equal(t, "job/nightly", first.Target)
	require.Equal(t, "params overridden", first.Detail)
	require.Equal(t, domain.AuditOK, first.Result)

	page, err = e.svc.ListAudit(e.ctx, ports.AuditFilter{Result: domain.AuditDenied})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, domain.AuditUserLogin, page.Items[0].Action)
}

func TestAuditClipsFreeText(t *testing.T) {
	e := newEnv(t)
	p := auth.Principal{User: "alice", Role: domain.RoleAdmin, TokenID: "t", Kind: domain.TokenSession}
	detail := "bad\x00bytes\xff and a bell\a " + strings.Repeat("é", domain.MaxAuditDetailLen)
	require.NoError(t, e.svc.Audit(e.ctx, p, domain.AuditJobUpdate, strings.Repeat("j", 1000), detail, domain.AuditError))
	page, err := e.svc.ListAudit(e.ctx, ports.AuditFilter{})
	require.NoError(t, err)
	got := page.Items[0]
	require.LessOrEqual(t, len(got.Detail), domain.MaxAuditDetailLen)
	require.LessOrEqual(t, len(got.Target), domain.MaxAuditTargetLen)
	require.True(t, utf8.ValidString(got.Detail))
	require.True(t, strings.HasSuffix(got.Detail, "…"))
	require.True(t, strings.HasPrefix(got.Detail, "bad\uFFFDbytes\uFFFD and a bell\uFFFD é"), got.Detail[:40])
	require.Equal(t, "line one\nline\ttwo", auth.Clip("line one\nline\ttwo", 100), "newlines and tabs stay")
	require.Equal(t, "ab…", auth.Clip("abcdef", 5))
}

func TestAuditRefusesBadActionsAndResults(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		action string
		result domain.AuditResult
	}{
		{"trigger", domain.AuditOK}, {"Job.Create", domain.AuditOK}, {"job.create", "maybe"},
	} {
		require.ErrorIs(t, e.svc.Audit(e.ctx, auth.System, tc.action, "", "", tc.result), domain.ErrInvalid, "%+v", tc)
	}
}
