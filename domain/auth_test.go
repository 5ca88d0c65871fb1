package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

func TestRoleAllows(t *testing.T) {
	actions := []domain.Action{domain.ActionRead, domain.ActionOperate, domain.ActionWrite, domain.ActionAdmin}
	want := map[domain.Role]string{
		domain.RoleAdmin:    "read operate write admin",
		domain.RoleOperator: "read operate",
		domain.RoleViewer:   "read",
		"root":              "",
		"":                  "",
	}
	for role, allowed := range want {
		var got []string
		for _, a := range actions {
			if role.Allows(a) {
				got = append(got, string(a))
			}
		}
		require.Equal(t, allowed, strings.Join(got, " "), "role %q", role)
		require.False(t, role.Allows("launch"), "unknown actions are never allowed")
		require.Equal(t, allowed != "", role.Valid(), "role %q", role)
	}
}

func TestValidatePassword(t *testing.T) {
	for _, pw := range []string{
		"twelve chars",
		"spaces are fine in a passphrase",
		strings.Repeat("é", 12),                    // 12 characters, 24 bytes
		strings.Repeat("x", domain.MaxPasswordLen), // 128 bytes
	} {
		require.NoError(t, domain.ValidatePassword(pw), "%q", pw)
	}
	for _, pw := range []string{
		"", "eleven char",
		strings.Repeat("é", 11),
		strings.Repeat("x", domain.MaxPasswordLen+1),
		"nul byte\x00 inside",
		"a tab\tis a control character",
		"bad utf-8 \xff\xfe here",
	} {
		err := domain.ValidatePassword(pw)
		require.ErrorIs(t, err, domain.ErrInvalid, "%q", pw)
		require.Equal(t, "password", domain.FieldOf(err))
		if pw != "" {
			require.NotContains(t, err.Error(), pw, "the error never repeats the password")
		}
	}
}

func validUser() domain.User {
	return domain.User{Name: "alice", Role: domain.RoleOperator, PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA"}
}

func TestUserValidate(t *testing.T) {
	u := validUser()
	require.NoError(t, u.Validate())
	for _, tc := range []struct {
		field  string
		change func(*domain.User)
	}{
		{"name", func(u *domain.User) { u.Name = "Alice" }},
		{"name", func(u *domain.User) { u.Name = domain.ActorSystem }},
		{"name", func(u *domain.User) { u.Name = domain.ActorAnonymous }},
		{"role", func(u *domain.User) { u.Role = "root" }},
		{"password_hash", func(u *domain.User) { u.PasswordHash = "" }},
		{"password_hash", func(u *domain.User) { u.PasswordHash = strings.Repeat("x", domain.MaxPasswordHashLen+1) }},
		{"password_hash", func(u *domain.User) { u.PasswordHash = "has space" }},
	} {
		u := validUser()
		tc.change(&u)
		err := u.Validate()
		require.ErrorIs(t, err, domain.ErrInvalid, "%s: %+v", tc.field, u)
		require.Equal(t, tc.field, domain.FieldOf(err))
	}
}

func TestUserActiveAdmin(t *testing.T) {
	u := validUser()
	require.False(t, u.ActiveAdmin())
	u.Role = domain.RoleAdmin
	require.True(t, u.ActiveAdmin())
	u.Disabled = true
	require.False(t, u.ActiveAdmin())
}

var tt0 = time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC)

func validToken(kind domain.TokenKind) domain.Token {
	t := domain.Token{ID: "t1", Kind: kind, Owner: "alice", Name: "ci", Hash: domain.HashTokenSecret("s"), CreatedAt: tt0}
	if kind == domain.TokenSession {
		t.ExpiresAt = tt0.Add(time.Hour)
	}
	return t
}

func TestTokenValidate(t *testing.T) {
	for _, k := range []domain.TokenKind{domain.TokenAPI, domain.TokenWorker, domain.TokenSession} {
		tok := validToken(k)
		require.NoError(t, tok.Validate(), k)
	}
	session := validToken(domain.TokenSession)
	session.Name = ""
	require.NoError(t, session.Validate(), "a session needs no label")

	for _, tc := range []struct {
		field  string
		kind   domain.TokenKind
		change func(*domain.Token)
	}{
		{"id", domain.TokenAPI, func(t *domain.Token) { t.ID = "a/b" }},
		{"kind", domain.TokenAPI, func(t *domain.Token) { t.Kind = "root" }},
		{"owner", domain.TokenAPI, func(t *domain.Token) { t.Owner = "" }},
		{"owner", domain.TokenAPI, func(t *domain.Token) { t.Owner = domain.ActorSystem }},
		{"name", domain.TokenAPI, func(t *domain.Token) { t.Name = "" }},
		{"name", domain.TokenWorker, func(t *domain.Token) { t.Name = strings.Repeat("n", domain.MaxTokenNameLen+1) }},
		{"hash", domain.TokenAPI, func(t *domain.Token) { t.Hash = strings.ToUpper(t.Hash) }},
		{"hash", domain.TokenAPI, func(t *domain.Token) { t.Hash = t.Hash[1:] }},
		{"created_at", domain.TokenAPI, func(t *domain.Token) { t.CreatedAt = time.Time{} }},
		{"expires_at", domain.TokenSession, func(t *domain.Token) { t.ExpiresAt = time.Time{} }},
		{"expires_at", domain.TokenAPI, func(t *domain.Token) { t.ExpiresAt = t.CreatedAt }},
		{"expires_at", domain.TokenSession, func(t *domain.Token) {
			t.ExpiresAt = t.CreatedAt.Add(domain.MaxSessionLifetime + time.Second)
		}},
	} {
		tok := validToken(tc.kind)
		tc.change(&tok)
		err := tok.Validate()
		require.ErrorIs(t, err, domain.ErrInvalid, tc.field)
		require.Equal(t, tc.field, domain.FieldOf(err))
	}
	worker := validToken(domain.TokenWorker)
	worker.Owner = domain.ActorSystem // a group may be called so; a user may not
	require.NoError(t, worker.Validate())
}

