package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Config wires a Scheduler to its ports and sets its limits. Jobs, Fires,
// Runs, Workers, Elector and Clock are required.
type Config struct {
	Jobs     ports.JobStore
	Fires    ports.FireStore
	Runs     ports.RunStore
	Workers  ports.WorkerRegistry
	Elector  ports.Elector
	Clock    ports.Clock
	Notifier ports.Notifier // optional
	Logger   *slog.Logger   // optional; slog.Default()

	// BatchSize bounds the fires written in one store call; default 64.
	BatchSize int
	// Retention bounds finished runs and fires; defaults 100 per job and
	// 7 days.
	Retention ports.Retention
	// PruneInterval is how often the leader prunes, the first time one
	// interval after it takes over; default 1 minute.
	PruneInterval time.Duration
	// TimeoutGrace is added to a run's timeout before the leader times it
	// out itself (the worker should have reported first); default 5 s.
	TimeoutGrace time.Duration
	// RetryInterval is how long the leader waits before retrying a store
	// call that failed for another reason than lost leadership; default 1 s.
	RetryInterval time.Duration
	// Random returns random numbers for the random routing strategy;
	// default math/rand/v2.
	Random func() uint64
}

func (c *Config) setDefaults() error {
	switch {
	case c.Jobs == nil, c.Fires == nil, c.Runs == nil, c.Workers == nil, c.Elector == nil, c.Clock == nil:
		return errors.New("scheduler: Jobs, Fires, Runs, Workers, Elector and Clock are required")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 64
	}
	if c.Retention.PerJob <= 0 {
		c.Retention.PerJob = 100
	}
	if c.Retention.MaxAge <= 0 {
		c.Retention.MaxAge = 7 * 24 * time.Hour
	}
	if c.PruneInterval <= 0 {
		c.PruneInterval = time.Minute
	}
	if c.TimeoutGrace <= 0 {
		c.TimeoutGrace = 5 * time.Second
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = time.Second
	}
	if c.Random == nil {
		c.Random = rand.Uint64
	}
	return nil
}

// Scheduler campaigns for leadership and leads while it holds it.
type Scheduler struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	status Status
}

// Status is a snapshot of what the scheduler is doing.
type Status struct {
	Leader bool
	// Fence is the current term's token, zero when not leader.
	Fence ports.Fence
	// Since is when the current term (or candidacy) began.
	Since time.Time
	// PlannedJobs is the number of jobs in the planner.
	PlannedJobs int
	// Fired counts the fires this node recorded in its terms.
	Fired int64
}

// New checks cfg and returns a Scheduler; it starts nothing.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Scheduler{cfg: cfg, log: cfg.Logger}, nil
}

// Status returns a snapshot of the scheduler's state.
func (s *Scheduler) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *Scheduler) setStatus(fn func(*Status)) {
	s.mu.Lock()
	fn(&s.status)
	s.mu.Unlock()
}

// Run campaigns and leads, term after term, until ctx is cancelled; then it
// resigns and returns nil. It returns an error only if the elector fails
// for another reason than ctx.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		s.setStatus(func(st *Status) { *st = Status{Since: s.cfg.Clock.Now(), Fired: st.Fired} })
		if li, err := s.cfg.Elector.Leader(ctx); err == nil {
			s.log.Info("following; campaigning to take over when the leader goes", "leader", li.NodeID, "leader_token", li.Fence.Token)
		} else {
			s.log.Info("campaigning for leadership", "current_leader", "none")
		}
		l, err := s.cfg.Elector.Campaign(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Error("campaign failed; retrying", "err", err)
			if !s.wait(ctx, s.cfg.RetryInterval) {
				return nil
			}
			continue
		}
		s.log.Info("leading", "token", l.Fence().Token)
		err = s.lead(ctx, l)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		rerr := l.Resign(rctx)
		cancel()
		s.setStatus(func(st *Status) { st.Leader, st.Fence = false, ports.Fence{} })
		switch {
		case ctx.Err() != nil:
			s.log.Info("stopped leading: shutting down", "token", l.Fence().Token, "resign_err", rerr)
			return nil
		case errors.Is(err, domain.ErrNotLeader):
			s.log.Warn("stopped leading: a write was refused, leadership is lost", "token", l.Fence().Token)
		case err != nil:
			s.log.Error("stopped leading", "token", l.Fence().Token, "err", err)
			if !s.wait(ctx, s.cfg.RetryInterval) {
				return nil
			}
		default:
			s.log.Warn("stopped leading: the term ended (session expired or resigned)", "token", l.Fence().Token)
		}
	}
}

// wait blocks for d or until ctx is done; it reports whether d passed.
func (s *Scheduler) wait(ctx context.Context, d time.Duration) bool {
	t := s.cfg.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// lead runs one term until it ends.
func (s *Scheduler) lead(ctx context.Context, l ports.Leadership) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { // end the term's work as soon as leadership is lost
		select {
		case <-l.Done():
			cancel()
		case <-ctx.Done():
		}
	})
	s.setStatus(func(st *Status) {
		st.Leader, st.Fence, st.Since = true, l.Fence(), s.cfg.Clock.Now()
	})
	var err error
	for {
		err = newTerm(s, l).run(ctx)
		if !errors.Is(err, domain.ErrCompacted) || ctx.Err() != nil {
			break
		}
		// A watch fell behind the store's compaction: the changes it missed
		// are gone, so re-read the whole state and watch again, keeping
		// leadership (fires are create-if-absent, so nothing doubles).
		s.log.Warn("a watch was compacted; re-reading the state from the store", "token", l.Fence().Token, "err", err)
	}
	select {
	case <-l.Done():
		if err == nil || errors.Is(err, context.Canceled) {
			return nil
		}
	default:
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, domain.ErrNotLeader) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("term %d: %w", l.Fence().Token, err)
	}
	return nil
}
