package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/domain"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is the fake clock's start.
var t0 = time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC)

// fastParams keeps hashing cheap in tests; the code paths are the same.
var fastParams = auth.PasswordParams{Time: 1, Memory: 64, Threads: 1}

const (
	adminPW = "correct horse battery staple"
	userPW  = "tr0ub4dor&3-but-longer"
)

// env is a Service on a memory backend and a fake clock.
type env struct {
	svc *auth.Service
	mem *memory.Backend
	clk *clock.Fake
	ctx context.Context
}

// newEnv returns an env; change adjusts the Config before New.
func newEnv(t *testing.T, change ...func(*auth.Config)) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	mem := memory.New(clk)
	t.Cleanup(mem.Close)
	cfg := auth.Config{Users: mem, Tokens: mem, Audit: mem, Groups: mem, Clock: clk, Password: fastParams}
	for _, c := range change {
		c(&cfg)
	}
	svc, err := auth.New(cfg)
	require.NoError(t, err)
	return &env{svc: svc, mem: mem, clk: clk, ctx: t.Context()}
}

// withAdmin bootstraps "admin" with adminPW.
func (e *env) withAdmin(t *testing.T) *env {
	t.Helper()
	created, _, err := e.svc.Bootstrap(e.ctx, adminPW)
	require.NoError(t, err)
	require.True(t, created)
	return e
}

// user creates a user with userPW.
func (e *env) user(t *testing.T, name string, role domain.Role) domain.User {
	t.Helper()
	u, err := e.svc.CreateUser(e.ctx, name, role, userPW)
	require.NoError(t, err)
	return u
}

// login logs name in with pw and returns the session secret.
func (e *env) login(t *testing.T, name, pw string) string {
	t.Helper()
	secret, _, err := e.svc.Login(e.ctx, name, pw)
	require.NoError(t, err)
	return secret
}

// requireUnauthenticated checks that secret does not authenticate.
func (e *env) requireUnauthenticated(t *testing.T, secret, msg string) {
	t.Helper()
	_, err := e.svc.Authenticate(e.ctx, secret)
	require.ErrorIs(t, err, domain.ErrUnauthenticated, msg)
}
