package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/pink-scheduler/pink/domain"
)

// maxRunIDLen bounds a run ID a worker sends: a fire ID (time, job ID and
// a manual nonce) and a shard index fit well within it.
const maxRunIDLen = 256

// Sentinels of the update functions: nothing to write.
var (
	errAlreadyStarted = errors.New("already started by this worker")
	errDuplicate      = errors.New("result already recorded")
)

// FinishResult is the answer of Finish.
type FinishResult struct {
	// Run is the stored run: final, or pending again for a retry.
	Run domain.Run
	// Duplicate is set when the same result of the attempt had already
	// been recorded (a repeated report): nothing was written.
	Duplicate bool
}

// checkAttempt validates the run ID and attempt a worker sent.
func checkAttempt(runID string, attempt int) error {
	if runID == "" || len(runID) > maxRunIDLen {
		return &domain.ValidationError{Field: "run_id", Reason: fmt.Sprintf("must be 1-%d bytes", maxRunIDLen)}
	}
	if attempt < 1 {
		return &domain.ValidationError{Field: "attempt", Reason: fmt.Sprintf("must be at least 1, got %d", attempt)}
	}
	return nil
}

// inGroup hides the runs of other groups: they are not found.
func inGroup(r *domain.Run, group string) error {
	if r.Group != group {
		return fmt.Errorf("run %q: %w", r.ID, domain.ErrNotFound)
	}
	return nil
}

// Start marks attempt of run runID running on workerID, with
// domain.Run.Start, and returns the stored run (its StartedAt and Timeout
// give the attempt's deadline). It is idempotent: a Start of an attempt
// the worker already started succeeds without writing. Returns
// domain.ErrStaleAttempt if the attempt is not the run's current one on
// this worker, domain.ErrIllegalTransition if the run cannot start (it is
// final, for example cancelled), domain.ErrNotFound for an unknown run, a
// *domain.ValidationError for a malformed ID or attempt, and Heartbeat's
// errors.
func (g *Gateway) Start(ctx context.Context, group, workerID, runID string, attempt int) (domain.Run, error) {
	if err := checkAttempt(runID, attempt); err != nil {
		return domain.Run{}, err
	}
	s, err := g.lookup(group, workerID)
	if err != nil {
		return domain.Run{}, err
	}
	// Mark the attempt started before the write, so that a cancellation
	// the watch brings meanwhile is reported to the worker.
	k := runKey{runID, attempt}
	s.mu.Lock()
	_, had := s.started[k]
	s.started[k] = struct{}{}
	s.mu.Unlock()

	var already domain.Run
	cur, err := g.cfg.Runs.UpdateRun(ctx, runID, func(r *domain.Run) error {
		if err := inGroup(r, group); err != nil {
			return err
		}
		if r.State == domain.RunRunning && r.WorkerID == workerID && r.Attempt == attempt {
			already = r.Clone()
			return errAlreadyStarted
		}
		return r.Start(workerID, attempt, g.cfg.Clock.Now())
	})
	switch {
	case err == nil:
		return cur, nil
	case errors.Is(err, errAlreadyStarted):
		return already, nil
	}
	if !had {
		s.mu.Lock()
		delete(s.started, k)
		delete(s.lost, k) // the worker learns from this error instead
		s.mu.Unlock()
	}
	return domain.Run{}, fmt.Errorf("start run %q attempt %d: %w", runID, attempt, err)
}

// Output appends chunk to the output of a running attempt, with
// domain.Run.AppendOutput: the run keeps the last Config.MaxOutput bytes.
// An empty chunk writes nothing. A chunk sent twice is appended twice.
// Errors as Start (domain.ErrIllegalTransition if the run is not
// running).
func (g *Gateway) Output(ctx context.Context, group, workerID, runID string, attempt int, chunk string) error {
	if err := checkAttempt(runID, attempt); err != nil {
		return err
	}
	if _, err := g.lookup(group, workerID); err != nil {
		return err
	}
	if chunk == "" {
		return nil
	}
	_, err := g.cfg.Runs.UpdateRun(ctx, runID, func(r *domain.Run) error {
		if err := inGroup(r, group); err != nil {
			return err
		}
		return r.AppendOutput(workerID, attempt, chunk, g.cfg.MaxOutput)
	})
	if err != nil {
		return fmt.Errorf("output of run %q attempt %d: %w", runID, attempt, err)
	}
	return nil
}

