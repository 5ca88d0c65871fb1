package contract

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// TestTokenStore checks the ports.TokenStore contract.
func TestTokenStore(t *testing.T, nb NewAuthBackend, f Features) {
	// withOwners returns a backend with users alice and bob and group g.
	withOwners := func(t *testing.T) AuthBackend {
		b := nb(t)
		withUsers(t, b, newUser("alice", domain.RoleAdmin), newUser("bob", domain.RoleViewer))
		_, err := b.Groups.CreateGroup(timeoutCtx(t), newGroup("g"))
		require.NoError(t, err)
		return b
	}

	t.Run("CreateAndGet", func(t *testing.T) {
		s := withOwners(t).Tokens
		ctx := timeoutCtx(t)
		for _, want := range []domain.Token{
			newToken("t1", domain.TokenAPI, "alice"),
			newToken("t2", domain.TokenSession, "alice"),
			newToken("t3", domain.TokenWorker, "g"),
		} {
			got, err := s.CreateToken(ctx, want)
			require.NoError(t, err)
			require.Positive(t, got.Version, "CreateToken sets Version")
			want.Version = got.Version
			require.Equal(t, want, got)
			read, err := s.GetToken(ctx, want.ID)
			require.NoError(t, err)
			require.Equal(t, want, read)
			read, err = s.GetTokenByHash(ctx, want.Hash, t0)
			require.NoError(t, err)
			require.Equal(t, want, read)
		}
	})

	t.Run("CreateDuplicate", func(t *testing.T) {
		b := withOwners(t)
		ctx := timeoutCtx(t)
		first, err := b.Tokens.CreateToken(ctx, newToken("t1", domain.TokenAPI, "alice"))
		require.NoError(t, err)

		sameID := newToken("t1", domain.TokenAPI, "bob")
		sameID.Hash = domain.HashTokenSecret("another secret")
		_, err = b.Tokens.CreateToken(ctx, sameID)
		require.ErrorIs(t, err, domain.ErrAlreadyExists, "same ID")
		_, err = b.Tokens.GetTokenByHash(ctx, sameID.Hash, t0)
		require.ErrorIs(t, err, domain.ErrNotFound, "a refused create leaves no index entry")

		sameHash := newToken("t2", domain.TokenAPI, "bob")
		sameHash.Hash = first.Hash
		_, err = b.Tokens.CreateToken(ctx, sameHash)
		require.ErrorIs(t, err, domain.ErrAlreadyExists, "same hash")
		_, err = b.Tokens.GetToken(ctx, "t2")
		require.ErrorIs(t, err, domain.ErrNotFound)

		read, err := b.Tokens.GetTokenByHash(ctx, first.Hash, t0)
		require.NoError(t, err)
		require.Equal(t, first, read, "refused creates change nothing")
	})

	t.Run("CreateInvalid", func(t *testing.T) {
		b := withOwners(t)
		ctx := timeoutCtx(t)
		bad := func(change func(*domain.Token)) domain.Token {
			tok := newToken("t1", domain.TokenAPI, "alice")
			change(&tok)
			return tok
		}
		for name, tok := range map[string]domain.Token{
			"bad id":             bad(func(t *domain.Token) { t.ID = "../x" }),
			"bad kind":           bad(func(t *domain.Token) { t.Kind = "root" }),
			"bad hash":           bad(func(t *domain.Token) { t.Hash = "secret" }),
			"session never ends": bad(func(t *domain.Token) { t.Kind = domain.TokenSession }),
			"expires at birth":   bad(func(t *domain.Token) { t.ExpiresAt = t.CreatedAt }),
			"no label":           bad(func(t *domain.Token) { t.Name = "" }),
		} {
			_, err := b.Tokens.CreateToken(ctx, tok)
			require.ErrorIs(t, err, domain.ErrInvalid, name)
		}
		page, err := b.Tokens.ListTokens(ctx, ports.TokenFilter{})
		require.NoError(t, err)
		require.Empty(t, page.Items, "nothing invalid is stored")
	})

	t.Run("CreateOwnerMissing", func(t *testing.T) {
		b := withOwners(t)
		ctx := timeoutCtx(t)
		for _, tok := range []domain.Token{
			newToken("t1", domain.TokenAPI, "carol"),
			newToken("t2", domain.TokenSession, "carol"),
			newToken("t3", domain.TokenWorker, "nogroup"),
			newToken("t4", domain.TokenWorker, "alice"), // a user, not a group
			newToken("t5", domain.TokenAPI, "g"),        // a group, not a user
		} {
			_, err := b.Tokens.CreateToken(ctx, tok)
			require.ErrorIs(t, err, domain.ErrNotFound, tok.ID)
			require.ErrorIs(t, err, domain.ErrInvalid, tok.ID)
			require.Equal(t, "owner", domain.FieldOf(err), tok.ID)
			_, err = b.Tokens.GetToken(ctx, tok.ID)
			require.ErrorIs(t, err, domain.ErrNotFound)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := withOwners(t).Tokens
		ctx := timeoutCtx(t)
		_, err := s.GetToken(ctx, "nope")
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = s.GetToken(ctx, "../../x")
		require.ErrorIs(t, err, domain.ErrNotFound)
		for _, h := range []string{domain.HashTokenSecret("unknown"), "", "not-a-hash", "../../../x"} {
			_, err = s.GetTokenByHash(ctx, h, t0)
			require.ErrorIs(t, err, domain.ErrNotFound, "%q", h)
		}
	})

	t.Run("ExpiredInvisible", func(t *testing.T) {
		b := withOwners(t)
		ctx := timeoutCtx(t)
		session := newToken("s1", domain.TokenSession, "alice")
		api := newToken("a1", domain.TokenAPI, "alice")
		api.ExpiresAt = t0.Add(24 * time.Hour)
		forever := newToken("w1", domain.TokenWorker, "g")
		createTokens(t, b, session, api, forever)

		for _, tok := range []domain.Token{session, api} {
			_, err := b.Tokens.GetTokenByHash(ctx, tok.Hash, tok.ExpiresAt.Add(-time.Nanosecond))
			require.NoError(t, err, "%s is valid until it expires", tok.ID)
			_, err = b.Tokens.GetTokenByHash(ctx, tok.Hash, tok.ExpiresAt)
			require.ErrorIs(t, err, domain.ErrNotFound, "%s is gone at ExpiresAt", tok.ID)
			_, err = b.Tokens.GetTokenByHash(ctx, tok.Hash, tok.ExpiresAt.Add(time.Hour))
			require.ErrorIs(t, err, domain.ErrNotFound)
			_, err = b.Tokens.GetToken(ctx, tok.ID)
			require.NoError(t, err, "GetToken still shows an expired token")
		}
		_, err := b.Tokens.GetTokenByHash(ctx, forever.Hash, t0.AddDate(100, 0, 0))
		require.NoError(t, err, "a token without ExpiresAt never expires")

		later := t0.Add(48 * time.Hour)
		page, err := b.Tokens.ListTokens(ctx, ports.TokenFilter{Now: later})
		require.NoError(t, err)
		require.Equal(t, []string{"w1"}, ids(page.Items, tokenID), "Now hides expired tokens")
		page, err = b.Tokens.ListTokens(ctx, ports.TokenFilter{Kind: domain.TokenSession, Owner: "alice", Now: later})
		require.NoError(t, err)
		require.Empty(t, page.Items)
		page, err = b.Tokens.ListTokens(ctx, ports.TokenFilter{})
		require.NoError(t, err)
		require.Equal(t, []string{"a1", "s1", "w1"}, ids(page.Items, tokenID), "without Now, expired tokens are listed")
	})

	t.Run("Revoke", func(t *testing.T) {
		b := withOwners(t)
		ctx := timeoutCtx(t)
		tok := newToken("t1", domain.TokenAPI, "alice")
		other := newToken("t2", domain.TokenAPI, "alice")
		createTokens(t, b, tok, other)
		require.NoError(t, b.Tokens.DeleteToken(ctx, "t1"))
		_, err := b.Tokens.GetToken(ctx, "t1")
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = b.Tokens.GetTokenByHash(ctx, tok.Hash, t0)
		require.ErrorIs(t, err, domain.ErrNotFound, "a revoked token does not authenticate")
		page, err := b.Tokens.ListTokens(ctx, ports.TokenFilter{Kind: domain.TokenAPI, Owner: "alice"})
		require.NoError(t, err)
		require.Equal(t, []string{"t2"}, ids(page.Items, tokenID))
		require.ErrorIs(t, b.Tokens.DeleteToken(ctx, "t1"), domain.ErrNotFound)
		require.ErrorIs(t, b.Tokens.DeleteToken(ctx, "nope"), domain.ErrNotFound)
		_, err = b.Tokens.GetTokenByHash(ctx, other.Hash, t0)
		require.NoError(t, err, "other tokens are untouched")
		createTokens(t, b, tok) // ID and hash are free again
	})

	t.Run("ListFiltersAndPaginates", func(t *testing.T) {
		b := withOwners(t)
		ctx := timeoutCtx(t)
		tokens := []domain.Token{
			newToken("t07", domain.TokenAPI, "alice"),
			newToken("t03", domain.TokenSession, "alice"),
			newToken("t01", domain.TokenAPI, "alice"),
			newToken("t05", domain.TokenAPI, "bob"),
			newToken("t02", domain.TokenWorker, "g"),
			newToken("t06", domain.TokenSession, "alice"),
			newToken("t04", domain.TokenAPI, "alice"),
			newToken("t08", domain.TokenWorker, "g"),
		}
		createTokens(t, b, tokens...)
		for _, tc := range []struct {
			f    ports.TokenFilter
			want []string
		}{
			{ports.TokenFilter{}, []string{"t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08"}},
			{ports.TokenFilter{Kind: domain.TokenAPI, Owner: "alice"}, []string{"t01", "t04", "t07"}},
			{ports.TokenFilter{Kind: domain.TokenSession, Owner: "alice"}, []string{"t03", "t06"}},
			{ports.TokenFilter{Kind: domain.TokenWorker, Owner: "g"}, []string{"t02", "t08"}},
			{ports.TokenFilter{Kind: domain.TokenAPI}, []string{"t01", "t04", "t05", "t07"}},
			{ports.TokenFilter{Owner: "alice"}, []string{"t01", "t03", "t04", "t06", "t07"}},
			{ports.TokenFilter{Kind: domain.TokenWorker, Owner: "alice"}, nil},
			{ports.TokenFilter{Owner: "../x"}, nil},
		} {
			for _, limit := range []int{1, 2, 3, 100} {
				got := walkPages(t, limit, func(p ports.PageRequest) (ports.Page[domain.Token], error) {
					f := tc.f
					f.PageRequest = p
					return b.Tokens.ListTokens(ctx, f)
				})
				require.Equal(t, tc.want, ids(got, tokenID), "%+v limit %d", tc.f, limit)
			}
		}
		for _, f := range []ports.TokenFilter{{}, {Kind: domain.TokenAPI, Owner: "alice"}} {
			checkBadCursors(t, func(p ports.PageRequest) (ports.Page[domain.Token], error) {
				f.PageRequest = p
				return b.Tokens.ListTokens(ctx, f)
			})
		}
		_, err := b.Tokens.ListTokens(ctx, ports.TokenFilter{Kind: "root"})
		require.ErrorIs(t, err, domain.ErrInvalid)
	})

	t.Run("Touch", func(t *testing.T) {
		b := withOwners(t)
		ctx := timeoutCtx(t)
		created, err := b.Tokens.CreateToken(ctx, newToken("t1", domain.TokenAPI, "alice"))
		require.NoError(t, err)
		require.NoError(t, b.Tokens.TouchToken(ctx, "t1", t0.Add(time.Minute)))
		read, err := b.Tokens.GetToken(ctx, "t1")
		require.NoError(t, err)
		require.Equal(t, t0.Add(time.Minute), read.LastUsedAt)
		require.Greater(t, read.Version, created.Version)
		created.LastUsedAt, created.Version = read.LastUsedAt, read.Version
		require.Equal(t, created, read, "Touch changes LastUsedAt only")

		require.NoError(t, b.Tokens.TouchToken(ctx, "t1", t0), "an earlier time is ignored")
		again, err := b.Tokens.GetToken(ctx, "t1")
		require.NoError(t, err)
		require.Equal(t, read, again, "and writes nothing")
		viaHash, err := b.Tokens.GetTokenByHash(ctx, read.Hash, t0)
		require.NoError(t, err)
		require.Equal(t, read, viaHash)

		require.ErrorIs(t, b.Tokens.TouchToken(ctx, "nope", t0), domain.ErrNotFound)
		require.NoError(t, b.Tokens.DeleteToken(ctx, "t1"))
		require.ErrorIs(t, b.Tokens.TouchToken(ctx, "t1", t0.Add(time.Hour)), domain.ErrNotFound,
			"touch does not bring a revoked token back")
		_, err = b.Tokens.GetTokenByHash(ctx, read.Hash, t0)
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("TouchConcurrent", func(t *testing.T) {
		b := withOwners(t)
		ctx := timeoutCtx(t)
		createTokens(t, b, newToken("t1", domain.TokenAPI, "alice"))
		const workers = 20
		errs := make(chan error, workers)
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range workers {
			wg.Go(func() {
				start.Wait()
				errs <- b.Tokens.TouchToken(ctx, "t1", t0.Add(time.Duration(i+1)*time.Second))
			})
		}
		start.Done()
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		read, err := b.Tokens.GetToken(ctx, "t1")
		require.NoError(t, err)
		require.Equal(t, t0.Add(workers*time.Second), read.LastUsedAt, "the latest touch wins whatever the order")
	})

	t.Run("PruneExpired", func(t *testing.T) {
		b := withOwners(t)
		ctx := timeoutCtx(t)
		var live []string
		for i := range 40 { // more than one delete Txn holds
			tok := newToken(fmt.Sprintf("s%02d", i), domain.TokenSession, "alice")
			tok.ExpiresAt = t0.Add(time.Duration(i+1) * time.Minute)
			createTokens(t, b, tok)
			if i >= 30 {
				live = append(live, tok.ID)
			}
		}
		api := newToken("a1", domain.TokenAPI, "alice")
		api.ExpiresAt = t0.Add(2 * time.Minute)
		createTokens(t, b, api, newToken("w1", domain.TokenWorker, "g"), newToken("a2", domain.TokenAPI, "bob"))
		live = append([]string{"a2"}, live...)
		live = append(live, "w1")

		now := t0.Add(30 * time.Minute) // s00..s29 and a1 have expired
		total := 0
		for i := 0; ; i++ {
			require.Less(t, i, 100, "PruneExpiredTokens does not converge")
			n, err := b.Tokens.PruneExpiredTokens(ctx, now)
			require.NoError(t, err)
			if n == 0 {
				break
			}
			total += n
		}
		require.Equal(t, 31, total)
		page, err := b.Tokens.ListTokens(ctx, ports.TokenFilter{})
		require.NoError(t, err)
		require.Equal(t, live, ids(page.Items, tokenID))
		_, err = b.Tokens.GetTokenByHash(ctx, api.Hash, t0)
		require.ErrorIs(t, err, domain.ErrNotFound, "a pruned token is gone for every reader")
		_, err = b.Tokens.GetToken(ctx, "s00")
		require.ErrorIs(t, err, domain.ErrNotFound)
		n, err := b.Tokens.PruneExpiredTokens(ctx, t0)
		require.NoError(t, err)
		require.Zero(t, n, "nothing has expired at t0")
	})
}
