package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Defaults of Config.
const (
	DefaultSessionTTL    = 12 * time.Hour
	DefaultTouchInterval = time.Minute
	DefaultAuditKeep     = 100_000
	DefaultAuditMaxAge   = 90 * 24 * time.Hour
	// BootstrapAdmin is the name of the user Bootstrap creates.
	BootstrapAdmin = "admin"
)

// Config wires a Service. Users, Tokens, Audit, Groups and Clock are
// required.
type Config struct {
	Users  ports.UserStore
	Tokens ports.TokenStore
	Audit  ports.AuditLog
	// Groups is read to check that a worker token's group exists.
	Groups ports.GroupStore
	Clock  ports.Clock
	// SessionTTL is how long a login lasts; default DefaultSessionTTL, at
	// most domain.MaxSessionLifetime.
	SessionTTL time.Duration
	// MaxAPITokenTTL, if set, bounds the lifetime of API tokens: every
	// token must then expire within it. 0 allows tokens that never expire.
	MaxAPITokenTTL time.Duration
	// Password sets the parameters of new password hashes; zero means
	// DefaultPasswordParams. Tests use tiny ones.
	Password PasswordParams
	// MaxConcurrentHashes bounds the password hashes computed at once;
	// default min(GOMAXPROCS, 4).
	MaxConcurrentHashes int
	// TouchInterval is how stale a token's LastUsedAt may get before
	// Authenticate writes it again; default DefaultTouchInterval.
	TouchInterval time.Duration
	// AuditKeep and AuditMaxAge are the audit log retention Prune applies;
	// defaults DefaultAuditKeep and DefaultAuditMaxAge. Negative disables
	// that bound.
	AuditKeep   int
	AuditMaxAge time.Duration
	// Logger receives RunMaintenance's failures; nil means slog.Default().
	Logger *slog.Logger
}

// Service holds the auth use cases. It is safe for concurrent use.
type Service struct {
	cfg    Config
	hasher *hasher
	// dummyHash is the hash Login verifies against when the user does not
	// exist, so that the answer takes as long as for a wrong password.
	dummyHash func() string
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Users == nil || cfg.Tokens == nil || cfg.Audit == nil || cfg.Groups == nil || cfg.Clock == nil {
		return nil, errors.New("auth: Users, Tokens, Audit, Groups and Clock are required")
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.SessionTTL < time.Second || cfg.SessionTTL > domain.MaxSessionLifetime {
		return nil, fmt.Errorf("auth: SessionTTL must be between 1s and %s, got %s", domain.MaxSessionLifetime, cfg.SessionTTL)
	}
	if cfg.MaxAPITokenTTL < 0 {
		return nil, fmt.Errorf("auth: MaxAPITokenTTL must not be negative")
	}
	if cfg.Password == (PasswordParams{}) {
		cfg.Password = DefaultPasswordParams
	}
	if err := cfg.Password.validate(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = min(runtime.GOMAXPROCS(0), 4)
	}
	if cfg.TouchInterval <= 0 {
		cfg.TouchInterval = DefaultTouchInterval
	}
	if cfg.AuditKeep == 0 {
		cfg.AuditKeep = DefaultAuditKeep
	}
	if cfg.AuditMaxAge == 0 {
		cfg.AuditMaxAge = DefaultAuditMaxAge
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{cfg: cfg, hasher: newHasher(cfg.Password, cfg.MaxConcurrentHashes)}
	s.dummyHash = sync.OnceValue(func() string { return hashPassword(RandomPassword(), cfg.Password) })
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC() }

// Bootstrap creates the first user, BootstrapAdmin with role admin, if
// there are no users at all; otherwise it does nothing and returns false.
// The password is adminPassword if it is not empty (it must pass
// domain.ValidatePassword), else a RandomPassword, which is returned — the
// caller logs it once, as the only way to learn it. A given password is not
// returned. If another node bootstraps at the same time, one of them
// creates the user and the other returns false.
func (s *Service) Bootstrap(ctx context.Context, adminPassword string) (created bool, password string, err error) {
	n, err := s.cfg.Users.CountUsers(ctx)
	if err != nil || n > 0 {
		return false, "", err
	}
	pw, generated := adminPassword, adminPassword == ""
	if generated {
		pw = RandomPassword()
	}
	if _, err := s.CreateUser(ctx, BootstrapAdmin, domain.RoleAdmin, pw); err != nil {
		if errors.Is(err, domain.ErrAlreadyExists) {
			return false, "", nil
		}
		return false, "", fmt.Errorf("bootstrap: %w", err)
	}
	detail := "first start: admin created with the configured password"
	if generated {
		detail = "first start: admin created with a generated password"
		password = pw
	}
	if err := s.Audit(ctx, System, domain.AuditUserCreate, "user/"+BootstrapAdmin, detail, domain.AuditOK); err != nil {
		return true, password, fmt.Errorf("bootstrap: user created, audit failed: %w", err)
	}
	return true, password, nil
}

// unauthenticated is the one error every failed authentication returns, so
// that its message tells an attacker nothing.
func unauthenticated(op string) error {
	return fmt.Errorf("%s: invalid credentials: %w", op, domain.ErrUnauthenticated)
}
