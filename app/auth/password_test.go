package auth_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/auth"
	"github.com/pink-scheduler/pink/domain"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	h := auth.HashPassword(userPW, fastParams)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$"), h)
	ok, p, err := auth.VerifyPassword(h, userPW)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, fastParams, p)
	ok, _, err = auth.VerifyPassword(h, userPW+" ")
	require.NoError(t, err)
	require.False(t, ok)
	require.NotEqual(t, h, auth.HashPassword(userPW, fastParams), "every hash has its own salt")
	u := domain.User{Name: "alice", Role: domain.RoleViewer, PasswordHash: h}
	require.NoError(t, u.Validate(), "the encoded hash fits the domain's bounds")

	long := strings.Repeat("ä", domain.MaxPasswordLen/2) // 128 bytes: no 72-byte cut as with bcrypt
	h = auth.HashPassword(long, fastParams)
	ok, _, err = auth.VerifyPassword(h, long[:len(long)-2]+"a")
	require.NoError(t, err)
	require.False(t, ok, "every byte counts")
}

func TestVerifyRefusesForeignOrTamperedHashes(t *testing.T) {
	good := auth.HashPassword(userPW, fastParams)
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"bcrypt":         "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":        strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":    strings.Replace(good, "v=19", "v=16", 1),
		"not canonical":  strings.Replace(good, "m=64", "m=064", 1),
		"huge memory":    strings.Replace(good, "m=64", "m=4194304", 1),
		"many passes":    strings.Replace(good, "t=1", "t=1000", 1),
		"short salt":     strings.Join(append(parts[:4:4], "c2FsdA", parts[5]), "$"),
		"bad base64":     strings.Join(append(parts[:5:5], "!!!"), "$"),
		"too many parts": good + "$x",
		"empty":          "",
	} {
		ok, _, err := auth.VerifyPassword(h, userPW)
		require.Error(t, err, name)
		require.False(t, ok, name)
	}
}

func TestRandomPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		pw := auth.RandomPassword()
		require.Len(t, pw, auth.GeneratedPasswordLen)
		require.NoError(t, domain.ValidatePassword(pw))
		for _, c := range pw {
			require.True(t, c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9', pw)
		}
		require.False(t, seen[pw])
		seen[pw] = true
	}
}

func TestSecretKind(t *testing.T) {
	for _, k := range []domain.TokenKind{domain.TokenAPI, domain.TokenWorker, domain.TokenSession} {
		s := auth.NewSecret(k)
		got, ok := auth.SecretKind(s)
		require.True(t, ok, s)
		require.Equal(t, k, got)
		require.NotEqual(t, s, auth.NewSecret(k))
	}
	body := strings.Repeat("a", 52)
	for _, s := range []string{"", "pink_api_", "pink_api_" + body[:51], "pink_api_" + body + "a", "pink_api_" + strings.Repeat("1", 52),
		"pink_API_" + body, "pink_other_" + body, "pinkapi_" + body, "ghp_" + body, "pink_api" + body} {
		_, ok := auth.SecretKind(s)
		require.False(t, ok, s)
	}
}
