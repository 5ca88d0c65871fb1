package worker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Defaults of Config.
const (
	DefaultLeaseTTL     = 5 * time.Second
	DefaultDrainTimeout = 30 * time.Second
)

// FlushInterval is the most often a running run's new output is written to
// the store.
const FlushInterval = time.Second

// Internal bounds.
const (
	// shutdownGrace is how long Run waits, after the drain timeout
	// cancelled the running handlers, for them to return; and then how
	// long it keeps trying to write the results of their runs.
	shutdownGrace = 5 * time.Second
	// callTimeout bounds one store call of the worker's loop (register,
	// list, close), which must not hang the loop.
	callTimeout = 10 * time.Second
	// idSuffixBytes is the random part of a generated ID (12 hex digits).
	idSuffixBytes = 6
	// maxIDPrefix keeps a generated ID within domain.MaxNameLen.
	maxIDPrefix = domain.MaxNameLen - 1 - 2*idSuffixBytes
	// protocolSDK is domain.Worker.Protocol for workers of this package.
	protocolSDK = "etcd"
)

// Config configures a Worker. Group, Registry and Runs are required; every
// other field has a default.
type Config struct {
	// Group is the job group the worker serves.
	Group string
	// ID identifies the worker; it must be a valid name (see
	// domain.ValidateName) and unique while the worker is registered. The
	// default is generated from the host name and a random suffix, so two
	// workers on one host get two IDs. Set it only if you guarantee
	// uniqueness yourself.
	ID string
	// Hostname is advertised in the registration; default os.Hostname().
	Hostname string
	// Labels are advertised in the registration; jobs select workers by
	// them.
	Labels map[string]string
	// Capacity is the most runs the worker executes at once; default
	// domain.DefaultCapacity.
	Capacity int
	// LeaseTTL is the registration's lease TTL, at least a second; default
	// DefaultLeaseTTL. The leader fails over the runs of a worker whose
	// lease expired.
	LeaseTTL time.Duration
	// DrainTimeout is how long a graceful shutdown waits for running
	// handlers before cancelling them; default DefaultDrainTimeout.
	DrainTimeout time.Duration
	// MaxOutput bounds the output kept per run, in bytes (the tail is
	// kept); default domain.DefaultMaxOutput.
	MaxOutput int
	// Registry is where the worker registers.
	Registry ports.WorkerRegistry
	// Runs is where the worker receives runs and reports results.
	Runs ports.RunStore
	// Clock dates records and paces output flushes and retries; default
	// the system clock.
	Clock ports.Clock
	// Logger receives the worker's log; default slog.Default().
	Logger *slog.Logger
}

// check validates cfg and fills in the defaults.
func (c *Config) check() error {
	if c.Registry == nil || c.Runs == nil {
		return fmt.Errorf("worker: Registry and Runs are required: %w", domain.ErrInvalid)
	}
	if err := domain.ValidateName("group", c.Group); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &domain.ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch {
	case c.Capacity == 0:
		c.Capacity = domain.DefaultCapacity
	case c.Capacity < 0 || c.Capacity > domain.MaxCapacity:
		bad("capacity", "must be between 1 and %d, got %d", domain.MaxCapacity, c.Capacity)
	}
	switch {
	case c.LeaseTTL == 0:
		c.LeaseTTL = DefaultLeaseTTL
	case c.LeaseTTL < time.Second:
		bad("lease_ttl", "must be at least 1s, got %s", c.LeaseTTL)
	}
	switch {
	case c.DrainTimeout == 0:
		c.DrainTimeout = DefaultDrainTimeout
	case c.DrainTimeout < 0:
		bad("drain_timeout", "must not be negative, got %s", c.DrainTimeout)
	}
	switch {
	case c.MaxOutput == 0:
		c.MaxOutput = domain.DefaultMaxOutput
	case c.MaxOutput < 0:
		bad("max_output", "must not be negative, got %d", c.MaxOutput)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname() // advisory: an empty host name is allowed
	}
	if c.ID == "" {
		id, err := generateID(c.Hostname)
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		c.ID = id
	}
	c.Labels = maps.Clone(c.Labels)
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	rec := domain.Worker{ID: c.ID, Group: c.Group, Hostname: c.Hostname, Labels: c.Labels, Capacity: c.Capacity}
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

// generateID returns a new worker ID: the host name made into a valid name
// (lower case, other characters replaced by '-', at most 50 characters;
// "worker" if nothing is left), a '-' and 12 random hex digits. It is what
// New uses when Config.ID is empty.
func generateID(hostname string) (string, error) {
	var b strings.Builder
	for _, c := range strings.ToLower(hostname) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case b.Len() == 0: // a name starts with a letter or digit
		case c == '-' || c == '_' || c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= maxIDPrefix {
			break
		}
	}
	prefix := strings.TrimRight(b.String(), "-_.")
	if prefix == "" {
		prefix = "worker"
	}
	suffix := make([]byte, idSuffixBytes)
	if _, err := rand.Read(suffix); err != nil {
		return "", fmt.Errorf("generate worker ID: %w", err)
	}
	return prefix + "-" + hex.EncodeToString(suffix), nil
}

// systemClock is the default Clock: the real one.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) ports.Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time        { return s.t.C }
func (s systemTimer) Stop() bool                 { return s.t.Stop() }
func (s systemTimer) Reset(d time.Duration) bool { return s.t.Reset(d) }
