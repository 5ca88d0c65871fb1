package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/internal/timing"
	"github.com/pink-scheduler/pink/ports"
)

// maxStack bounds the stack trace a panic adds to a run's output.
const maxStack = 4 << 10

// errAlreadyStarted ends a retried Start whose earlier try landed.
var errAlreadyStarted = errors.New("already started by this worker")

// outcome is how a handler ended.
type outcome struct {
	result    Result
	err       error
	panicked  bool
	panicVal  any
	stack     []byte
	abandoned bool // not waited for: the drain timeout passed
}

// stored is the run as the store last gave it to a supervisor, with its
// version. Each write of the supervisor starts from it (one compare-and-swap
// Txn, no read, while nobody else changed the run) and replaces it with
// what it wrote.
type stored struct {
	run domain.Run
	at  ports.RunVersion // zero if unknown: the next write reads the run
}

// update changes the run through fn, starting from s, and keeps in s what
// it wrote. fn runs on the run as it is stored when the write lands (see
// ports.RunStore.UpdateRunAt), so it makes its own attempt checks.
func (l *loop) update(ctx context.Context, s *stored, fn func(*domain.Run) error) error {
	r, at, err := l.cfg.Runs.UpdateRunAt(ctx, s.run, s.at, fn)
	if err == nil {
		s.run, s.at = r, at
	}
	return err
}

// supervise executes one attempt: it marks the run running, calls its
// handler in a goroutine of its own, flushes its output, and reports its
// result. It runs in its own goroutine; ctx is the task's context, which
// the loop cancels with the cause of a cancellation. s is the run as the
// watch (or a listing) delivered it.
func (l *loop) supervise(ctx context.Context, cancel context.CancelCauseFunc, s stored, st *execState) {
	run := s.run
	defer l.sup.Done()
	defer l.done(keyOf(&run))
	defer cancel(nil)
	log := l.log.With("run", run.ID, "attempt", run.Attempt, "job", run.JobID, "handler", run.Handler)

	h, ok := l.handlers[run.Handler]
	if !ok {
		st.ending.Store(true)
		msg := fmt.Sprintf("no handler %q on worker %s", run.Handler, l.cfg.ID)
		rep := domain.Report{RunID: run.ID, WorkerID: l.cfg.ID, Attempt: run.Attempt, State: domain.RunFailed, Error: msg}
		accepted := l.report(log, &s, rep)
		log.Warn("run finished", "state", rep.State, "duration", time.Duration(0), "err", msg, "accepted", accepted)
		return
	}
	if !l.startRun(ctx, log, &s) {
		st.ending.Store(true)
		return
	}
	cur := s.run
	log.Info("run started", "timeout", cur.Timeout, "scheduled_at", cur.ScheduledAt)

	hctx := ctx
	if cur.Timeout > 0 {
		var stop context.CancelFunc
		hctx, stop = context.WithTimeoutCause(ctx, cur.Timeout.Std(), ErrRunTimedOut)
		defer stop()
	}
	out := newOutput(l.cfg.MaxOutput)
	o := l.execute(hctx, log, h, &s, out)
	st.ending.Store(true)

	rep, send := l.verdict(hctx, cur, o, out)
	took := l.clock.Now().Sub(cur.StartedAt)
	if !send {
		log.Info("run finished", "state", domain.RunCancelled, "duration", took, "reported", false)
		return
	}
	accepted := l.report(log, &s, rep)
	level := slog.LevelInfo
	if rep.State != domain.RunSucceeded {
		level = slog.LevelWarn
	}
	log.Log(l.bg, level, "run finished", "state", rep.State, "duration", took, "err", rep.Error, "accepted", accepted)
}

