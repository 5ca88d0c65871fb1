package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// Run is one attempt of a run, as its handler sees it. Handlers should be
// idempotent per (ID, Attempt): execution is at least once.
type Run struct {
	ID      string
	FireID  string
	JobID   string
	Group   string
	Handler string
	Params  json.RawMessage
	Shard   int
	Shards  int
	// Attempt counts from 1; a retried run has a higher attempt.
	Attempt     int
	ScheduledAt time.Time
	// Manual is set for a run of a manual trigger.
	Manual bool
	// Output collects the run's output. It is safe for concurrent use and
	// never fails; it keeps the last Config.MaxOutput bytes, which are
	// written to the run at most once per FlushInterval while it runs and
	// with its result. Writes after the handler returned are dropped.
	Output io.Writer
}

// Permanent wraps err to say that another attempt cannot succeed either
// (bad params, a missing resource): the run fails without the retries its
// job allows. A handler's error that wraps domain.ErrInvalid (a
// *domain.ValidationError, as the built-in handlers return for bad params)
// is permanent too. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether a handler's error is permanent (see
// Permanent).
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p) || errors.Is(err, domain.ErrInvalid)
}

// Result is what a handler returns besides its error.
type Result struct {
	// Output is appended to what the handler wrote to Run.Output.
	Output string
}

// HandlerFunc executes one attempt of a run. It should return when ctx is
// done; context.Cause(ctx) says why (ErrRunTimedOut, ErrRunCancelled, ...).
// A nil error means success.
type HandlerFunc func(ctx context.Context, run Run) (Result, error)

// Causes of the end of a handler's context, as context.Cause returns them.
var (
	// ErrRunTimedOut: the run's timeout passed (ctx.Err() is
	// context.DeadlineExceeded). The run is reported timed_out.
	ErrRunTimedOut = errors.New("pink worker: run timed out")
	// ErrRunCancelled: the run was cancelled. It is not reported.
	ErrRunCancelled = errors.New("pink worker: run cancelled")
	// ErrRunTakenAway: the run stopped being this worker's (the leader
	// failed it over, reassigned or deleted it). A report would be
	// rejected as stale.
	ErrRunTakenAway = errors.New("pink worker: run taken away from this worker")
	// ErrLeaseLost: the worker lost its registration; the leader fails its
	// runs over.
	ErrLeaseLost = errors.New("pink worker: worker lost its registration")
	// ErrShuttingDown: the worker is shutting down and its drain timeout
	// passed. The run is reported failed.
	ErrShuttingDown = errors.New("pink worker: worker shutting down")
)

// Worker executes the runs the leader assigns to it. Make it with New,
// register handlers with Handle, then call Run once.
type Worker struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	handlers map[string]HandlerFunc
	started  bool
}

// New checks cfg, fills in its defaults and returns a Worker. It starts
// nothing. It returns an error wrapping domain.ErrInvalid for an invalid
// configuration.
func New(cfg Config) (*Worker, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return &Worker{
		cfg:      cfg,
		log:      cfg.Logger.With("worker", cfg.ID),
		handlers: make(map[string]HandlerFunc),
	}, nil
}

// ID returns the worker's ID.
func (w *Worker) ID() string { return w.cfg.ID }

// Handle registers the handler for runs of jobs whose handler is name. It
// must be called before Run. Like http.ServeMux.Handle it panics on an
// empty or invalid name, a nil handler, a name registered twice, and a call
// after Run.
func (w *Worker) Handle(name string, h HandlerFunc) {
	if name == "" {
		panic("worker: empty handler name")
	}
	if h == nil {
		panic(fmt.Sprintf("worker: nil handler %q", name))
	}
	rec := domain.Worker{ID: w.cfg.ID, Group: w.cfg.Group, Capacity: 1, Handlers: []string{name}}
	if err := rec.Validate(); err != nil {
		panic(fmt.Sprintf("worker: handler name %q: %v", name, err))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		panic(fmt.Sprintf("worker: Handle(%q) called after Run", name))
	}
	if _, dup := w.handlers[name]; dup {
		panic(fmt.Sprintf("worker: multiple registrations for handler %q", name))
	}
	w.handlers[name] = h
}

// Run registers the worker and executes the runs assigned to it until ctx
// is done; then it stops taking runs, waits up to Config.DrainTimeout for
// the running ones (and cancels them after that), deregisters and returns
// nil. It returns an error at once if no handler is registered or Run was
// called before, and an error wrapping domain.ErrInvalid if the store
// refuses the registration as invalid. Store failures are retried, never
// returned.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.started {
		w.mu.Unlock()
		return errors.New("worker: Run called more than once")
	}
	w.started = true
	handlers := maps.Clone(w.handlers)
	w.mu.Unlock()
	if len(handlers) == 0 {
		return fmt.Errorf("worker %s: no handler registered (call Handle before Run): %w", w.cfg.ID, domain.ErrInvalid)
	}
	l := newLoop(w, ctx, handlers)
	rec := l.record()
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("worker %s: %w", w.cfg.ID, err)
	}
	return l.run(ctx)
}
