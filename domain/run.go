package domain

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// RunState is a run's place in its life cycle.
type RunState string

// Run states. Pending, assigned and running are active; the rest are
// terminal. A failed, timed-out or lost attempt with attempts left goes back
// to pending (see Run.Finish); the terminal states are final.
const (
	RunPending   RunState = "pending"
	RunAssigned  RunState = "assigned"
	RunRunning   RunState = "running"
	RunSucceeded RunState = "succeeded"
	RunFailed    RunState = "failed"
	RunTimedOut  RunState = "timed_out"
	RunLost      RunState = "lost"
	RunSkipped   RunState = "skipped"
	RunCancelled RunState = "cancelled"
)

// AllRunStates lists every state, active first.
var AllRunStates = []RunState{RunPending, RunAssigned, RunRunning, RunSucceeded,
	RunFailed, RunTimedOut, RunLost, RunSkipped, RunCancelled}

// Terminal reports whether s is final.
func (s RunState) Terminal() bool {
	switch s {
	case RunPending, RunAssigned, RunRunning:
		return false
	}
	return true
}

// Valid reports whether s is a known state.
func (s RunState) Valid() bool {
	for _, v := range AllRunStates {
		if s == v {
			return true
		}
	}
	return false
}

// transitions is the run state machine. Retrying is a move back to pending.
var transitions = map[RunState][]RunState{
	RunPending:  {RunAssigned, RunSkipped, RunCancelled},
	RunAssigned: {RunRunning, RunPending, RunFailed, RunLost, RunCancelled, RunTimedOut},
	RunRunning:  {RunSucceeded, RunFailed, RunTimedOut, RunLost, RunCancelled, RunPending},
}

// CanTransition reports whether a run may move from one state to another.
func CanTransition(from, to RunState) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// DefaultMaxOutput bounds the output a run keeps: the last 64 KiB.
const DefaultMaxOutput = 64 << 10

// MaxErrorLen bounds a run's error message.
const MaxErrorLen = 4 << 10

// Attempt records one finished attempt of a run that was retried.
type Attempt struct {
	Attempt    int       `json:"attempt"`
	WorkerID   string    `json:"worker_id,omitempty"`
	State      RunState  `json:"state"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at"`
	Error      string    `json:"error,omitempty"`
}

// Run is one execution unit of a fire: the fire of a plain job has one run,
// a job with N shards N runs, a broadcast job one run per worker. A run is
// attempted up to MaxAttempts times; each attempt has a number, which
// fences the worker's writes.
type Run struct {
	ID      string          `json:"id"`
	FireID  string          `json:"fire_id"`
	JobID   string          `json:"job_id"`
	Group   string          `json:"group"`
	Handler string          `json:"handler"`
	Params  json.RawMessage `json:"params,omitempty"`
	Shard   int             `json:"shard"`
	Shards  int             `json:"shards"`
	// RouteKey is the key of the hash strategy.
	RouteKey string `json:"route_key,omitempty"`
	// Route and Selector are copied from the job when the fire is made, so
	// a retry routes like the first attempt even if the job changed.
	Route    RouteStrategy     `json:"route"`
	Selector map[string]string `json:"selector,omitempty"`
	// PinnedWorker is set for broadcast runs: only that worker may run it.
	PinnedWorker string `json:"pinned_worker,omitempty"`

	Manual      bool     `json:"manual,omitempty"`
	Attempt     int      `json:"attempt"`
	MaxAttempts int      `json:"max_attempts"`
	Retry       Retry    `json:"retry"`
	Timeout     Duration `json:"timeout"`

	State    RunState `json:"state"`
	WorkerID string   `json:"worker_id,omitempty"`

	ScheduledAt time.Time `json:"scheduled_at"`
	CreatedAt   time.Time `json:"created_at"`
	// NotBefore delays a retry's dispatch (backoff).
	NotBefore  time.Time `json:"not_before,omitzero"`
	AssignedAt time.Time `json:"assigned_at,omitzero"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`

	Error  string `json:"error,omitempty"`
	Output string `json:"output,omitempty"`
	// Attempts holds the earlier attempts of a retried run.
	Attempts []Attempt `json:"attempts,omitempty"`
	// Version is set by the store and increases on every change.
	Version int64 `json:"version"`
}

