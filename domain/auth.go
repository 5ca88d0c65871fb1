package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Authentication and authorisation errors. The HTTP layer maps them to 401
// and 403.
var (
	// ErrUnauthenticated means the caller could not be identified: no
	// credentials, a wrong password, an unknown, expired or revoked token,
	// or a disabled user. Its message never says which.
	ErrUnauthenticated = errors.New("pink: unauthenticated")
	// ErrForbidden means the caller is known but its role (or token kind)
	// does not allow the action.
	ErrForbidden = errors.New("pink: forbidden")
)

// Role is what a user may do.
type Role string

// Roles, from the most to the least powerful.
const (
	// RoleAdmin may do everything, including managing users and tokens.
	RoleAdmin Role = "admin"
	// RoleOperator may read everything and trigger, pause, resume and
	// cancel, but not create, edit or delete.
	RoleOperator Role = "operator"
	// RoleViewer may only read.
	RoleViewer Role = "viewer"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleOperator, RoleViewer:
		return true
	}
	return false
}

// Allows reports whether a user with role r may perform a. An unknown role
// or action allows nothing.
func (r Role) Allows(a Action) bool {
	if !a.Valid() {
		return false
	}
	switch r {
	case RoleAdmin:
		return true
	case RoleOperator:
		return a == ActionRead || a == ActionOperate
	case RoleViewer:
		return a == ActionRead
	}
	return false
}

// Action is a class of operations a role is allowed or refused. The API
// maps every route to one.
type Action string

// Actions.
const (
	// ActionRead is every read: lists, details, plans, the audit log.
	ActionRead Action = "read"
	// ActionOperate is running the system: trigger a job now, pause and
	// resume jobs, cancel runs.
	ActionOperate Action = "operate"
	// ActionWrite is changing definitions: create, edit and delete jobs
	// and groups, delete runs and pending fires.
	ActionWrite Action = "write"
	// ActionAdmin is managing users and tokens.
	ActionAdmin Action = "admin"
)

// Valid reports whether a is one of the actions.
func (a Action) Valid() bool {
	switch a {
	case ActionRead, ActionOperate, ActionWrite, ActionAdmin:
		return true
	}
	return false
}

// Password policy. Passwords are hashed with a memory-hard function (see
// docs/adr/0010-auth-model.md); the upper bound keeps hashing cheap to
// refuse and is far above what people type or managers generate.
const (
	// MinPasswordLen is the least number of characters (runes) of a
	// password.
	MinPasswordLen = 12
	// MaxPasswordLen is the most bytes of a password.
	MaxPasswordLen = 128
	// MaxPasswordHashLen bounds the stored, encoded password hash.
	MaxPasswordHashLen = 256
)

// ValidatePassword checks a new password against the policy: valid UTF-8,
// MinPasswordLen characters or more, MaxPasswordLen bytes or fewer, no
// control characters. Spaces and any printable character are allowed (no
// composition rules, as NIST SP 800-63B advises). The error never contains
// the password.
func ValidatePassword(pw string) error {
	if !utf8.ValidString(pw) {
		return invalid("password", "must be valid UTF-8")
	}
	if len(pw) > MaxPasswordLen {
		return invalid("password", "must be at most %d bytes, got %d", MaxPasswordLen, len(pw))
	}
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen {
		return invalid("password", "must be at least %d characters, got %d", MinPasswordLen, n)
	}
	for _, r := range pw {
		if unicode.IsControl(r) {
			return invalid("password", "must not contain control characters")
		}
	}
	return nil
}

// Reserved actor names: no user may be called so, so that an audit entry's
// actor is never ambiguous.
const (
	// ActorSystem is the actor of what Pink does by itself (bootstrap,
	// retention).
	ActorSystem = "system"
	// ActorAnonymous is the actor of a request that was not authenticated
	// (a failed login, for example).
	ActorAnonymous = "anonymous"
	// actorTokenPrefix starts the actor of a worker token: "token:<id>".
	actorTokenPrefix = "token:"
)