// startRun marks the run s running on this worker, fenced by its
// attempt, and keeps the running run in s. It reports false if the run is
// no longer the worker's or ctx ended.
func (l *loop) startRun(ctx context.Context, log *slog.Logger, s *stored) bool {
	var bo timing.Backoff
	attempt := s.run.Attempt
	for try := 0; ; try++ {
		var already domain.Run
		err := l.update(ctx, s, func(r *domain.Run) error {
			if try > 0 && r.State == domain.RunRunning && r.WorkerID == l.cfg.ID && r.Attempt == attempt {
				already = r.Clone() // an earlier try landed after all
				return errAlreadyStarted
			}
			return r.Start(l.cfg.ID, attempt, l.clock.Now())
		})
		switch {
		case err == nil:
			return true
		case errors.Is(err, errAlreadyStarted):
			s.run, s.at = already, ports.RunVersion{} // its version is not known
			return true
		case ctx.Err() != nil:
			log.Info("run not started", "cause", context.Cause(ctx))
			return false
		case rejected(err):
			log.Info("run not started: it is no longer this worker's", "err", err)
			return false
		case errors.Is(err, domain.ErrInvalid):
			log.Error("run not started: the store refused the write", "err", err)
			return false
		}
		d := bo.Next()
		log.Warn("starting the run failed; retrying", "err", err, "in", d)
		if !l.sleep(ctx, d) {
			log.Info("run not started", "cause", context.Cause(ctx))
			return false
		}
	}
}

// execute calls the handler in a goroutine and waits for it, flushing its
// output every FlushInterval, until it returns or the worker abandons it
// (a grace period after the drain timeout cancelled it). The flushes keep
// what they wrote in s.
func (l *loop) execute(ctx context.Context, log *slog.Logger, h HandlerFunc, s *stored, out *output) outcome {
	cur := s.run
	done := make(chan outcome, 1)
	l.handlersLive.Add(1)
	go func() {
		defer func() {
			l.handlersLive.Add(-1)
			l.poke()
		}()
		o := outcome{err: errors.New("the handler exited without returning (runtime.Goexit)")}
		defer func() { done <- o }()
		o = call(ctx, h, handlerRun(cur, out))
	}()

	flush := l.clock.NewTimer(FlushInterval)
	defer flush.Stop()
	fenced := false
	for {
		select {
		case o := <-done:
			return o
		case <-flush.C():
			l.flush(log, s, out, &fenced)
			flush.Reset(FlushInterval)
		case <-l.abandon:
			return outcome{abandoned: true}
		}
	}
}

// call runs the handler, turning a panic into an outcome.
func call(ctx context.Context, h HandlerFunc, r Run) (o outcome) {
	defer func() {
		if v := recover(); v != nil {
			o = outcome{panicked: true, panicVal: v, stack: debug.Stack()}
		}
	}()
	o.result, o.err = h(ctx, r)
	return o
}

// handlerRun is what the handler sees of a run.
func handlerRun(r domain.Run, out *output) Run {
	return Run{
		ID: r.ID, FireID: r.FireID, JobID: r.JobID, Group: r.Group, Handler: r.Handler,
		Params: append([]byte(nil), r.Params...), Shard: r.Shard, Shards: r.Shards,
		Attempt: r.Attempt, ScheduledAt: r.ScheduledAt, Manual: r.Manual, Output: out,
	}
}

// verdict turns an outcome into the report to send; send is false for a
// cancelled run, which is already final.
func (l *loop) verdict(ctx context.Context, cur domain.Run, o outcome, out *output) (rep domain.Report, send bool) {
	rep = domain.Report{RunID: cur.ID, WorkerID: l.cfg.ID, Attempt: cur.Attempt}
	text := out.close()
	cause := context.Cause(ctx)
	switch {
	case o.abandoned:
		rep.State = domain.RunFailed
		rep.Error = fmt.Sprintf("worker shutting down: the handler did not return within %s of its cancellation at the drain timeout of %s",
			shutdownGrace, l.cfg.DrainTimeout)
	case errors.Is(cause, ErrRunCancelled):
		return rep, false
	case o.panicked:
		rep.State = domain.RunFailed
		rep.Error = fmt.Sprintf("panic: %v", o.panicVal)
		text += fmt.Sprintf("\npanic: %v\n\n%s", o.panicVal, shortStack(o.stack))
	case o.err == nil:
		rep.State = domain.RunSucceeded
	case ctx.Err() != nil && errors.Is(cause, ErrRunTimedOut):
		rep.State = domain.RunTimedOut
		rep.Error = fmt.Sprintf("timed out after %s: %v", cur.Timeout, o.err)
	case ctx.Err() != nil && errors.Is(cause, ErrShuttingDown):
		rep.State, rep.Error = domain.RunFailed, fmt.Sprintf("worker shutting down: %v", o.err)
	case ctx.Err() != nil && errors.Is(cause, ErrLeaseLost):
		rep.State, rep.Error = domain.RunFailed, fmt.Sprintf("worker %s lost its registration: %v", l.cfg.ID, o.err)
	case ctx.Err() != nil && errors.Is(cause, ErrRunTakenAway):
		rep.State, rep.Error = domain.RunFailed, fmt.Sprintf("run taken away from worker %s: %v", l.cfg.ID, o.err)
	default:
		rep.State, rep.Error = domain.RunFailed, o.err.Error()
		rep.Permanent = IsPermanent(o.err)
	}
	rep.Output = domain.TailString(text+o.result.Output, l.cfg.MaxOutput)
	return rep, true
}