// NewRun builds the pending run number index of fire f for job j.
func NewRun(j *Job, f *Fire, index int, now time.Time) Run {
	params := j.Params
	if len(f.Params) > 0 {
		params = f.Params
	}
	key := j.RouteKey
	if key == "" {
		key = j.ID
	}
	key += idSep + strconv.Itoa(index) // each shard hashes on its own
	return Run{
		ID: RunID(f.ID, index), FireID: f.ID, JobID: j.ID, Group: j.Group,
		Handler: j.Handler, Params: append(json.RawMessage(nil), params...),
		Shard: index, Shards: j.Shards, RouteKey: key, Route: j.Route,
		Selector: cloneMap(j.Selector), Manual: f.Kind == FireManual,
		Attempt: 1, MaxAttempts: j.Retry.MaxAttempts, Retry: j.Retry, Timeout: j.Timeout,
		State: RunPending, ScheduledAt: f.Nominal, CreatedAt: now,
	}
}

// Clone returns a deep copy of r.
func (r Run) Clone() Run {
	r.Params = append(json.RawMessage(nil), r.Params...)
	r.Selector = cloneMap(r.Selector)
	r.Attempts = append([]Attempt(nil), r.Attempts...)
	return r
}

// Active reports whether the run is pending, assigned or running.
func (r *Run) Active() bool { return !r.State.Terminal() }

// Deadline is when the current attempt times out, or zero if it has not
// started.
func (r *Run) Deadline() time.Time {
	if r.StartedAt.IsZero() || r.Timeout <= 0 {
		return time.Time{}
	}
	return r.StartedAt.Add(r.Timeout.Std())
}

func (r *Run) to(s RunState) error {
	if !CanTransition(r.State, s) {
		return fmt.Errorf("run %s: %s -> %s: %w", r.ID, r.State, s, ErrIllegalTransition)
	}
	r.State = s
	return nil
}

// Assign gives the pending run to a worker.
func (r *Run) Assign(workerID string, now time.Time) error {
	if r.PinnedWorker != "" && workerID != r.PinnedWorker {
		return fmt.Errorf("run %s is pinned to worker %s: %w", r.ID, r.PinnedWorker, ErrConflict)
	}
	if err := r.to(RunAssigned); err != nil {
		return err
	}
	r.WorkerID, r.AssignedAt = workerID, now
	return nil
}

// checkAttempt fences a worker's write by worker ID and attempt number.
func (r *Run) checkAttempt(workerID string, attempt int) error {
	if workerID == "" || attempt != r.Attempt || workerID != r.WorkerID {
		return fmt.Errorf("run %s: attempt %d by %s, current is %d by %s: %w",
			r.ID, attempt, workerID, r.Attempt, r.WorkerID, ErrStaleAttempt)
	}
	return nil
}

// Start marks the run running on the worker it was assigned to. It returns
// ErrStaleAttempt if the worker or attempt is not the current one.
func (r *Run) Start(workerID string, attempt int, now time.Time) error {
	if err := r.checkAttempt(workerID, attempt); err != nil {
		return err
	}
	if err := r.to(RunRunning); err != nil {
		return err
	}
	r.StartedAt = now
	return nil
}

// AppendOutput adds chunk to the run's output, keeping only the last max
// bytes (cut at a character boundary). It is fenced like Start.
func (r *Run) AppendOutput(workerID string, attempt int, chunk string, max int) error {
	if err := r.checkAttempt(workerID, attempt); err != nil {
		return err
	}
	if r.State != RunRunning {
		return fmt.Errorf("run %s is %s, not running: %w", r.ID, r.State, ErrIllegalTransition)
	}
	r.Output = TailString(r.Output+chunk, max)
	return nil
}

// Report is a worker's result for one attempt.
type Report struct {
	RunID    string   `json:"run_id"`
	WorkerID string   `json:"worker_id"`
	Attempt  int      `json:"attempt"`
	State    RunState `json:"state"` // succeeded, failed, timed_out or cancelled
	Error    string   `json:"error,omitempty"`
	// Output is appended to what AppendOutput stored.
	Output string `json:"output,omitempty"`
	// Permanent marks a failure that another attempt cannot fix (invalid
	// params, for example): the run fails now, whatever attempts are left.
	// Only with State failed.
	Permanent bool `json:"permanent,omitempty"`
}