// ValidateUserName checks a user name: a valid name (ValidateName) that is
// not one of the reserved actor names.
func ValidateUserName(field, name string) error {
	if err := ValidateName(field, name); err != nil {
		return err
	}
	if name == ActorSystem || name == ActorAnonymous {
		return invalid(field, "%q is reserved", name)
	}
	return nil
}

// User is a person (or a robot account) who logs in to the console or owns
// API tokens.
type User struct {
	// Name identifies the user (ValidateUserName); it cannot change.
	Name string `json:"name"`
	Role Role   `json:"role"`
	// PasswordHash is the encoded hash of the password (algorithm,
	// parameters, salt and digest in one string). It is stored, never
	// shown: API responses must leave it out.
	PasswordHash string `json:"password_hash"`
	// Disabled users cannot log in and their tokens do not authenticate.
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version is set by the store and increases on every change.
	Version int64 `json:"version"`
}

// Validate checks every field of the user.
func (u *User) Validate() error {
	if err := ValidateUserName("name", u.Name); err != nil {
		return err
	}
	if !u.Role.Valid() {
		return invalid("role", "must be one of admin, operator, viewer; got %q", u.Role)
	}
	if u.PasswordHash == "" {
		return invalid("password_hash", "must not be empty")
	}
	if len(u.PasswordHash) > MaxPasswordHashLen {
		return invalid("password_hash", "must be at most %d bytes, got %d", MaxPasswordHashLen, len(u.PasswordHash))
	}
	for i := 0; i < len(u.PasswordHash); i++ {
		if c := u.PasswordHash[i]; c <= ' ' || c > '~' {
			return invalid("password_hash", "must be printable ASCII without spaces")
		}
	}
	return nil
}

// ActiveAdmin reports whether u is an enabled admin. Stores refuse a change
// that would leave no active admin when there was one.
func (u *User) ActiveAdmin() bool { return u.Role == RoleAdmin && !u.Disabled }

// TokenKind says what a token authenticates.
type TokenKind string

// Token kinds.
const (
	// TokenAPI is a user's bearer token for the REST API; it acts with its
	// owner's (current) role.
	TokenAPI TokenKind = "api"
	// TokenWorker authenticates workers of one group on the HTTP worker
	// API; its owner is the group.
	TokenWorker TokenKind = "worker"
	// TokenSession is a console login; it always expires.
	TokenSession TokenKind = "session"
)

// Valid reports whether k is one of the token kinds.
func (k TokenKind) Valid() bool {
	switch k {
	case TokenAPI, TokenWorker, TokenSession:
		return true
	}
	return false
}

// Token bounds.
const (
	// MaxTokenNameLen bounds a token's label.
	MaxTokenNameLen = 128
	// TokenHashLen is the length of Token.Hash: hex of a SHA-256.
	TokenHashLen = 2 * sha256.Size
	// MaxSessionLifetime bounds ExpiresAt-CreatedAt of a session.
	MaxSessionLifetime = 30 * 24 * time.Hour
)