// shortStack keeps the frames of a recovered panic's stack from the
// panicking function on, bounded.
func shortStack(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "panic(") && i+2 <= len(lines) && i > 0 {
			lines = append(lines[:1], lines[i+2:]...) // keep the goroutine header
			break
		}
	}
	s := strings.Join(lines, "\n")
	if len(s) > maxStack {
		s = s[:maxStack] + "\n..."
	}
	return s
}

// flush writes the output written since the last flush to the run s,
// fenced by its attempt. Once a write is rejected, the attempt is over here
// and later output is dropped.
func (l *loop) flush(log *slog.Logger, s *stored, out *output, fenced *bool) {
	chunk := out.take()
	if chunk == "" || *fenced {
		return
	}
	ctx, cancel := context.WithTimeout(l.reportCtx, callTimeout)
	defer cancel()
	attempt := s.run.Attempt
	err := l.update(ctx, s, func(r *domain.Run) error {
		return r.AppendOutput(l.cfg.ID, attempt, chunk, l.cfg.MaxOutput)
	})
	switch {
	case err == nil:
	case rejected(err):
		*fenced = true
		log.Info("run output rejected: the attempt is no longer current", "err", err)
	case errors.Is(err, domain.ErrInvalid):
		log.Error("run output refused by the store; dropped", "err", err)
	default:
		out.unread(chunk)
		log.Warn("writing run output failed; retrying at the next flush", "err", err)
	}
}

// report writes the result of an attempt of run s with domain.Run.Finish,
// retrying transient failures until the worker gives up on reports. It
// reports whether the result was accepted; a stale one is logged and
// dropped.
func (l *loop) report(log *slog.Logger, s *stored, rep domain.Report) bool {
	var bo timing.Backoff
	for try := 0; ; try++ {
		err := l.update(l.reportCtx, s, func(r *domain.Run) error {
			return r.Finish(rep, l.cfg.MaxOutput, l.clock.Now())
		})
		switch {
		case err == nil:
			return true
		case rejected(err):
			msg := "run result rejected: the attempt is no longer current"
			if try > 0 {
				msg += " (or an earlier try of this report landed)"
			}
			log.Info(msg, "state", rep.State, "err", err)
			return false
		case errors.Is(err, domain.ErrInvalid) && rep.Output != "":
			log.Error("run result refused by the store; sending it again without its output", "err", err)
			rep.Output = ""
			continue
		case errors.Is(err, domain.ErrInvalid):
			log.Error("run result refused by the store", "state", rep.State, "err", err)
			return false
		case l.reportCtx.Err() != nil:
			log.Error("run result not written before the worker gave up", "state", rep.State, "err", err)
			return false
		}
		d := bo.Next()
		log.Warn("writing the run result failed; retrying", "state", rep.State, "err", err, "in", d)
		l.sleep(l.reportCtx, d)
	}
}

// sleep waits d on the clock; it reports false if ctx ended first.
func (l *loop) sleep(ctx context.Context, d time.Duration) bool {
	t := l.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}
