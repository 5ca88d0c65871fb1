package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Bounds and defaults.
const (
	// DefaultTTL is a session's TTL when the worker asks for none.
	DefaultTTL = 5 * time.Second
	// MinTTL and MaxTTL bound the TTL a worker may ask for. Below 2 s a
	// lease is shorter than etcd's election timing makes reliable; above a
	// minute a dead worker's runs wait too long to be failed over.
	MinTTL = 2 * time.Second
	MaxTTL = time.Minute
	// MaxWait bounds a long poll.
	MaxWait = 30 * time.Second
	// DefaultRedeliverAfter is Config.RedeliverAfter's default.
	DefaultRedeliverAfter = 10 * time.Second
	// DefaultMaxSessions is Config.MaxSessions's default.
	DefaultMaxSessions = 10_000
	// Protocol is domain.Worker.Protocol for the workers of a Gateway.
	Protocol = "http"
)

// Internal bounds.
const (
	// callTimeout bounds one store call of a session's goroutine.
	callTimeout = 10 * time.Second
	// lostTTLs is how many TTLs an attempt stays in the cancelled list
	// after it was first listed, if the worker does not report it.
	lostTTLs = 3
)

// Reasons of a Cancelled attempt.
const (
	// ReasonCancelled: a user (or the job's overlap policy) cancelled the
	// run. Nobody runs it any more.
	ReasonCancelled = "cancelled"
	// ReasonTakenAway: the attempt stopped being the worker's otherwise:
	// the leader failed it over or timed it out, it was reassigned or
	// deleted.
	ReasonTakenAway = "taken_away"
)

// ErrUnknownWorker means the worker has no session on this gateway: it
// never registered here, deregistered, or its session ended (no heartbeat
// for a TTL, its lease was lost, the gateway closed). The worker must
// register again. It always comes wrapped together with domain.ErrNotFound.
var ErrUnknownWorker = errors.New("pink gateway: unknown worker")

// errDeregistered ends a session on Deregister.
var errDeregistered = errors.New("deregistered")

// errHeartbeatsStopped ends a session whose worker stopped calling.
var errHeartbeatsStopped = errors.New("no heartbeat within the TTL")

// Config configures a Gateway. Registry, Runs and Clock are required.
type Config struct {
	// Registry is where the gateway registers its workers.
	Registry ports.WorkerRegistry
	// Runs is where it reads the workers' runs and writes their reports.
	Runs ports.RunStore
	// Clock dates the writes and times the TTLs, polls and retries.
	Clock ports.Clock
	// Logger receives the sessions' log; nil means slog.Default().
	Logger *slog.Logger
	// MaxOutput bounds the output kept per run, in bytes (the tail is
	// kept); default domain.DefaultMaxOutput.
	MaxOutput int
	// RedeliverAfter is how long a run returned by a poll is held back
	// from the next polls while the worker has not started it; default
	// DefaultRedeliverAfter.
	RedeliverAfter time.Duration
	// MaxSessions bounds the sessions of the gateway; a registration
	// beyond it gets domain.ErrUnavailable. Default DefaultMaxSessions.
	MaxSessions int
}

// Session is what a worker learns when it registers.
type Session struct {
	WorkerID string
	Group    string
	// TTL is how long the session lives without a call from the worker.
	TTL time.Duration
	// HeartbeatEvery is how often the worker should call in when it has
	// nothing else to say: a third of the TTL.
	HeartbeatEvery time.Duration
}

// Cancelled is an attempt the worker started that it must stop.
type Cancelled struct {
	RunID   string
	Attempt int
	// Reason is ReasonCancelled or ReasonTakenAway.
	Reason string
}

// PollResult is the answer of Poll.
type PollResult struct {
	// Runs are assigned to the worker and not started, by ID.
	Runs []domain.Run
	// Cancelled lists the attempts the worker must stop.
	Cancelled []Cancelled
}

// Gateway holds the sessions of HTTP workers. Make it with New; it is safe
// for concurrent use. Close it to end every session.
type Gateway struct {
	cfg Config
	log *slog.Logger

	bg     context.Context // parent of every session's context
	stopBG context.CancelFunc
	wg     sync.WaitGroup // session goroutines

	mu       sync.Mutex
	sessions map[string]*session // by worker ID
	closed   bool
}