// Token is a credential: the store keeps the hash of its secret, never the
// secret. Secrets are long random strings, so a fast hash is enough (no
// dictionary to attack); passwords are another matter (see User).
type Token struct {
	// ID identifies the token (ValidateName); it is safe to show and log.
	ID   string    `json:"id"`
	Kind TokenKind `json:"kind"`
	// Owner is the user name for api and session tokens, the group name
	// for worker tokens.
	Owner string `json:"owner"`
	// Name is a label for people ("ci deploy", "worker host-7"); required
	// for api and worker tokens.
	Name string `json:"name,omitempty"`
	// Hash is HashTokenSecret of the secret: 64 lower-case hex digits.
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the token stops working; zero means never (api and
	// worker tokens only: sessions always expire).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// LastUsedAt is updated, coarsely, when the token authenticates.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// Version is set by the store and increases on every change.
	Version int64 `json:"version"`
}

// HashTokenSecret returns the value of Token.Hash for a secret: the hex
// encoding of its SHA-256.
func HashTokenSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ValidTokenHash reports whether h looks like HashTokenSecret's output.
func ValidTokenHash(h string) bool {
	if len(h) != TokenHashLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Expired reports whether the token has expired at now (ExpiresAt is the
// first instant it no longer works).
func (t *Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// Validate checks every field of the token.
func (t *Token) Validate() error {
	if err := ValidateName("id", t.ID); err != nil {
		return err
	}
	if !t.Kind.Valid() {
		return invalid("kind", "must be one of api, worker, session; got %q", t.Kind)
	}
	if t.Kind == TokenWorker {
		if err := ValidateName("owner", t.Owner); err != nil {
			return err
		}
	} else if err := ValidateUserName("owner", t.Owner); err != nil {
		return err
	}
	if err := validateText("name", t.Name, MaxTokenNameLen, t.Kind != TokenSession); err != nil {
		return err
	}
	if !ValidTokenHash(t.Hash) {
		return invalid("hash", "must be %d lower-case hex digits", TokenHashLen)
	}
	if t.CreatedAt.IsZero() {
		return invalid("created_at", "must be set")
	}
	if t.ExpiresAt.IsZero() {
		if t.Kind == TokenSession {
			return invalid("expires_at", "a session must expire")
		}
		return nil
	}
	if !t.ExpiresAt.After(t.CreatedAt) {
		return invalid("expires_at", "must be after created_at")
	}
	if t.Kind == TokenSession && t.ExpiresAt.Sub(t.CreatedAt) > MaxSessionLifetime {
		return invalid("expires_at", "a session may last at most %s", MaxSessionLifetime)
	}
	return nil
}

// AuditResult is the outcome of an audited action.
type AuditResult string

// Audit results.
const (
	AuditOK     AuditResult = "ok"
	AuditDenied AuditResult = "denied" // refused: unauthenticated or forbidden
	AuditError  AuditResult = "error"  // allowed, but failed
)

// Valid reports whether r is one of the results.
func (r AuditResult) Valid() bool {
	switch r {
	case AuditOK, AuditDenied, AuditError:
		return true
	}
	return false
}

// Well-known audit actions: "<resource>.<verb>". Others may be used if they
// pass ValidateAuditAction; keep to these where they fit so that filters by
// prefix ("job.") work.
const (
	AuditUserLogin    = "user.login"
	AuditUserLogout   = "user.logout"
	AuditUserCreate   = "user.create"
	AuditUserUpdate   = "user.update" // role, password, enabled
	AuditUserDelete   = "user.delete"
	AuditTokenCreate  = "token.create"
	AuditTokenRevoke  = "token.revoke"
	AuditGroupCreate  = "group.create"
	AuditGroupUpdate  = "group.update"
	AuditGroupDelete  = "group.delete"
	AuditJobCreate    = "job.create"
	AuditJobUpdate    = "job.update"
	AuditJobDelete    = "job.delete"
	AuditJobPause     = "job.pause"
	AuditJobResume    = "job.resume"
	AuditJobTrigger   = "job.trigger"
	AuditRunCancel    = "run.cancel"
	AuditRunDelete    = "run.delete"
	AuditFireDelete   = "fire.delete"
	AuditAuthSettings = "auth.settings"
)

// Audit entry bounds.
const (
	MaxAuditActionLen = 64
	MaxAuditTargetLen = 256
	MaxAuditDetailLen = 1024
	// MaxAuditNonceLen bounds the random part of an audit entry ID.
	MaxAuditNonceLen = 32
)

// AuditEntry records who did what to what, and how it ended. Entries are
// append-only; retention removes the oldest.
type AuditEntry struct {
	// ID is AuditID(At, nonce): it starts with At to the millisecond, so
	// IDs sort by time.
	ID string    `json:"id"`
	At time.Time `json:"at"`
	// Actor is a user name, "token:<id>" for a worker token, ActorSystem
	// or ActorAnonymous.
	Actor string `json:"actor"`
	// TokenID is the token the actor authenticated with, if any.
	TokenID string `json:"token_id,omitempty"`
	// Action is "<resource>.<verb>", e.g. "job.trigger" (see the Audit*
	// constants).
	Action string `json:"action"`
	// Target names the object, e.g. "job/nightly", "user/alice"; may be
	// empty.
	Target string `json:"target,omitempty"`
	// Detail is free text for people (bounded; no secrets).
	Detail string      `json:"detail,omitempty"`
	Result AuditResult `json:"result"`
}

// AuditID returns the ID of an audit entry made at at: the UTC time to the
// millisecond in the fixed-width layout of fire IDs, "~", and nonce (a
// short random name that tells apart entries of one millisecond).
func AuditID(at time.Time, nonce string) string {
	return AuditIDPrefix(at) + idSep + nonce
}

// AuditIDPrefix returns the time part of the IDs of entries made at t. An
// entry was made before t's millisecond exactly if its ID sorts before
// AuditIDPrefix(t).
func AuditIDPrefix(t time.Time) string { return t.UTC().Format(idTimeLayout) }

// TokenActor returns the audit actor of a worker token: "token:<id>".
func TokenActor(tokenID string) string { return actorTokenPrefix + tokenID }

// ValidateAuditActor checks an audit actor: a user name, "token:<id>",
// ActorSystem or ActorAnonymous.
func ValidateAuditActor(field, actor string) error {
	if actor == ActorSystem || actor == ActorAnonymous {
		return nil
	}
	if id, ok := strings.CutPrefix(actor, actorTokenPrefix); ok {
		return ValidateName(field, id)
	}
	return ValidateUserName(field, actor)
}

// ValidateAuditAction checks an audit action: dot-separated segments of
// [a-z][a-z0-9_]*, at least two, at most MaxAuditActionLen bytes.
func ValidateAuditAction(field, action string) error {
	if action == "" || len(action) > MaxAuditActionLen {
		return invalid(field, "must be 1-%d characters", MaxAuditActionLen)
	}
	segs := strings.Split(action, ".")
	if len(segs) < 2 {
		return invalid(field, "%q must look like resource.verb", action)
	}
	for _, s := range segs {
		if s == "" || s[0] < 'a' || s[0] > 'z' {
			return invalid(field, "%q must look like resource.verb (lower case)", action)
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return invalid(field, "%q has bad character %q", action, c)
			}
		}
	}
	return nil
}

// Validate checks every field of the entry, including that its ID carries
// its time.
func (e *AuditEntry) Validate() error {
	if e.At.IsZero() {
		return invalid("at", "must be set")
	}
	ts, nonce, ok := strings.Cut(e.ID, idSep)
	if !ok || ts != AuditIDPrefix(e.At) {
		return invalid("id", "must be AuditID(at, nonce) with at %s", AuditIDPrefix(e.At))
	}
	if len(nonce) > MaxAuditNonceLen {
		return invalid("id", "nonce must be at most %d characters", MaxAuditNonceLen)
	}
	if err := ValidateName("id", nonce); err != nil {
		return err
	}
	if err := ValidateAuditActor("actor", e.Actor); err != nil {
		return err
	}
	if e.TokenID != "" {
		if err := ValidateName("token_id", e.TokenID); err != nil {
			return err
		}
	}
	if err := ValidateAuditAction("action", e.Action); err != nil {
		return err
	}
	if err := validateText("target", e.Target, MaxAuditTargetLen, false); err != nil {
		return err
	}
	if err := validateText("detail", e.Detail, MaxAuditDetailLen, false); err != nil {
		return err
	}
	if !e.Result.Valid() {
		return invalid("result", "must be one of ok, denied, error; got %q", e.Result)
	}
	return nil
}
