package auth_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestCreateAPIToken(t *testing.T) {
	e := newEnv(t)
	e.user(t, "alice", domain.RoleOperator)
	secret, tok, err := e.svc.CreateAPIToken(e.ctx, "alice", "deploy bot", 0)
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^pink_api_[a-z2-7]{52}$`), secret)
	require.Equal(t, domain.Token{ID: tok.ID, Kind: domain.TokenAPI, Owner: "alice", Name: "deploy bot",
		Hash: domain.HashTokenSecret(secret), CreatedAt: t0, Version: tok.Version}, tok)
	p, err := e.svc.Authenticate(e.ctx, secret)
	require.NoError(t, err)
	require.Equal(t, auth.Principal{User: "alice", Role: domain.RoleOperator, TokenID: tok.ID, Kind: domain.TokenAPI}, p)

	e.clk.Advance(10 * 365 * 24 * time.Hour)
	_, err = e.svc.Authenticate(e.ctx, secret)
	require.NoError(t, err, "ttl 0 never expires")

	short, tok, err := e.svc.CreateAPIToken(e.ctx, "alice", "short", time.Hour)
	require.NoError(t, err)
	require.Equal(t, e.clk.Now().UTC().Add(time.Hour), tok.ExpiresAt)
	e.clk.Advance(time.Hour)
	e.requireUnauthenticated(t, short, "expired")
}

func TestCreateAPITokenRefusals(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.MaxAPITokenTTL = 30 * 24 * time.Hour })
	e.user(t, "alice", domain.RoleOperator)
	for _, tc := range []struct {
		user, name, field string
		ttl               time.Duration
	}{
		{"alice", "x", "ttl", -time.Second},
		{"alice", "x", "ttl", time.Millisecond},
		{"alice", "x", "ttl", 0}, // must expire under MaxAPITokenTTL
		{"alice", "x", "ttl", 31 * 24 * time.Hour},
		{"alice", "", "name", time.Hour},
		{"alice", "bad\x00label", "name", time.Hour},
		{"nobody", "x", "owner", time.Hour},
	} {
		_, _, err := e.svc.CreateAPIToken(e.ctx, tc.user, tc.name, tc.ttl)
		require.ErrorIs(t, err, domain.ErrInvalid, "%+v", tc)
		require.Equal(t, tc.field, domain.FieldOf(err), "%+v", tc)
	}
	_, _, err := e.svc.CreateAPIToken(e.ctx, "nobody", "x", time.Hour)
	require.ErrorIs(t, err, domain.ErrNotFound)
	page, err := e.svc.ListTokens(e.ctx, ports.TokenFilter{})
	require.NoError(t, err)
	require.Empty(t, page.Items)
}

func TestWorkerTokens(t *testing.T) {
	e := newEnv(t)
	_, _, err := e.svc.CreateWorkerToken(e.ctx, "billing", "host-7")
	require.ErrorIs(t, err, domain.ErrNotFound, "the group must exist")
	require.Equal(t, "owner", domain.FieldOf(err))

	_, err = e.mem.CreateGroup(e.ctx, domain.Group{Name: "billing", CreatedAt: t0, UpdatedAt: t0})
	require.NoError(t, err)
	secret, tok, err := e.svc.CreateWorkerToken(e.ctx, "billing", "host-7")
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^pink_worker_[a-z2-7]{52}$`), secret)
	require.True(t, tok.ExpiresAt.IsZero(), "worker tokens never expire")
	other, _, err := e.svc.CreateWorkerToken(e.ctx, "billing", "host-8")
	require.NoError(t, err)

	p, err := e.svc.Authenticate(e.ctx, secret)
	require.NoError(t, err)
	require.Equal(t, auth.Principal{TokenID: tok.ID, Kind: domain.TokenWorker, Group: "billing"}, p)
	require.NoError(t, e.svc.AuthorizeWorker(p, "billing"))
	require.ErrorIs(t, e.svc.AuthorizeWorker(p, "etl"), domain.ErrForbidden)
	require.ErrorIs(t, e.svc.Authorize(p, domain.ActionRead), domain.ErrForbidden, "no access to the API")

	require.NoError(t, e.svc.RevokeToken(e.ctx, tok.ID))
	e.requireUnauthenticated(t, secret, "revoked")
	require.ErrorIs(t, e.svc.RevokeToken(e.ctx, tok.ID), domain.ErrNotFound)

	require.NoError(t, e.mem.DeleteGroup(e.ctx, "billing"))
	e.requireUnauthenticated(t, other, "the group is gone")
	n, err := e.svc.RevokeTokens(e.ctx, domain.TokenWorker, "billing")
	require.NoError(t, err)
	require.Equal(t, 1, n, "a deleted group's tokens can be cleaned up")
	_, err = e.mem.CreateGroup(e.ctx, domain.Group{Name: "billing", CreatedAt: t0, UpdatedAt: t0})
	require.NoError(t, err)
	e.requireUnauthenticated(t, other, "a new group of the same name inherits nothing once cleaned up")
}

func TestRevokeTokensPages(t *testing.T) {
	e := newEnv(t)
	e.user(t, "alice", domain.RoleViewer)
	for range ports.MaxPageLimit + 5 {
		_, _, err := e.svc.CreateAPIToken(e.ctx, "alice", "ci", 0)
		require.NoError(t, err)
	}
	n, err := e.svc.RevokeTokens(e.ctx, domain.TokenAPI, "alice")
	require.NoError(t, err)
	require.Equal(t, ports.MaxPageLimit+5, n)
	_, err = e.svc.RevokeTokens(e.ctx, "root", "alice")
	require.ErrorIs(t, err, domain.ErrInvalid)
}

func TestTokenIDsSortByCreation(t *testing.T) {
	var prev string
	for i := range 50 {
		id := auth.NewTokenID(t0.Add(time.Duration(i) * time.Millisecond))
		require.NoError(t, domain.ValidateName("id", id))
		require.Len(t, id, 20)
		require.Greater(t, id, prev)
		prev = id
	}
}