// New checks cfg and returns a Gateway. It starts nothing.
func New(cfg Config) (*Gateway, error) {
	if cfg.Registry == nil || cfg.Runs == nil || cfg.Clock == nil {
		return nil, errors.New("gateway: Registry, Runs and Clock are required")
	}
	if cfg.MaxOutput < 0 || cfg.RedeliverAfter < 0 || cfg.MaxSessions < 0 {
		return nil, errors.New("gateway: MaxOutput, RedeliverAfter and MaxSessions must not be negative")
	}
	if cfg.MaxOutput == 0 {
		cfg.MaxOutput = domain.DefaultMaxOutput
	}
	if cfg.RedeliverAfter == 0 {
		cfg.RedeliverAfter = DefaultRedeliverAfter
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	bg, stop := context.WithCancel(context.Background())
	return &Gateway{
		cfg: cfg, log: cfg.Logger, bg: bg, stopBG: stop,
		sessions: make(map[string]*session),
	}, nil
}

// Register registers worker w in its group (w.Group) under a lease of ttl
// (0 means DefaultTTL; rounded up to whole seconds) and opens its session.
// An empty w.ID is generated from w.Hostname and a random suffix, so two
// workers on one host get two IDs. w.Capacity 0 means
// domain.DefaultCapacity; the gateway sets Protocol and StartedAt. It does
// not check that the group exists (authentication did). ctx bounds the
// registration only, not the session.
//
// Returns a *domain.ValidationError for an invalid worker or ttl,
// domain.ErrAlreadyExists if a live worker has the ID (in any group),
// domain.ErrUnavailable beyond Config.MaxSessions, domain.ErrClosed after
// Close, and the registry's errors.
func (g *Gateway) Register(ctx context.Context, w domain.Worker, ttl time.Duration) (Session, error) {
	ttl, err := checkTTL(ttl)
	if err != nil {
		return Session{}, err
	}
	w.Labels = maps.Clone(w.Labels)
	w.Handlers = slices.Clone(w.Handlers)
	w.Protocol, w.StartedAt = Protocol, g.cfg.Clock.Now()
	if w.Capacity == 0 {
		w.Capacity = domain.DefaultCapacity
	}
	generated := w.ID == ""
	if generated {
		if w.ID, err = generateID(w.Hostname); err != nil {
			return Session{}, err
		}
	}
	if err := w.Validate(); err != nil {
		return Session{}, fmt.Errorf("register worker: %w", err)
	}
	if err := checkVersion(w.Version); err != nil {
		return Session{}, fmt.Errorf("register worker: %w", err)
	}
	if err := g.admit(); err != nil {
		return Session{}, err
	}
	var lease ports.Lease
	for try := 0; ; try++ {
		lease, err = g.cfg.Registry.RegisterWorker(ctx, w, ttl)
		if err == nil || !generated || !errors.Is(err, domain.ErrAlreadyExists) || try == 2 {
			break
		}
		if w.ID, err = generateID(w.Hostname); err != nil { // 48 random bits collided
			return Session{}, err
		}
	}
	if err != nil {
		return Session{}, fmt.Errorf("register worker %q: %w", w.ID, err)
	}
	s := newSession(g, w, ttl, lease)
	g.mu.Lock()
	if err := g.admitLocked(); err != nil {
		g.mu.Unlock()
		closeLease(lease, g.log)
		return Session{}, err
	}
	g.sessions[w.ID] = s
	g.wg.Add(1)
	g.mu.Unlock()
	go s.run()
	g.log.Info("http worker registered", "group", w.Group, "worker", w.ID, "hostname", w.Hostname,
		"handlers", w.Handlers, "capacity", w.Capacity, "ttl", ttl)
	return s.info(), nil
}

// checkTTL applies the default and bounds of a session's TTL.
func checkTTL(ttl time.Duration) (time.Duration, error) {
	if ttl == 0 {
		return DefaultTTL, nil
	}
	if ttl < MinTTL || ttl > MaxTTL {
		return 0, &domain.ValidationError{Field: "ttl_seconds",
			Reason: fmt.Sprintf("must be between %s and %s, got %s", MinTTL, MaxTTL, ttl)}
	}
	if r := ttl % time.Second; r != 0 { // leases are granted in seconds
		ttl += time.Second - r
	}
	return ttl, nil
}

// maxVersionLen bounds domain.Worker.Version, which HTTP workers set.
const maxVersionLen = 64

// checkVersion checks the version a worker advertises: short printable
// text (domain.Worker.Validate leaves it to the SDK, which sets it).
func checkVersion(v string) error {
	bad := len(v) > maxVersionLen || !utf8.ValidString(v)
	for _, r := range v {
		bad = bad || unicode.IsControl(r)
	}
	if bad {
		return &domain.ValidationError{Field: "version", Reason: fmt.Sprintf("must be at most %d bytes of printable text", maxVersionLen)}
	}
	return nil
}

// admit refuses a registration after Close or beyond MaxSessions.
func (g *Gateway) admit() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.admitLocked()
}