// Finish records the worker's result of an attempt with domain.Run.Finish
// (rep.WorkerID is set to workerID): succeeded, failed or timed_out; a
// failed or timed-out attempt with attempts left goes back to pending for
// a retry. A repeated succeeded or failed result of an attempt that is
// already recorded succeeds with Duplicate set and writes nothing.
// Returns domain.ErrStaleAttempt for an attempt that is no longer the
// worker's, domain.ErrIllegalTransition for a run already final, a
// *domain.ValidationError for another state or a malformed ID or attempt,
// and Start's other errors.
func (g *Gateway) Finish(ctx context.Context, group, workerID string, rep domain.Report) (FinishResult, error) {
	if err := checkAttempt(rep.RunID, rep.Attempt); err != nil {
		return FinishResult{}, err
	}
	switch rep.State {
	case domain.RunSucceeded, domain.RunFailed, domain.RunTimedOut:
	default:
		return FinishResult{}, &domain.ValidationError{Field: "state",
			Reason: fmt.Sprintf("must be succeeded, failed or timed_out; got %q", rep.State)}
	}
	s, err := g.lookup(group, workerID)
	if err != nil {
		return FinishResult{}, err
	}
	rep.WorkerID = workerID
	// The attempt stops being "started" before the write, so that the
	// watch event of the write does not report it lost.
	k := runKey{rep.RunID, rep.Attempt}
	s.mu.Lock()
	_, wasStarted := s.started[k]
	delete(s.started, k)
	delete(s.lost, k)
	s.reported[k] = struct{}{}
	s.mu.Unlock()

	var dup domain.Run
	cur, err := g.cfg.Runs.UpdateRun(ctx, rep.RunID, func(r *domain.Run) error {
		if err := inGroup(r, group); err != nil {
			return err
		}
		if recorded(r, &rep) {
			dup = r.Clone()
			return errDuplicate
		}
		return r.Finish(rep, g.cfg.MaxOutput, g.cfg.Clock.Now())
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil || errors.Is(err, errDuplicate):
		// The tombstone lives until the view drops the attempt; none is
		// needed if the view does not have it (and none may leak).
		if r, ok := s.view[k.id]; !ok || r.Attempt != k.attempt {
			delete(s.reported, k)
		}
		if err != nil {
			return FinishResult{Run: dup, Duplicate: true}, nil
		}
		return FinishResult{Run: cur}, nil
	case !final(err) && wasStarted:
		// The result may not have landed: the worker sends it again.
		s.started[k] = struct{}{}
	}
	delete(s.reported, k)
	return FinishResult{}, fmt.Errorf("result of run %q attempt %d: %w", rep.RunID, rep.Attempt, err)
}

// recorded reports whether rep's outcome is already r's record of the
// attempt. Only succeeded and failed count: the leader never writes them,
// so a match is this worker's own earlier report (a timed_out record may
// be the leader's).
func recorded(r *domain.Run, rep *domain.Report) bool {
	if rep.State != domain.RunSucceeded && rep.State != domain.RunFailed {
		return false
	}
	if r.Attempt == rep.Attempt && r.WorkerID == rep.WorkerID && r.State == rep.State {
		return true
	}
	for _, a := range r.Attempts {
		if a.Attempt == rep.Attempt && a.WorkerID == rep.WorkerID && a.State == rep.State {
			return true
		}
	}
	return false
}

// final reports whether a write failed for good: retrying it cannot help.
func final(err error) bool {
	return errors.Is(err, domain.ErrStaleAttempt) || errors.Is(err, domain.ErrIllegalTransition) ||
		errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrInvalid)
}
