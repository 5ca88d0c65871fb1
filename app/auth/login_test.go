package auth_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

var sessionSecret = regexp.MustCompile(`^pink_session_[a-z2-7]{52}$`)

func TestLoginStartsASession(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.SessionTTL = 2 * time.Hour })
	e.user(t, "alice", domain.RoleOperator)
	secret, tok, err := e.svc.Login(e.ctx, "alice", userPW)
	require.NoError(t, err)
	require.Regexp(t, sessionSecret, secret)
	require.Equal(t, domain.TokenSession, tok.Kind)
	require.Equal(t, "alice", tok.Owner)
	require.Equal(t, t0, tok.CreatedAt)
	require.Equal(t, t0.Add(2*time.Hour), tok.ExpiresAt)
	require.Equal(t, domain.HashTokenSecret(secret), tok.Hash, "the store has the hash, not the secret")
	require.Equal(t, 2*time.Hour, e.svc.SessionTTL())

	p, err := e.svc.Authenticate(e.ctx, secret)
	require.NoError(t, err)
	require.Equal(t, auth.Principal{User: "alice", Role: domain.RoleOperator, TokenID: tok.ID, Kind: domain.TokenSession}, p)
}

func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t).withAdmin(t)
	e.user(t, "alice", domain.RoleViewer)
	e.user(t, "off", domain.RoleViewer)
	_, err := e.svc.DisableUser(e.ctx, "off")
	require.NoError(t, err)

	var msg string
	for _, tc := range []struct{ what, name, pw string }{
		{"wrong password", "alice", "not the password"},
		{"unknown user", "mallory", userPW},
		{"invalid user name", "../etc/passwd", userPW},
		{"disabled user", "off", userPW},
		{"empty password", "alice", ""},
		{"too long password", "alice", strings.Repeat("p", 10*domain.MaxPasswordLen)},
	} {
		before := auth.VerifyCount(e.svc)
		secret, tok, err := e.svc.Login(e.ctx, tc.name, tc.pw)
		require.ErrorIs(t, err, domain.ErrUnauthenticated, tc.what)
		require.Empty(t, secret, tc.what)
		require.Zero(t, tok, tc.what)
		require.Equal(t, before+1, auth.VerifyCount(e.svc), "%s: one hash verification, as for any login", tc.what)
		if msg == "" {
			msg = err.Error()
		}
		require.Equal(t, msg, err.Error(), "%s: the error says nothing of the cause", tc.what)
	}
	page, err := e.svc.ListTokens(e.ctx, ports.TokenFilter{Kind: domain.TokenSession})
	require.NoError(t, err)
	require.Empty(t, page.Items, "no session was started")
}

func TestSessionsExpire(t *testing.T) {
	e := newEnv(t)
	e.user(t, "alice", domain.RoleViewer)
	secret := e.login(t, "alice", userPW)
	e.clk.Advance(auth.DefaultSessionTTL - time.Nanosecond)
	_, err := e.svc.Authenticate(e.ctx, secret)
	require.NoError(t, err)
	e.clk.Advance(time.Nanosecond)
	e.requireUnauthenticated(t, secret, "a session ends at its ExpiresAt")
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	e.user(t, "alice", domain.RoleViewer)
	secret := e.login(t, "alice", userPW)
	other := e.login(t, "alice", userPW)
	api, _, err := e.svc.CreateAPIToken(e.ctx, "alice", "ci", 0)
	require.NoError(t, err)

	require.NoError(t, e.svc.Logout(e.ctx, secret))
	e.requireUnauthenticated(t, secret, "the session is over")
	_, err = e.svc.Authenticate(e.ctx, other)
	require.NoError(t, err, "other sessions go on")
	require.NoError(t, e.svc.Logout(e.ctx, secret), "logging out twice is fine")
	require.NoError(t, e.svc.Logout(e.ctx, api), "an API token is not a session")
	_, err = e.svc.Authenticate(e.ctx, api)
	require.NoError(t, err, "and Logout leaves it alone")
	require.NoError(t, e.svc.Logout(e.ctx, "garbage"))
}

