package auth_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestNewValidatesConfig(t *testing.T) {
	mem := memory.New(clock.System{})
	t.Cleanup(mem.Close)
	ok := auth.Config{Users: mem, Tokens: mem, Audit: mem, Groups: mem, Clock: clock.System{}}
	_, err := auth.New(ok)
	require.NoError(t, err)
	for name, change := range map[string]func(*auth.Config){
		"no users":         func(c *auth.Config) { c.Users = nil },
		"no clock":         func(c *auth.Config) { c.Clock = nil },
		"session too long": func(c *auth.Config) { c.SessionTTL = domain.MaxSessionLifetime + 1 },
		"bad params":       func(c *auth.Config) { c.Password = auth.PasswordParams{Time: 1, Memory: 1, Threads: 1} },
		"negative max ttl": func(c *auth.Config) { c.MaxAPITokenTTL = -1 },
	} {
		cfg := ok
		change(&cfg)
		_, err := auth.New(cfg)
		require.Error(t, err, name)
	}
}

func TestBootstrapGeneratesAPassword(t *testing.T) {
	e := newEnv(t)
	created, pw, err := e.svc.Bootstrap(e.ctx, "")
	require.NoError(t, err)
	require.True(t, created)
	require.Len(t, pw, auth.GeneratedPasswordLen)
	require.NoError(t, domain.ValidatePassword(pw))

	u, err := e.svc.GetUser(e.ctx, auth.BootstrapAdmin)
	require.NoError(t, err)
	require.Equal(t, domain.RoleAdmin, u.Role)
	require.NotContains(t, u.PasswordHash, pw, "only the hash is stored")
	p, err := e.svc.Authenticate(e.ctx, e.login(t, auth.BootstrapAdmin, pw))
	require.NoError(t, err)
	require.Equal(t, auth.Principal{User: "admin", Role: domain.RoleAdmin, TokenID: p.TokenID, Kind: domain.TokenSession}, p)

	page, err := e.svc.ListAudit(e.ctx, ports.AuditFilter{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, domain.ActorSystem, page.Items[0].Actor)
	require.Equal(t, domain.AuditUserCreate, page.Items[0].Action)
	require.Equal(t, "user/admin", page.Items[0].Target)
	require.NotContains(t, page.Items[0].Detail, pw, "the password never reaches the audit log")

	created, pw, err = e.svc.Bootstrap(e.ctx, "")
	require.NoError(t, err)
	require.False(t, created, "users exist: nothing to do")
	require.Empty(t, pw)
}

func TestBootstrapWithAGivenPassword(t *testing.T) {
	e := newEnv(t)
	created, pw, err := e.svc.Bootstrap(e.ctx, adminPW)
	require.NoError(t, err)
	require.True(t, created)
	require.Empty(t, pw, "a given password is not returned, so it is not logged")
	e.login(t, auth.BootstrapAdmin, adminPW)
}

func TestBootstrapRefusesAWeakPassword(t *testing.T) {
	e := newEnv(t)
	_, _, err := e.svc.Bootstrap(e.ctx, "short")
	require.ErrorIs(t, err, domain.ErrInvalid)
	require.Equal(t, "password", domain.FieldOf(err))
	n, err := e.mem.CountUsers(e.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is created")
}

func TestBootstrapDoesNothingOnceAUserExists(t *testing.T) {
	e := newEnv(t)
	e.user(t, "alice", domain.RoleViewer) // even a non-admin counts
	created, pw, err := e.svc.Bootstrap(e.ctx, adminPW)
	require.NoError(t, err)
	require.False(t, created)
	require.Empty(t, pw)
	_, err = e.svc.GetUser(e.ctx, auth.BootstrapAdmin)
	require.ErrorIs(t, err, domain.ErrNotFound)
}

func TestBootstrapRace(t *testing.T) {
	e := newEnv(t)
	const nodes = 10
	type result struct {
		created bool
		err     error
	}
	var wg sync.WaitGroup
	results := make(chan result, nodes)
	for range nodes {
		wg.Go(func() {
			created, _, err := e.svc.Bootstrap(e.ctx, "")
			results <- result{created, err}
		})
	}
	wg.Wait()
	close(results)
	n := 0
	for r := range results {
		require.NoError(t, r.err)
		if r.created {
			n++
		}
	}
	require.Equal(t, 1, n, "exactly one node creates the admin")
}
