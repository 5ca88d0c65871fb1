package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
)

func TestRunSucceedsWithOutput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		var got worker.Run
		p := e.start(map[string]worker.HandlerFunc{
			"echo": func(ctx context.Context, run worker.Run) (worker.Result, error) {
				got = run
				fmt.Fprintf(run.Output, "hello ")
				return worker.Result{Output: "world"}, nil
			},
		}, func(c *worker.Config) { c.Labels = map[string]string{"zone": "a"}; c.Capacity = 3 })

		ws := e.workers()
		require.Len(t, ws, 1)
		require.Equal(t, p.w.ID(), ws[0].ID)
		require.Equal(t, []string{"echo"}, ws[0].Handlers)
		require.Equal(t, 3, ws[0].Capacity)
		require.Equal(t, "host-1", ws[0].Hostname)
		require.Equal(t, map[string]string{"zone": "a"}, ws[0].Labels)

		r := e.assign(p.w.ID(), "echo", func(r *domain.Run) { r.Shard, r.Shards = 1, 4 })
		synctest.Wait()

		done := e.run(r.ID)
		require.Equal(t, domain.RunSucceeded, done.State, "error: %s", done.Error)
		require.Equal(t, "hello world", done.Output)
		require.Empty(t, done.Error)
		require.Equal(t, p.w.ID(), done.WorkerID)
		require.False(t, done.StartedAt.IsZero())

		require.Equal(t, r.ID, got.ID)
		require.Equal(t, r.FireID, got.FireID)
		require.Equal(t, r.JobID, got.JobID)
		require.Equal(t, group, got.Group)
		require.Equal(t, "echo", got.Handler)
		require.JSONEq(t, string(r.Params), string(got.Params))
		require.Equal(t, 1, got.Shard)
		require.Equal(t, 4, got.Shards)
		require.Equal(t, 1, got.Attempt)
		require.True(t, r.ScheduledAt.Equal(got.ScheduledAt))

		require.Equal(t, 1, e.logs.count("worker registered", "group="+group, "id="+p.w.ID(), "handlers=[echo]"))
		require.Equal(t, 1, e.logs.count("run started", r.ID))
		require.Equal(t, 1, e.logs.count("run finished", r.ID, "state=succeeded", "duration="))

		require.NoError(t, p.stop())
		require.Empty(t, e.workers(), "deregistered")
	})
}

func TestHandlerErrorFailsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.start(map[string]worker.HandlerFunc{
			"fail": func(ctx context.Context, run worker.Run) (worker.Result, error) {
				fmt.Fprintln(run.Output, "trying")
				return worker.Result{}, errors.New("disk full")
			},
		})
		r := e.assign(p.w.ID(), "fail")
		synctest.Wait()
		got := e.run(r.ID)
		require.Equal(t, domain.RunFailed, got.State)
		require.Equal(t, "disk full", got.Error)
		require.Equal(t, "trying\n", got.Output)
	})
}

func TestHandlerErrorIsRetriedByTheDomain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.start(map[string]worker.HandlerFunc{
			"fail": func(context.Context, worker.Run) (worker.Result, error) {
				return worker.Result{}, errors.New("flaky")
			},
		})
		r := e.assign(p.w.ID(), "fail", func(r *domain.Run) { r.MaxAttempts = 2 })
		synctest.Wait()
		got := e.run(r.ID)
		require.Equal(t, domain.RunPending, got.State, "failed with attempts left: back to the leader")
		require.Equal(t, 2, got.Attempt)
		require.Len(t, got.Attempts, 1)
		require.Equal(t, domain.RunFailed, got.Attempts[0].State)
		require.Equal(t, "flaky", got.Attempts[0].Error)
	})
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	for name, err := range map[string]error{
		"Permanent":       fmt.Errorf("bad input: %w", worker.Permanent(errors.New("no such bucket"))),
		"ValidationError": &domain.ValidationError{Field: "params.url", Reason: "required"},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				p := e.start(map[string]worker.HandlerFunc{
					"fail": func(context.Context, worker.Run) (worker.Result, error) { return worker.Result{}, err },
				})
				r := e.assign(p.w.ID(), "fail", func(r *domain.Run) { r.MaxAttempts = 3 })
				synctest.Wait()
				got := e.run(r.ID)
				require.Equal(t, domain.RunFailed, got.State, "a permanent failure ends the run at once")
				require.Equal(t, 1, got.Attempt)
				require.Empty(t, got.Attempts)
				require.Equal(t, err.Error()+" (not retried: the handler reported a permanent failure)", got.Error)
			})
		})
	}
	require.Nil(t, worker.Permanent(nil))
	require.False(t, worker.IsPermanent(errors.New("flaky")))
	require.True(t, worker.IsPermanent(fmt.Errorf("wrapped: %w", worker.Permanent(errors.New("x")))))
}