func TestTokenExpired(t *testing.T) {
	tok := validToken(domain.TokenSession)
	require.False(t, tok.Expired(tok.ExpiresAt.Add(-time.Nanosecond)))
	require.True(t, tok.Expired(tok.ExpiresAt), "ExpiresAt is the first instant it no longer works")
	forever := validToken(domain.TokenAPI)
	require.False(t, forever.Expired(tt0.AddDate(1000, 0, 0)))
}

func TestHashTokenSecret(t *testing.T) {
	// FIPS 180-2 test vector.
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", domain.HashTokenSecret("abc"))
	require.True(t, domain.ValidTokenHash(domain.HashTokenSecret("x")))
	require.False(t, domain.ValidTokenHash("abc"))
}

func validEntry() domain.AuditEntry {
	at := tt0.Add(123456789 * time.Nanosecond)
	return domain.AuditEntry{ID: domain.AuditID(at, "k3x9"), At: at, Actor: "alice", Action: domain.AuditJobTrigger,
		Target: "job/nightly", Detail: "manual\nrun", Result: domain.AuditOK}
}

func TestAuditID(t *testing.T) {
	e := validEntry()
	require.Equal(t, "20261126T164300.123Z~k3x9", e.ID, "time to the millisecond, then the nonce")
	require.Less(t, domain.AuditID(tt0, "zzzz"), domain.AuditID(tt0.Add(time.Millisecond), "0000"), "IDs sort by time")
	require.Less(t, domain.AuditID(tt0, "zzzz"), domain.AuditIDPrefix(tt0.Add(time.Millisecond)))
	require.GreaterOrEqual(t, domain.AuditID(tt0, "0000"), domain.AuditIDPrefix(tt0))
}

func TestAuditEntryValidate(t *testing.T) {
	e := validEntry()
	require.NoError(t, e.Validate())
	for _, actor := range []string{domain.ActorSystem, domain.ActorAnonymous, domain.TokenActor("t1"), "bob"} {
		e := validEntry()
		e.Actor = actor
		require.NoError(t, e.Validate(), actor)
	}
	for _, tc := range []struct {
		field  string
		change func(*domain.AuditEntry)
	}{
		{"at", func(e *domain.AuditEntry) { e.At = time.Time{} }},
		{"id", func(e *domain.AuditEntry) { e.ID = domain.AuditID(e.At.Add(time.Millisecond), "k3x9") }},
		{"id", func(e *domain.AuditEntry) { e.ID = "k3x9" }},
		{"id", func(e *domain.AuditEntry) { e.ID = domain.AuditID(e.At, "") }},
		{"id", func(e *domain.AuditEntry) {
			e.ID = domain.AuditID(e.At, strings.Repeat("n", domain.MaxAuditNonceLen+1))
		}},
		{"actor", func(e *domain.AuditEntry) { e.Actor = "" }},
		{"actor", func(e *domain.AuditEntry) { e.Actor = "token:" }},
		{"actor", func(e *domain.AuditEntry) { e.Actor = "Bob" }},
		{"token_id", func(e *domain.AuditEntry) { e.TokenID = "a b" }},
		{"action", func(e *domain.AuditEntry) { e.Action = "trigger" }},
		{"action", func(e *domain.AuditEntry) { e.Action = "job..trigger" }},
		{"action", func(e *domain.AuditEntry) { e.Action = "Job.trigger" }},
		{"action", func(e *domain.AuditEntry) { e.Action = "job.trig-ger" }},
		{"action", func(e *domain.AuditEntry) { e.Action = "job." + strings.Repeat("x", domain.MaxAuditActionLen) }},
		{"target", func(e *domain.AuditEntry) { e.Target = strings.Repeat("t", domain.MaxAuditTargetLen+1) }},
		{"detail", func(e *domain.AuditEntry) { e.Detail = strings.Repeat("d", domain.MaxAuditDetailLen+1) }},
		{"detail", func(e *domain.AuditEntry) { e.Detail = "bell\a" }},
		{"result", func(e *domain.AuditEntry) { e.Result = "" }},
	} {
		e := validEntry()
		tc.change(&e)
		err := e.Validate()
		require.ErrorIs(t, err, domain.ErrInvalid, "%s: %+v", tc.field, e)
		require.Equal(t, tc.field, domain.FieldOf(err))
	}
}

func TestWellKnownAuditActionsAreValid(t *testing.T) {
	for _, a := range []string{
		domain.AuditUserLogin, domain.AuditUserLogout, domain.AuditUserCreate, domain.AuditUserUpdate,
		domain.AuditUserDelete, domain.AuditTokenCreate, domain.AuditTokenRevoke, domain.AuditGroupCreate,
		domain.AuditGroupUpdate, domain.AuditGroupDelete, domain.AuditJobCreate, domain.AuditJobUpdate,
		domain.AuditJobDelete, domain.AuditJobPause, domain.AuditJobResume, domain.AuditJobTrigger,
		domain.AuditRunCancel, domain.AuditRunDelete, domain.AuditFireDelete, domain.AuditAuthSettings,
	} {
		require.NoError(t, domain.ValidateAuditAction("action", a), a)
	}
}
