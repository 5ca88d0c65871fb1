package auth_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestPruneRemovesExpiredTokensAndOldAudit(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.AuditKeep, c.AuditMaxAge = 3, 24*time.Hour })
	e.user(t, "alice", domain.RoleViewer)
	e.login(t, "alice", userPW)
	e.login(t, "alice", userPW)
	api, _, err := e.svc.CreateAPIToken(e.ctx, "alice", "ci", 0)
	require.NoError(t, err)
	for range 5 {
		require.NoError(t, e.svc.Audit(e.ctx, auth.System, domain.AuditJobUpdate, "job/x", "", domain.AuditOK))
		e.clk.Advance(time.Minute)
	}

	tokens, audit, err := e.svc.Prune(e.ctx)
	require.NoError(t, err)
	require.Zero(t, tokens, "nothing has expired yet")
	require.Equal(t, 2, audit, "the audit log keeps the newest 3")

	e.clk.Advance(auth.DefaultSessionTTL)
	tokens, audit, err = e.svc.Prune(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, tokens, "both sessions ended")
	require.Equal(t, 0, audit)
	page, err := e.svc.ListTokens(e.ctx, ports.TokenFilter{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	_, err = e.svc.Authenticate(e.ctx, api)
	require.NoError(t, err)

	e.clk.Advance(24 * time.Hour)
	_, audit, err = e.svc.Prune(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 3, audit, "and nothing older than a day")
}

// TestRunMaintenance runs the loop in a synctest bubble (virtual time, see
// ADR 0003): it prunes every interval and stops with its context.
func TestRunMaintenance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.New(clock.System{})
		defer mem.Close()
		svc, err := auth.New(auth.Config{Users: mem, Tokens: mem, Audit: mem, Groups: mem,
			Clock: clock.System{}, Password: fastParams, SessionTTL: time.Hour})
		require.NoError(t, err)
		ctx := context.Background()
		_, err = svc.CreateUser(ctx, "alice", domain.RoleViewer, userPW)
		require.NoError(t, err)
		_, _, err = svc.Login(ctx, "alice", userPW)
		require.NoError(t, err)
		require.ErrorContains(t, svc.RunMaintenance(ctx, 0), "interval")

		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { require.NoError(t, svc.RunMaintenance(ctx, 25*time.Minute)) })
		sessions := func() int {
			page, err := svc.ListTokens(context.Background(), ports.TokenFilter{Kind: domain.TokenSession})
			require.NoError(t, err)
			return len(page.Items)
		}

		time.Sleep(time.Hour) // ticks at 25 and 50 minutes; the session expires at 60
		synctest.Wait()
		require.Equal(t, 1, sessions(), "not pruned before the next tick")
		time.Sleep(15 * time.Minute)
		synctest.Wait()
		require.Zero(t, sessions(), "pruned at the next tick")

		cancel()
		wg.Wait()
	})
}
