// Package worker is the runtime of a Pink worker: the core of the Go SDK.
//
// A Worker belongs to one job group. It registers itself in the group under
// a lease, advertising its handler names, labels and capacity; receives the
// runs the leader assigns to it; executes each with the HandlerFunc
// registered under the run's handler name; and reports the result. A program
// embeds it like this:
//
//	w, err := worker.New(worker.Config{Group: "billing", Registry: store, Runs: store})
//	if err != nil { ... }
//	w.Handle("send-invoices", func(ctx context.Context, run worker.Run) (worker.Result, error) {
//		fmt.Fprintf(run.Output, "shard %d of %d\n", run.Shard, run.Shards)
//		return worker.Result{}, sendInvoices(ctx, run.Params)
//	})
//	err = w.Run(ctx) // until ctx is cancelled; then drains and deregisters
//
// # Identity
//
// A worker's ID is generated when it is made (a prefix derived from the
// host name and a random suffix), so two workers on one host are two
// workers; the address of the host plays no part.
//
// # Receiving runs
//
// The worker lists the runs assigned to it (RunStore.ListAssigned) and
// watches for changes from the listing's revision (WatchAssigned). When a
// watch fails, for example with domain.ErrCompacted, it lists again and
// watches from the new revision. It remembers every (run ID, attempt) it
// has taken, so a run is never executed twice for one attempt and none is
// missed across a re-listing. Each run is marked running with
// domain.Run.Start, fenced by the worker ID and the attempt number; a run
// that is no longer this worker's is dropped. At most Config.Capacity
// handlers run at once; runs beyond that wait in a local queue (the leader
// respects capacity, so the queue is rarely used).
//
// # The handler's context
//
// A handler's context carries the run's timeout as a deadline and ends
// early when the run is cancelled, taken away from the worker (reassigned,
// retried or finished elsewhere), when the worker loses its registration,
// or when it shuts down past its drain timeout. context.Cause tells which:
// ErrRunTimedOut, ErrRunCancelled, ErrRunTakenAway, ErrLeaseLost or
// ErrShuttingDown. It carries the values of the context given to Run. The
// deadline runs on the runtime's clock, like every context deadline;
// Config.Clock dates the records and paces output flushes and retries.
//
// # Results
//
// A handler that returns nil succeeds; one that returns an error fails
// with its message, and the job's retry policy decides whether another
// attempt follows, unless the error is permanent (Permanent, or a
// domain.ErrInvalid such as the built-in handlers' bad params): the run
// then fails at once; one whose deadline passed times out; one that panics
// fails with "panic: <value>" and the stack in its output, and the worker
// carries on. A run whose handler the worker lacks fails with a message
// saying so. A cancelled run is not reported: it is already cancelled.
// Every report goes through domain.Run.Finish in RunStore.UpdateRunAt and
// is therefore fenced by the attempt: a result from an attempt that is no
// longer current is rejected (and logged at info level), so results are
// accepted at most once per attempt. Transient store errors are retried.
// The start, the output flushes and the report of an attempt each write
// from the version of the run the previous write (or the watch event that
// brought the run) left: one compare-and-swap with etcd, no read, unless
// someone else changed the run meanwhile.
//
// What a handler writes to Run.Output is kept in a bounded buffer (the last
// Config.MaxOutput bytes), written to the run at most once per FlushInterval
// while it runs, and the rest with the result, followed by Result.Output.
//
// # Losing the registration
//
// If the lease ends while the worker is not stopping (the process was
// paused past the TTL, or the store was unreachable too long), the worker
// logs it loudly, cancels its running handlers with ErrLeaseLost (the
// leader fails their runs over; the worker's own report of such a run is
// fenced like any other), registers again under the same ID, backing off
// while the store says the ID is still taken, and resumes.
//
// # Shutdown
//
// When the context given to Run is cancelled the worker stops taking new
// runs but keeps watching the ones it executes (a cancellation still
// reaches their handlers). It waits up to Config.DrainTimeout for running
// handlers, then cancels them with ErrShuttingDown and reports their runs
// failed "worker shutting down". Finally it closes its lease, which
// deregisters it at once. Runs assigned to it but not yet started are left
// to the leader, which fails them over when the registration disappears.
//
// Every goroutine the worker starts is waited for before Run returns,
// except a handler that ignores the cancellation of its context: five
// seconds after the drain timeout its run is reported without it, and five
// seconds later Run returns an error saying so rather than hang.
package worker
