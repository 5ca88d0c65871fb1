// Package gateway lets workers that cannot talk to the store (workers in
// any language, over HTTP) take part in Pink like SDK workers do: it holds
// a session per worker and does, on the worker's behalf, what the Go
// runtime in app/worker does itself.
//
// A worker registers (Gateway.Register) and gets a session: the gateway
// registers it in the WorkerRegistry under a lease of the worker's TTL
// (DefaultTTL, between MinTTL and MaxTTL) and keeps that registration while
// the worker calls in. Every call counts as a heartbeat; a worker that
// makes none for a TTL is deregistered (its lease is closed), and the
// leader then fails its runs over exactly as for an SDK worker whose lease
// expired. Deregister ends a session at once (graceful shutdown).
//
// # Receiving runs
//
// Each session has one goroutine that lists the runs assigned to its worker
// (RunStore.ListAssigned) and watches them (WatchAssigned), listing again
// after a watch failure, so the session always has the store's view of
// them. Poll long-polls that view: it returns the runs assigned to the
// worker that it has not started, at once if there are some, or waits up
// to MaxWait for one. A run returned by a poll is not returned again for
// Config.RedeliverAfter unless the worker starts it meanwhile; then it is,
// so a poll answer lost on the way is not a lost run. Delivery is
// therefore at least once, and the worker must ignore an attempt (run ID
// and attempt number) it already has.
//
// # Reporting
//
// Start, Output and Finish change the run through RunStore.UpdateRun with
// domain.Run's Start, AppendOutput and Finish, fenced by the worker ID and
// the attempt: a write for an attempt that is no longer the worker's gets
// domain.ErrStaleAttempt (or domain.ErrIllegalTransition for a run that is
// already final), and changes nothing. Start and Finish are idempotent: a
// worker may repeat one whose answer it did not get, and the repeat
// succeeds without writing again (Finish says so with Duplicate). Output is
// appended each time it is sent.
//
// # Cancellation
//
// Heartbeat and Poll answers list the attempts the worker started that are
// no longer its to run: cancelled by a user or the overlap policy
// (ReasonCancelled), or taken away (ReasonTakenAway: failed over, timed out
// by the leader, reassigned, deleted). The worker must stop them; a result
// it sends for one is rejected. An attempt is listed until the worker
// reports a result for it, or for a while (a few TTLs) after it was first
// listed.
//
// # Sessions live in one process
//
// A session, its lease and its goroutine belong to the Gateway that made
// it: a worker must keep talking to the same node. If the node goes away
// its sessions end, the leader fails their runs over, and the workers
// (which get ErrUnknownWorker from any other node) register again.
// Gateway.Close ends every session and waits for their goroutines.
package gateway