func TestPanicFailsRunAndWorkerSurvives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.start(map[string]worker.HandlerFunc{
			"boom": func(ctx context.Context, run worker.Run) (worker.Result, error) {
				fmt.Fprintln(run.Output, "about to panic")
				panic("boom")
			},
			"nil": func(context.Context, worker.Run) (worker.Result, error) { panic(nil) },
			"ok":  func(context.Context, worker.Run) (worker.Result, error) { return worker.Result{}, nil },
		})
		r := e.assign(p.w.ID(), "boom")
		synctest.Wait()
		got := e.run(r.ID)
		require.Equal(t, domain.RunFailed, got.State)
		require.Equal(t, "panic: boom", got.Error)
		require.True(t, strings.HasPrefix(got.Output, "about to panic\n\npanic: boom\n\ngoroutine "), got.Output)
		require.Contains(t, got.Output, "results_test.go:", "the stack names the panicking handler")
		require.NotContains(t, got.Output, "runtime/debug.Stack", "the stack starts at the panic")

		r2 := e.assign(p.w.ID(), "nil")
		synctest.Wait()
		got2 := e.run(r2.ID)
		require.Equal(t, domain.RunFailed, got2.State)
		require.Contains(t, got2.Error, "panic: ")

		r3 := e.assign(p.w.ID(), "ok")
		synctest.Wait()
		require.Equal(t, domain.RunSucceeded, e.run(r3.ID).State, "the worker survived")
		require.NoError(t, p.stop())
	})
}

func TestTimeoutTimesOutRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		g := newGate(true)
		var deadline time.Time
		var hasDeadline bool
		p := e.start(map[string]worker.HandlerFunc{
			"slow": func(ctx context.Context, run worker.Run) (worker.Result, error) {
				deadline, hasDeadline = ctx.Deadline()
				return g.handle(ctx, run)
			},
		})
		start := time.Now()
		r := e.assign(p.w.ID(), "slow", func(r *domain.Run) { r.Timeout = domain.Duration(2 * time.Second) })
		synctest.Wait()
		require.True(t, hasDeadline)
		require.Equal(t, start.Add(2*time.Second), deadline)
		require.Equal(t, domain.RunRunning, e.run(r.ID).State)

		time.Sleep(2 * time.Second)
		synctest.Wait()
		got := e.run(r.ID)
		require.Equal(t, domain.RunTimedOut, got.State)
		require.Equal(t, "timed out after 2s: context deadline exceeded", got.Error)
		require.Equal(t, 2*time.Second, got.FinishedAt.Sub(got.StartedAt))
		require.ErrorIs(t, g.cause(r.ID), worker.ErrRunTimedOut)
		require.Contains(t, got.Output, "started "+r.ID)
	})
}

func TestUnknownHandlerFailsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.start(map[string]worker.HandlerFunc{
			"echo": func(context.Context, worker.Run) (worker.Result, error) { return worker.Result{}, nil },
		})
		r := e.assign(p.w.ID(), "nope")
		synctest.Wait()
		got := e.run(r.ID)
		require.Equal(t, domain.RunFailed, got.State)
		require.Equal(t, fmt.Sprintf("no handler %q on worker %s", "nope", p.w.ID()), got.Error)
	})
}

func TestOutputFlushedWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		g := newGate(true)
		p := e.start(map[string]worker.HandlerFunc{
			"chatty": func(ctx context.Context, run worker.Run) (worker.Result, error) {
				for i := range 30 { // a line every 100ms for 3s
					fmt.Fprintf(run.Output, "line %d\n", i)
					time.Sleep(100 * time.Millisecond)
				}
				return g.handle(ctx, run)
			},
		})
		before := e.runs.updates.Load()
		r := e.assign(p.w.ID(), "chatty")
		time.Sleep(1500 * time.Millisecond)
		got := e.run(r.ID)
		require.Equal(t, domain.RunRunning, got.State)
		require.True(t, strings.HasPrefix(got.Output, "line 0\n"), got.Output)
		require.NotContains(t, got.Output, "line 14")

		time.Sleep(5 * time.Second)
		synctest.Wait()
		close(g.release)
		synctest.Wait()
		got = e.run(r.ID)
		require.Equal(t, domain.RunSucceeded, got.State)
		var want strings.Builder
		for i := range 30 {
			fmt.Fprintf(&want, "line %d\n", i)
		}
		want.WriteString("started " + r.ID + "\nreleased " + r.ID + "\ndone")
		require.Equal(t, want.String(), got.Output)
		// Start, a flush a second while there is something new (at 1, 2,
		// 3 and perhaps 4 s), Finish; not one write per line.
		require.LessOrEqual(t, e.runs.updates.Load()-before, int64(6), "output flushed at most once a second")
	})
}

func TestOutputBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.start(map[string]worker.HandlerFunc{
			"flood": func(ctx context.Context, run worker.Run) (worker.Result, error) {
				for range 1000 {
					fmt.Fprint(run.Output, "0123456789")
				}
				time.Sleep(1500 * time.Millisecond) // one flush
				for range 1000 {
					fmt.Fprint(run.Output, "abcdefghij")
				}
				fmt.Fprint(run.Output, "€END")
				return worker.Result{}, nil
			},
		}, func(c *worker.Config) { c.MaxOutput = 100 })
		r := e.assign(p.w.ID(), "flood")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		got := e.run(r.ID)
		require.Equal(t, domain.RunSucceeded, got.State)
		require.LessOrEqual(t, len(got.Output), 100)
		require.True(t, strings.HasSuffix(got.Output, "abcdefghij€END"), got.Output)
	})
}

func TestResultOutputAndParamsRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.start(map[string]worker.HandlerFunc{
			"sum": func(ctx context.Context, run worker.Run) (worker.Result, error) {
				var in struct{ N int }
				if err := json.Unmarshal(run.Params, &in); err != nil {
					return worker.Result{}, err
				}
				return worker.Result{Output: fmt.Sprintf("n=%d", in.N)}, nil
			},
		})
		r := e.assign(p.w.ID(), "sum")
		synctest.Wait()
		require.Equal(t, fmt.Sprintf("n=%d", e.n), e.run(r.ID).Output)
	})
}

func TestWritesChainFromTheWatchedVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.start(map[string]worker.HandlerFunc{
			"chatty": func(ctx context.Context, run worker.Run) (worker.Result, error) {
				fmt.Fprintln(run.Output, "working")
				time.Sleep(worker.FlushInterval + time.Millisecond) // one flush
				return worker.Result{}, nil
			},
		})
		before := e.runs.updates.Load()
		r := e.assign(p.w.ID(), "chatty")
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Equal(t, domain.RunSucceeded, e.run(r.ID).State)

		// Start, the flush and the result each write from the version of
		// the write before, the first from the watch event's: with etcd,
		// one Txn each and no read.
		calls := e.runs.writesAt()
		require.Len(t, calls, 3)
		require.EqualValues(t, 3, e.runs.updates.Load()-before, "no other write")
		require.Equal(t, r.ID, calls[0].from.Key)
		require.Positive(t, calls[0].from.Revision, "the first write starts from the assignment's version")
		require.Less(t, calls[0].from.Revision, calls[0].to.Revision)
		require.Equal(t, []domain.RunState{domain.RunRunning, domain.RunRunning, domain.RunSucceeded},
			[]domain.RunState{calls[0].state, calls[1].state, calls[2].state})
		for i := 1; i < len(calls); i++ {
			require.False(t, calls[i].from.IsZero())
			require.Equal(t, calls[i-1].to, calls[i].from, "write %d starts from write %d's version", i, i-1)
		}
	})
}