// Finish records a worker's result. A failed or timed-out attempt with
// attempts left is retried: the run goes back to pending with the next
// attempt number and a backoff (see Retry), unless the report says the
// failure is permanent. It returns ErrStaleAttempt for a
// result from an attempt that is no longer current, and ErrIllegalTransition
// for a run that is already finished.
func (r *Run) Finish(rep Report, maxOutput int, now time.Time) error {
	switch rep.State {
	case RunSucceeded, RunFailed, RunTimedOut, RunCancelled:
	default:
		return invalid("state", "a result must be succeeded, failed, timed_out or cancelled; got %q", rep.State)
	}
	if r.State.Terminal() {
		return fmt.Errorf("run %s is already %s: %w", r.ID, r.State, ErrIllegalTransition)
	}
	if rep.Permanent && rep.State != RunFailed {
		return invalid("permanent", "only a failed result can be permanent; got %q", rep.State)
	}
	if err := r.checkAttempt(rep.WorkerID, rep.Attempt); err != nil {
		return err
	}
	if maxOutput <= 0 {
		maxOutput = DefaultMaxOutput
	}
	if rep.Permanent {
		msg := rep.Error
		if r.Attempt < r.MaxAttempts {
			msg += " (not retried: the handler reported a permanent failure)"
		}
		if err := r.to(RunFailed); err != nil {
			return err
		}
		r.Error, r.FinishedAt = TailString(msg, MaxErrorLen), now
	} else if err := r.end(rep.State, rep.Error, now); err != nil {
		return err
	}
	r.Output = TailString(r.Output+rep.Output, maxOutput)
	return nil
}

// Lose handles the loss of the run's worker (its registration expired):
// retried if attempts are left and the run is not pinned, else lost.
func (r *Run) Lose(reason string, now time.Time) error {
	if r.State != RunAssigned && r.State != RunRunning {
		return fmt.Errorf("run %s is %s: %w", r.ID, r.State, ErrIllegalTransition)
	}
	return r.end(RunLost, reason, now)
}

// TimeOut ends an attempt that ran past its deadline without a result.
func (r *Run) TimeOut(now time.Time) error {
	if r.State != RunRunning && r.State != RunAssigned {
		return fmt.Errorf("run %s is %s: %w", r.ID, r.State, ErrIllegalTransition)
	}
	return r.end(RunTimedOut, fmt.Sprintf("no result within the timeout of %s", r.Timeout), now)
}

// Cancel cancels an active run. Cancelled runs are never retried.
func (r *Run) Cancel(reason string, now time.Time) error {
	if err := r.to(RunCancelled); err != nil {
		return err
	}
	r.Error = TailString(reason, MaxErrorLen)
	r.FinishedAt = now
	return nil
}

// Skip ends a pending run that will not be dispatched (for example its
// misfire window passed while no worker was available).
func (r *Run) Skip(reason string, now time.Time) error {
	if err := r.to(RunSkipped); err != nil {
		return err
	}
	r.Error = TailString(reason, MaxErrorLen)
	r.FinishedAt = now
	return nil
}

// end finishes the current attempt in state s, retrying when allowed.
func (r *Run) end(s RunState, errMsg string, now time.Time) error {
	errMsg = TailString(errMsg, MaxErrorLen)
	retry := (s == RunFailed || s == RunTimedOut || s == RunLost) &&
		r.Attempt < r.MaxAttempts && r.PinnedWorker == ""
	if !retry {
		if err := r.to(s); err != nil {
			return err
		}
		r.Error, r.FinishedAt = errMsg, now
		return nil
	}
	if err := r.to(RunPending); err != nil {
		return err
	}
	r.Attempts = append(r.Attempts, Attempt{Attempt: r.Attempt, WorkerID: r.WorkerID, State: s,
		StartedAt: r.StartedAt, FinishedAt: now, Error: errMsg})
	r.Attempt++
	r.NotBefore = now.Add(r.Retry.Delay(r.Attempt, r.ID))
	r.WorkerID, r.AssignedAt, r.StartedAt, r.Error = "", time.Time{}, time.Time{}, errMsg
	return nil
}

// PreviousWorkers returns the workers of earlier attempts, which routing
// avoids where it can.
func (r *Run) PreviousWorkers() []string {
	var ws []string
	for _, a := range r.Attempts {
		if a.WorkerID != "" {
			ws = append(ws, a.WorkerID)
		}
	}
	return ws
}

// TailString returns the last max bytes of s, cut at a character boundary.
func TailString(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	s = s[len(s)-max:]
	for i := 0; i < len(s) && i < utf8.UTFMax; i++ {
		if utf8.RuneStart(s[i]) {
			return s[i:]
		}
	}
	return ""
}