func (g *Gateway) admitLocked() error {
	if g.closed {
		return fmt.Errorf("register worker: gateway: %w", domain.ErrClosed)
	}
	if len(g.sessions) >= g.cfg.MaxSessions {
		return fmt.Errorf("register worker: this node holds %d HTTP worker sessions, its limit: %w",
			len(g.sessions), domain.ErrUnavailable)
	}
	return nil
}

// lookup returns the live session of workerID and records the call as a
// heartbeat. A worker of another group gets domain.ErrForbidden.
func (g *Gateway) lookup(group, workerID string) (*session, error) {
	g.mu.Lock()
	s := g.sessions[workerID]
	g.mu.Unlock()
	if s == nil {
		return nil, unknown(workerID, nil)
	}
	if s.group != group {
		return nil, fmt.Errorf("worker %q is not of group %q: %w", workerID, group, domain.ErrForbidden)
	}
	if err := s.touch(); err != nil {
		return nil, err
	}
	return s, nil
}

// unknown is the error of a call for a worker without a session.
func unknown(workerID string, cause error) error {
	if cause != nil {
		return fmt.Errorf("worker %q: session ended (%v): register again: %w: %w", workerID, cause, ErrUnknownWorker, domain.ErrNotFound)
	}
	return fmt.Errorf("worker %q has no session on this node: register again: %w: %w", workerID, ErrUnknownWorker, domain.ErrNotFound)
}

// Heartbeat keeps the session of workerID alive and returns the attempts
// the worker must stop (see Cancelled). Every other call of a session
// counts as a heartbeat too. Returns an error wrapping ErrUnknownWorker
// (and domain.ErrNotFound) if the worker has no session, and
// domain.ErrForbidden if it is not of group.
func (g *Gateway) Heartbeat(_ context.Context, group, workerID string) ([]Cancelled, error) {
	s, err := g.lookup(group, workerID)
	if err != nil {
		return nil, err
	}
	return s.cancelledNow(), nil
}

// Deregister ends the session of workerID: its lease is closed, so its
// registration disappears at once and the leader fails over the runs
// still assigned to it. It waits, until ctx ends, for the session to be
// gone. Errors as Heartbeat.
func (g *Gateway) Deregister(ctx context.Context, group, workerID string) error {
	s, err := g.lookup(group, workerID)
	if err != nil {
		return err
	}
	s.cancel(errDeregistered)
	select {
	case <-s.ended:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("deregister worker %q: %w", workerID, ctx.Err())
	}
}

// Workers returns the number of live sessions.
func (g *Gateway) Workers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions)
}

// Close ends every session (closing their leases, which deregisters their
// workers) and refuses new ones; it waits for the sessions' goroutines
// until ctx ends. Safe to call more than once.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.stopBG()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway: close: %w", ctx.Err())
	}
}

// remove forgets s if it is still the session of its worker.
func (g *Gateway) remove(s *session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sessions[s.id] == s {
		delete(g.sessions, s.id)
	}
}

// closeLease closes a lease with a bounded wait; a failure leaves the
// registration to expire with its TTL.
func closeLease(l ports.Lease, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		log.Warn("closing an http worker's lease failed; its registration ends with its TTL", "err", err)
	}
}