func TestAuthenticateRefusesMalformedAndForeignSecrets(t *testing.T) {
	e := newEnv(t)
	e.user(t, "alice", domain.RoleViewer)
	api, _, err := e.svc.CreateAPIToken(e.ctx, "alice", "ci", 0)
	require.NoError(t, err)
	body := strings.TrimPrefix(api, "pink_api_")
	for _, s := range []string{
		"", "pink_", "pink_api_", "Bearer " + api, api + "a", api[:len(api)-1],
		"pink_session_" + body, // the same random part as another kind
		"pink_root_" + body,
		"pink_api_" + strings.ToUpper(body),
		auth.NewSecret(domain.TokenAPI), // well formed, never issued
		domain.HashTokenSecret(api),     // the stored hash is not a secret
	} {
		e.requireUnauthenticated(t, s, s)
	}
}

func TestAuthenticateTouchesTokensCoarsely(t *testing.T) {
	e := newEnv(t)
	e.user(t, "alice", domain.RoleViewer)
	secret, tok, err := e.svc.CreateAPIToken(e.ctx, "alice", "ci", 0)
	require.NoError(t, err)
	used := func() (time.Time, int64) {
		got, err := e.svc.GetToken(e.ctx, tok.ID)
		require.NoError(t, err)
		return got.LastUsedAt, got.Version
	}
	_, err = e.svc.Authenticate(e.ctx, secret)
	require.NoError(t, err)
	at, v := used()
	require.Equal(t, t0, at, "the first use is recorded")

	e.clk.Advance(auth.DefaultTouchInterval - time.Second)
	_, err = e.svc.Authenticate(e.ctx, secret)
	require.NoError(t, err)
	at2, v2 := used()
	require.Equal(t, at, at2)
	require.Equal(t, v, v2, "no write within the touch interval")

	e.clk.Advance(time.Second)
	_, err = e.svc.Authenticate(e.ctx, secret)
	require.NoError(t, err)
	at3, _ := used()
	require.Equal(t, t0.Add(auth.DefaultTouchInterval), at3)
}

// failingTokens is a TokenStore whose lookups fail as an unreachable store
// does.
type failingTokens struct{ ports.TokenStore }

func (failingTokens) GetTokenByHash(context.Context, string, time.Time) (domain.Token, error) {
	return domain.Token{}, domain.ErrUnavailable
}

func TestAuthenticateReportsStoreFailuresAsSuch(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Tokens = failingTokens{c.Tokens} })
	_, err := e.svc.Authenticate(e.ctx, auth.NewSecret(domain.TokenAPI))
	require.ErrorIs(t, err, domain.ErrUnavailable, "a 503, not a 401")
	require.NotErrorIs(t, err, domain.ErrUnauthenticated)
}

func TestLoginUpgradesStaleHashes(t *testing.T) {
	e := newEnv(t)
	e.user(t, "alice", domain.RoleViewer)
	stronger := auth.PasswordParams{Time: 2, Memory: 128, Threads: 1}
	svc2, err := auth.New(auth.Config{Users: e.mem, Tokens: e.mem, Audit: e.mem, Groups: e.mem, Clock: e.clk, Password: stronger})
	require.NoError(t, err)
	_, _, err = svc2.Login(e.ctx, "alice", userPW)
	require.NoError(t, err)
	u, err := svc2.GetUser(e.ctx, "alice")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=128,t=2,p=1$"), u.PasswordHash)
	_, _, err = svc2.Login(e.ctx, "alice", userPW)
	require.NoError(t, err, "the upgraded hash works")
	_, _, err = e.svc.Login(e.ctx, "alice", userPW)
	require.NoError(t, err, "and so does any node with other parameters: each hash carries its own")
}
